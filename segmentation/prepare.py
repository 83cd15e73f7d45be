"""From a raw customer table to a clean frame of features, with a report of every change."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segmentation import cleaning, reference
from segmentation.cleaning import ID, CleaningLog
from segmentation.errors import ConfigError, DataError
from segmentation.result import CleaningReport, CleaningStep, ColumnDecision
from segmentation.schema import SchemaOverrides, TableSchema, infer_schema

if TYPE_CHECKING:
    from segmentation.forecast_holdout import Holdout

MIN_CUSTOMERS = 10
MAX_DISPLAY_COLUMNS = 15
DAYS_SUFFIX = "_days"  # a date column becomes <name>_days: days before the as-of date


@dataclass(frozen=True)
class PreparedData:
    """A cleaned table ready for the model, and what was decided on the way."""

    frame: pd.DataFrame  # customer_id + every feature, original units
    numeric: tuple[str, ...]  # model inputs
    categorical: tuple[str, ...]
    profile_features: tuple[str, ...]  # numeric features profiled per segment
    display_columns: tuple[str, ...]  # attributes kept per customer for answers
    feature_labels: dict[str, str]
    as_of: pd.Timestamp | None
    columns: tuple[ColumnDecision, ...]
    cleaning: CleaningReport
    excluded: pd.DataFrame  # customer_id, reason
    # text attributes whose mix is profiled per segment; None: every text display column
    shown_categories: tuple[str, ...] | None = None
    log_scaled: tuple[str, ...] = ()  # model inputs log-scaled even when not right-skewed
    holdout: Holdout | None = None  # an order history's purchases after the as-of date


def prepare_customers(raw: pd.DataFrame, overrides: SchemaOverrides | None = None
                      ) -> PreparedData:
    """Infer the schema, derive features and clean, never modifying `raw`."""
    overrides = overrides or SchemaOverrides()
    if len(raw) < MIN_CUSTOMERS:
        raise DataError(f"only {len(raw)} customer row(s); segmenting needs at least "
                        f"{MIN_CUSTOMERS}")
    use_reference = overrides.profile == "reference" or (
        overrides.profile is None and reference.is_reference_table(raw))
    if use_reference:
        missing = sorted(reference.REQUIRED_COLUMNS - set(raw.columns))
        if missing:
            raise ConfigError("profile = \"reference\" needs the reference table's columns; "
                              f"missing: {', '.join(missing)}")
        return _prepare_reference(raw, overrides)
    return _prepare_generic(raw, overrides)


def _start(raw: pd.DataFrame, schema: TableSchema, log: CleaningLog) -> pd.DataFrame:
    # Shallow: every step after this returns a new frame and never writes into a column, so
    # raw stays untouched without a deep copy of the whole table (0.4 s a million rows).
    frame = raw.copy(deep=False)
    if ID in frame.columns:
        if schema.id_column != ID:
            raise ConfigError(f"column {ID} is reserved for the customer id: make it the id "
                              f"(id = \"{ID}\" in the schema file) or rename it")
        frame = frame.drop(columns=[ID])  # replaced by its normalised form below
    frame.insert(0, ID, cleaning.customer_ids(raw, schema.id_column, log))
    frame = cleaning.drop_missing_ids(frame, log)
    cleaning.check_unique_ids(frame, schema.id_column or "(row number)")
    return frame


def _prepare_generic(raw: pd.DataFrame, overrides: SchemaOverrides) -> PreparedData:
    schema = infer_schema(raw, overrides)
    log = CleaningLog()
    frame = _start(raw, schema, log)
    frame, date_features, as_of = _dates_to_days(frame, schema, overrides, log)
    numeric = tuple(schema.numeric) + date_features
    frame = frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").astype(float)
                            for c in numeric})
    frame = _codes_as_labels(frame, schema.categorical)
    frame = cleaning.clean_labels(frame, schema.categorical, log)
    frame = cleaning.drop_extreme_outliers(frame, numeric, log)
    frame = _drop_rows_without_values(frame, numeric, log)
    cleaning.report_missing_values(frame, numeric, log)
    labels = {c: humanize(c) for c in (*numeric, *schema.categorical)}
    display = (*numeric, *schema.categorical)[:MAX_DISPLAY_COLUMNS]
    return _finish(raw, frame, numeric, schema.categorical, numeric, display, labels, as_of,
                   schema.decisions + tuple(
                       ColumnDecision(c, "derived", "days before the as-of date")
                       for c in date_features), log)


def _prepare_reference(raw: pd.DataFrame, overrides: SchemaOverrides) -> PreparedData:
    schema = TableSchema("ID", reference.MODEL_FEATURES, reference.CATEGORICAL_COLUMNS,
                         decisions=_reference_decisions(raw))
    if overrides.id_column:
        schema = TableSchema(overrides.id_column, schema.numeric, schema.categorical,
                             decisions=schema.decisions)
    log = CleaningLog()
    frame = _start(raw, schema, log)
    enrolled = reference.enrolment_dates(frame)
    as_of = pd.Timestamp(overrides.as_of) if overrides.as_of else enrolled.max()
    if pd.isna(as_of):
        raise DataError("Dt_Customer has no dates in dd-mm-yyyy form: cannot compute ages")
    frame = reference.add_reference_features(frame, as_of, enrolled)  # parsed once
    # Carry on only what the model, profiles and answers use (and Year_Birth, for the age
    # check): each row drop below copies every column the frame still has.
    frame = frame[list(dict.fromkeys((ID, "Year_Birth", *reference.MODEL_FEATURES,
                                      *reference.CATEGORICAL_COLUMNS,
                                      *reference.PROFILE_FEATURES,
                                      *reference.DISPLAY_COLUMNS)))]
    frame = frame.assign(Income=pd.to_numeric(frame["Income"], errors="coerce").astype(float))
    frame = frame.reset_index(drop=True)  # labels are positions: rows are taken by position
    too_old = frame["Age"] > reference.MAX_AGE
    # The impossible ages are dropped from the label columns' codes alone, and from the whole
    # frame only with the outliers: each drop copies every column it is given (4 s at 10M
    # rows), and taking label texts row by row 1.4 s more.
    # Reasons for the dropped rows only: a text per row of a million costs 0.15 s.
    log.exclude_masked(frame, too_old, "Year_Birth",
                       "born " + frame.loc[too_old, "Year_Birth"].astype(str) + ": impossible age",
                       f"impossible birth year (over {reference.MAX_AGE} on "
                       f"{as_of.date().isoformat()})")
    kept = ~too_old.to_numpy()
    labels = cleaning.cleaned_labels(frame, reference.CATEGORICAL_COLUMNS, log, relabels={
        "Marital_Status": (reference.MARITAL_RELABEL, "same meaning or junk label"),
        "Education": (reference.EDUCATION_RELABEL, "second-cycle degrees are master's level")},
        rows=kept)
    # The raw label columns are replaced by the cleaned ones below: taking the rows of
    # those texts too cost 0.15 s a million customers, for nothing.
    frame = cleaning.drop_extreme_outliers(
        frame.drop(columns=list(reference.CATEGORICAL_COLUMNS)), reference.MODEL_FEATURES, log,
        rows=kept)
    # each row's position among the kept: a running count (searchsorted took 0.7 s at 10M)
    rows = (np.cumsum(kept) - 1)[frame.index.to_numpy()]
    frame = frame.assign(**{c: labels[c].categorical(frame.index, rows)
                            for c in reference.CATEGORICAL_COLUMNS})
    frame = _drop_rows_without_values(frame, reference.MODEL_FEATURES, log)
    cleaning.report_missing_values(frame, reference.MODEL_FEATURES, log)
    return _finish(raw, frame, reference.MODEL_FEATURES, (), reference.PROFILE_FEATURES,
                   reference.DISPLAY_COLUMNS, dict(reference.FEATURE_LABELS), as_of,
                   schema.decisions, log)


def _reference_decisions(raw: pd.DataFrame) -> tuple[ColumnDecision, ...]:
    return reference_decisions([str(c) for c in raw.columns],
                               lambda column: raw[column].nunique(dropna=True) <= 1)


def reference_decisions(columns: list[str], is_constant: Callable[[str], bool]
                        ) -> tuple[ColumnDecision, ...]:
    """What the reference profile does with each of ``columns``; ``is_constant`` is asked
    only about the columns it neither clusters on nor profiles."""
    used = set(reference.PROFILE_FEATURES) | set(reference.CATEGORICAL_COLUMNS)
    decisions = [ColumnDecision("ID", "id", "reference customer table: ID")]
    for column in columns:
        if column == "ID":
            continue
        if column in reference.MODEL_FEATURES:
            decisions.append(ColumnDecision(column, "numeric", "clustered on"))
        elif column in used:
            decisions.append(ColumnDecision(column, "numeric" if column not in
                                            reference.CATEGORICAL_COLUMNS else "categorical",
                                            "profiled and shown, not clustered on"))
        elif is_constant(column):
            decisions.append(ColumnDecision(column, "dropped", "constant"))
        else:
            decisions.append(ColumnDecision(column, "derived", "summed into derived features"))
    derived = ("Age", "Children", "TotalSpend", "TotalPurchases", "OnlineShare", "TenureDays",
               "CampaignsAccepted")
    decisions += [ColumnDecision(name, "derived", reference.FEATURE_LABELS[name])
                  for name in derived]
    return tuple(decisions)


def _dates_to_days(frame: pd.DataFrame, schema: TableSchema, overrides: SchemaOverrides,
                   log: CleaningLog) -> tuple[pd.DataFrame, tuple[str, ...], pd.Timestamp | None]:
    parsed = {column: (pd.to_datetime(frame[column], format=fmt, errors="coerce") if fmt
                       else pd.to_datetime(frame[column], errors="coerce"))
              for column, fmt in schema.dates.items()}
    if not parsed:
        return frame, (), pd.Timestamp(overrides.as_of) if overrides.as_of else None
    latest = max((values.max() for values in parsed.values()), default=pd.NaT)
    as_of = pd.Timestamp(overrides.as_of) if overrides.as_of else latest
    days = {}
    for column, values in parsed.items():
        unparsed = int((values.isna() & frame[column].notna()).sum())
        if unparsed:
            log.steps.append(CleaningStep(column, "imputed", unparsed,
                                          "not a date in the column's format: treated as missing"))
        days[f"{column}{DAYS_SUFFIX}"] = (
            pd.Series(np.nan, index=values.index) if pd.isna(as_of)  # no date to count from
            else (as_of - values).dt.days.astype(float))
    return frame.assign(**days), tuple(days), None if pd.isna(as_of) else as_of


def _codes_as_labels(frame: pd.DataFrame, categorical: tuple[str, ...]) -> pd.DataFrame:
    # A code column with blanks is read as floats: its labels must read 2, not 2.0.
    whole = {c: frame[c].astype("Int64") for c in categorical
             if pd.api.types.is_float_dtype(frame[c]) and (frame[c].dropna() % 1 == 0).all()}
    return frame.assign(**whole) if whole else frame


def _drop_rows_without_values(frame: pd.DataFrame, numeric: tuple[str, ...],
                              log: CleaningLog) -> pd.DataFrame:
    if not numeric:
        return frame
    empty = frame[list(numeric)].isna().all(axis=1)
    return log.drop(frame, empty, None, "no values in any feature",
                    "no values in any feature")


def _finish(raw: pd.DataFrame, frame: pd.DataFrame, numeric: tuple[str, ...],
            categorical: tuple[str, ...], profile: tuple[str, ...], display: tuple[str, ...],
            labels: dict[str, str], as_of: pd.Timestamp | None,
            decisions: tuple[ColumnDecision, ...], log: CleaningLog) -> PreparedData:
    if len(frame) < MIN_CUSTOMERS:
        raise DataError(f"only {len(frame)} usable customer row(s) after cleaning "
                        f"(of {len(raw)}); segmenting needs at least {MIN_CUSTOMERS}")
    keep = list(dict.fromkeys((ID, *numeric, *categorical, *profile, *display)))
    report = CleaningReport(len(raw), len(frame), tuple(log.steps))
    return PreparedData(frame[keep].reset_index(drop=True), tuple(numeric), tuple(categorical),
                        tuple(profile), tuple(display), labels,
                        None if as_of is None or pd.isna(as_of) else as_of, decisions, report,
                        log.excluded_frame())


def humanize(column: str) -> str:
    """A column's name as a label: days_since_visit -> Days since visit."""
    if str(column).endswith(DAYS_SUFFIX):  # derived from a date column
        return f"Days since {humanize(str(column)[:-len(DAYS_SUFFIX)]).lower()}"
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(column)).replace("_", " ").strip()
    return words[:1].upper() + words[1:]
