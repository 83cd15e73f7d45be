"""The reference profile's cleaning on Spark: the same derived features, drops and relabelling
as `prepare._prepare_reference`, as SQL column expressions and aggregates.

Labels are few: each column's distinct labels are brought to the driver, decided on with the
engine's own functions (`cleaning.plain_label`, the reference relabelling, the rare-label
rule) and applied back as a map. Medians and quartiles are Spark's exact `percentile`
(linear interpolation, as numpy): its memory grows with the distinct values of a column,
which the reference features keep small (whole numbers, shares to 4 places).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import pandas as pd
from pyspark.sql import Column, DataFrame, Row
from pyspark.sql import functions as F

from segmentation import cleaning, reference
from segmentation.cleaning import ID, CleaningLog
from segmentation.errors import ConfigError, DataError
from segmentation.prepare import MIN_CUSTOMERS, reference_decisions
from segmentation.result import CleaningReport, CleaningStep, ColumnDecision
from segmentation.schema import SchemaOverrides

ROW = "_row"  # the row's place in the source (monotonically_increasing_id): "first seen"
ENROLMENT_PATTERN = "d-M-yyyy"  # reference.ENROLMENT_FORMAT in Spark's pattern letters


@dataclass(frozen=True)
class SparkPrepared:
    """The cleaned customers (a cached Spark frame) and what was decided on the way."""

    frame: DataFrame  # customer_id, _row, every model, profile and display column
    numeric: tuple[str, ...]
    profile_features: tuple[str, ...]
    display_columns: tuple[str, ...]
    categorical_shown: tuple[str, ...]
    feature_labels: dict[str, str]
    as_of: pd.Timestamp | None
    columns: tuple[ColumnDecision, ...]
    cleaning: CleaningReport
    excluded: pd.DataFrame
    categorical: tuple[str, ...] = ()  # one-hot model inputs (none in the reference profile)


def one_row(frame: DataFrame) -> Row:
    """The single row of an aggregate over the whole frame."""
    row = frame.first()
    if row is None:  # an aggregate without groupBy always has one row
        raise DataError("Spark returned no row for an aggregate")
    return row


def is_reference(frame: DataFrame, overrides: SchemaOverrides) -> bool:
    """Whether the table is read with the reference profile, as `prepare` would decide."""
    has_columns = reference.REQUIRED_COLUMNS.issubset(frame.columns)
    return overrides.profile == "reference" or (overrides.profile is None and has_columns)


def prepare_reference(raw: DataFrame, overrides: SchemaOverrides) -> SparkPrepared:
    """`prepare.prepare_customers` for a table in the reference profile, on Spark."""
    missing = sorted(reference.REQUIRED_COLUMNS - set(raw.columns))
    if missing:
        raise ConfigError("profile = \"reference\" needs the reference table's columns; "
                          f"missing: {', '.join(missing)}")
    raw = raw.withColumn(ROW, F.monotonically_increasing_id())
    rows_in = raw.count()
    if rows_in < MIN_CUSTOMERS:
        raise DataError(f"only {rows_in} customer row(s); segmenting needs at least "
                        f"{MIN_CUSTOMERS}")
    log = CleaningLog()
    decisions = _decisions(raw)
    frame = _with_ids(raw, overrides.id_column or "ID", log)
    enrolled = F.try_to_date(F.col(reference.ENROLMENT_COLUMN).cast("string"),
                             ENROLMENT_PATTERN)
    latest = one_row(frame.select(F.max(enrolled)))[0]
    as_of = pd.Timestamp(overrides.as_of or latest or "NaT")
    if pd.isna(as_of):
        raise DataError("Dt_Customer has no dates in dd-mm-yyyy form: cannot compute ages")
    frame = _add_features(frame, as_of, enrolled).cache()
    too_old = F.coalesce(F.col("Age") > reference.MAX_AGE, F.lit(False))
    _drop(frame, too_old, "Year_Birth",
          F.concat(F.lit("born "), F.col("Year_Birth").cast("string"), F.lit(": impossible age")),
          f"impossible birth year (over {reference.MAX_AGE} on {as_of.date().isoformat()})", log)
    kept = frame.where(~too_old)
    kept = _clean_labels(kept, log)
    kept = drop_outliers(kept, reference.MODEL_FEATURES, log)
    no_values = F.lit(True)
    for column in reference.MODEL_FEATURES:
        no_values = no_values & F.col(column).isNull()
    kept = drop_where(kept, no_values, None, F.lit("no values in any feature"),
                       "no values in any feature", log)
    report_missing(kept, reference.MODEL_FEATURES, log)
    columns = list(dict.fromkeys((ID, ROW, *reference.MODEL_FEATURES,
                                  *reference.PROFILE_FEATURES, *reference.DISPLAY_COLUMNS)))
    kept = kept.select(*columns).cache()
    rows_kept = kept.count()
    frame.unpersist()
    if rows_kept < MIN_CUSTOMERS:
        raise DataError(f"only {rows_kept} usable customer row(s) after cleaning "
                        f"(of {rows_in}); segmenting needs at least {MIN_CUSTOMERS}")
    return SparkPrepared(kept, reference.MODEL_FEATURES, reference.PROFILE_FEATURES,
                         reference.DISPLAY_COLUMNS, reference.CATEGORICAL_COLUMNS,
                         dict(reference.FEATURE_LABELS), as_of, decisions,
                         CleaningReport(rows_in, rows_kept, tuple(log.steps)),
                         log.excluded_frame())


def _decisions(raw: DataFrame) -> tuple[ColumnDecision, ...]:
    columns = [c for c in raw.columns if c != ROW]
    asked = [c for c in columns if c not in reference.PROFILE_FEATURES
             and c not in reference.CATEGORICAL_COLUMNS and c != "ID"]
    # one value or none (pandas' nunique(dropna=True) <= 1): the least is the greatest
    bounds = one_row(raw.agg(*[F.struct(F.min(f"`{c}`"), F.max(f"`{c}`")).alias(c)
                               for c in asked])).asDict() if asked else {}
    return reference_decisions(columns, lambda column: bounds[column][0] == bounds[column][1])


def _with_ids(raw: DataFrame, id_column: str, log: CleaningLog) -> DataFrame:
    if ID in raw.columns and id_column != ID:
        raise ConfigError(f"column {ID} is reserved for the customer id: make it the id "
                          f"(id = \"{ID}\" in the schema file) or rename it")
    if id_column not in raw.columns:
        raise ConfigError(f"the id column {id_column} is not in the table")
    source = F.col(f"`{id_column}`")
    kind = raw.schema[id_column].dataType.typeName()
    if kind in ("double", "float"):  # whole numbers read as floats: 5524, not 5524.0
        source = F.when(source == F.floor(source), source.cast("long")).otherwise(source)
    return with_present_ids(raw, source, log, id_column)


def with_present_ids(raw: DataFrame, source: Column, log: CleaningLog,
                     id_label: str) -> DataFrame:
    """``raw`` with ``source`` as its customer id text (blank = missing): rows without one
    dropped and counted, as `cleaning.drop_missing_ids`; duplicates refused."""
    ids = F.trim(source.cast("string"))
    frame = raw.withColumn(ID, F.when(ids != "", ids))
    missing = frame.where(F.col(ID).isNull()).count()
    if missing:
        log.steps.append(CleaningStep(ID, "dropped rows", missing, "missing customer id"))
        frame = frame.where(F.col(ID).isNotNull())
    check_unique(frame, id_label)
    return frame


def check_unique(frame: DataFrame, id_label: str) -> None:
    repeated = frame.groupBy(ID).count().where(F.col("count") > 1)
    found = one_row(repeated.agg(F.sum("count"), F.count("*")))
    if not found[1]:
        return
    names = [row[0] for row in repeated.select(ID).orderBy(F.length(ID), ID).limit(10).collect()]
    shown = ", ".join(names) + (f" and {found[1] - 10} more" if found[1] > 10 else "")
    raise DataError(f"duplicate customer ids in column {id_label}: {shown} "
                    f"({found[0]} rows); each customer must appear once")


def _add_features(frame: DataFrame, as_of: pd.Timestamp, enrolled: Column) -> DataFrame:
    def total(columns: Sequence[str]) -> Column:  # pandas' sum(axis=1) skips missing values
        return sum((F.coalesce(F.col(c), F.lit(0)) for c in columns[1:]),
                   F.coalesce(F.col(columns[0]), F.lit(0)))

    purchases = total(reference.PURCHASE_COLUMNS[1:])  # deals are counted in the channels
    online = F.col("NumWebPurchases") + F.col("NumCatalogPurchases")
    share = F.when(purchases > 0, F.bround(online / purchases, 4))
    return frame.select(
        "*", (F.lit(as_of.year) - F.col("Year_Birth")).alias("Age"),
        (F.col("Kidhome") + F.col("Teenhome")).alias("Children"),
        total(reference.SPEND_COLUMNS).alias("TotalSpend"), purchases.alias("TotalPurchases"),
        F.coalesce(share, F.lit(0.0)).alias("OnlineShare"),
        F.datediff(F.lit(as_of.date()), enrolled).alias("TenureDays"),
        total(reference.CAMPAIGN_COLUMNS).alias("CampaignsAccepted"),
    ).withColumn("Income", F.col("Income").try_cast("double"))


def _drop(frame: DataFrame, mask: Column, column: str | None, reason: Column, summary: str,
          log: CleaningLog) -> None:
    """Log the customers ``mask`` drops (in source order) and why; the caller filters."""
    dropped = (frame.where(mask).orderBy(ROW).select(ID, reason.alias("reason"))
               .toArrow().to_pandas())
    if len(dropped):
        log.excluded.append(dropped.astype({ID: object, "reason": object}))
        log.steps.append(CleaningStep(column, "dropped rows", len(dropped), summary))


def drop_where(frame: DataFrame, mask: Column, column: str | None, reason: Column,
                summary: str, log: CleaningLog) -> DataFrame:
    _drop(frame, mask, column, reason, summary, log)
    return frame.where(~mask)


def label_counts(frame: DataFrame, column: str) -> pd.DataFrame:
    """Each distinct label (missing included) with its count and first row, first seen first."""
    rows = (frame.groupBy(column).agg(F.count("*").alias("n"), F.min(ROW).alias("first"))
            .orderBy("first").collect())
    return pd.DataFrame([(r[0], r[1], r[2]) for r in rows], columns=["label", "n", "first"])


def mapped(column: str, mapping: dict[str, str]) -> Column:
    if not mapping:
        return F.col(column)
    table = F.create_map(*[F.lit(v) for v in chain.from_iterable(mapping.items())])
    return F.coalesce(table[F.col(column)], F.col(column))


def _clean_labels(frame: DataFrame, log: CleaningLog) -> DataFrame:
    frame = normalise_labels(frame, reference.CATEGORICAL_COLUMNS, log)
    for column, mapping, why in (
            ("Marital_Status", reference.MARITAL_RELABEL, "same meaning or junk label"),
            ("Education", reference.EDUCATION_RELABEL, "second-cycle degrees are master's level")):
        held: dict[str, int] = dict(
            label_counts(frame, column)[["label", "n"]].itertuples(index=False))
        for old, new in mapping.items():
            if held.get(old, 0):
                log.steps.append(CleaningStep(column, "relabelled", int(held[old]),
                                              f"'{old}' → '{new}': {why}"))
        frame = frame.withColumn(column, mapped(column, dict(mapping)))
    return fold_rare_labels(frame, reference.CATEGORICAL_COLUMNS, log)


def normalise_labels(frame: DataFrame, columns: Sequence[str], log: CleaningLog) -> DataFrame:
    """`cleaning.normalise_labels` on Spark: each distinct label decided on the driver."""
    for column in columns:
        frame = frame.withColumn(column, F.col(column).cast("string"))
        counts = label_counts(frame, column).dropna(subset=["label"])
        plain = {str(label): cleaning.plain_label(str(label)) for label in counts["label"]}
        altered = counts[[plain[str(v)] != str(v).strip() for v in counts["label"]]]
        if len(altered):
            shown = ", ".join(f"{v!r} → {plain[v]!r}" for v in altered["label"][:3])
            log.steps.append(CleaningStep(column, "relabelled", int(altered["n"].sum()),
                                          f"{shown}: full-width or invisible characters"))
        frame = frame.withColumn(column, mapped(column, plain))
    return frame


def fold_rare_labels(frame: DataFrame, columns: Sequence[str], log: CleaningLog) -> DataFrame:
    """`cleaning.clean_labels`' last step on Spark: missing labels 'Unknown', rare ones 'Other'."""
    total = None
    for column in columns:
        frame = frame.withColumn(column, F.trim(F.col(column)))
        counts = label_counts(frame, column)
        total = int(counts["n"].sum()) if total is None else total
        missing = int(counts.loc[counts["label"].isna(), "n"].sum())
        if missing:
            log.steps.append(CleaningStep(column, "imputed", missing,
                                          "missing label → 'Unknown'"))
            frame = frame.withColumn(column, F.coalesce(F.col(column), F.lit("Unknown")))
            counts = label_counts(frame, column)
        # value_counts' order: most held first, the first seen first among equals
        counts = counts.sort_values(["n", "first"], ascending=[False, True], kind="stable")
        limit = min(cleaning.RARE_LABEL_MAX_COUNT, cleaning.RARE_LABEL_SHARE * total)
        rare = counts[(counts["n"] < limit) & (counts["label"] != "Other")]
        if len(rare):
            log.steps.append(CleaningStep(
                column, "relabelled", int(rare["n"].sum()),
                f"rare labels {', '.join(map(repr, rare['label'][:8]))} → 'Other'"))
            frame = frame.withColumn(column, mapped(column, dict.fromkeys(rare["label"],
                                                                           "Other")))
    return frame


def drop_outliers(frame: DataFrame, columns: Sequence[str], log: CleaningLog) -> DataFrame:
    """`cleaning.drop_extreme_outliers`: each column judged on the rows the ones before kept.

    The columns are judged together, a few aggregates for all of them, until one drops rows;
    the columns after it are judged again on the rows it kept (a Spark job per column and
    statistic cost seconds each on a small table)."""
    pending = list(columns)
    while pending:
        rules = _outlier_rules(frame, pending)
        for place, column in enumerate(pending):
            rule = rules.get(column)
            if rule is None:
                continue
            x, mask = F.col(column).cast("double"), rule
            dropped = frame.where(mask).orderBy(ROW).select(ID, x.alias("v")).toArrow().to_pandas()
            shown = ", ".join(f"{v:,.0f}" for v in dropped["v"].drop_duplicates().head(5))
            log.excluded.append(pd.DataFrame({
                ID: dropped[ID].astype(object),
                "reason": [f"{column} {v:,.0f} is an extreme outlier" for v in dropped["v"]]}))
            log.steps.append(CleaningStep(column, "dropped rows", len(dropped),
                                          f"extreme outlier ({shown}): far outside the typical "
                                          "range"))
            frame = frame.where(~mask)
            pending = pending[place + 1:]
            break
        else:
            pending = []
    return frame


def _outlier_rules(frame: DataFrame, columns: list[str]) -> dict[str, Column]:
    """The mask of extreme outliers of each of ``columns`` that has some, judged on ``frame``
    (`cleaning.extreme_outliers`)."""
    def present(column: str) -> Column:
        x = F.col(column).cast("double")
        return F.when(~F.isnan(x), x)

    stats = one_row(frame.agg(*[F.struct(
        F.approx_count_distinct(present(c)), F.min(present(c)),
        F.percentile(present(c), F.array(*map(F.lit, (0.25, 0.5, 0.75)))),
        F.percentile(F.log1p(present(c)), F.lit(0.5))).alias(c) for c in columns]))
    roughly = {c: stats[c][0] for c in columns}
    near = [c for c in columns if roughly[c] < 2 * cleaning.MIN_DISTINCT_FOR_OUTLIERS]
    if near:  # near the bound: count exactly
        exact = one_row(frame.agg(*[F.count_distinct(present(c)).alias(c) for c in near]))
        roughly |= {c: exact[c] for c in near}
    centred: dict[str, Column] = {}
    for column in columns:
        _, low, quartiles, log_median = stats[column]
        if roughly[column] < cleaning.MIN_DISTINCT_FOR_OUTLIERS:
            continue
        q1, q2, q3 = quartiles
        skewed = low >= 0 and q3 > q1 and (q3 + q1 - 2 * q2) / (q3 - q1) > 0.2
        value, median = ((F.log1p(present(column)), log_median) if skewed
                         else (present(column), q2))
        centred[column] = F.abs(value - median)
    if not centred:
        return {}
    spreads = one_row(frame.agg(*[F.struct(F.percentile(d, F.lit(0.5)), F.max(d)).alias(c)
                                  for c, d in centred.items()]))
    rules = {}
    for column, distance in centred.items():
        deviation, farthest = spreads[column]
        spread = 1.4826 * deviation
        if spread > 0 and farthest / spread > cleaning.OUTLIER_THRESHOLD:
            rules[column] = F.coalesce(distance / spread > cleaning.OUTLIER_THRESHOLD,
                                       F.lit(False))
    return rules


def report_missing(frame: DataFrame, columns: Sequence[str], log: CleaningLog) -> None:
    counts = one_row(frame.agg(*[
        F.count_if(F.col(c).isNull() | F.isnan(F.col(c).cast("double"))).alias(c)
        for c in columns]))
    for column in columns:
        if counts[column]:
            median = one_row(frame.agg(F.percentile(F.col(column), F.lit(0.5))))[0]
            shown = f"{median:,.0f}" if abs(median) >= 100 else f"{median:.3g}"
            log.steps.append(CleaningStep(
                column, "imputed", counts[column],
                f"missing: the median ({shown}) is used for clustering; "
                "shown as unknown in answers"))
