"""Decide what each column of an unseen customer table is: id, feature, category, date or noise."""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import pandas as pd

from segmentation.errors import ConfigError, DataError
from segmentation.result import ColumnDecision

# the schema file's types, where the engine has always imported them from
from segmentation.schema_file import SchemaOverrides as SchemaOverrides
from segmentation.schema_file import TableKind as TableKind
from segmentation.schema_file import load_schema_file as load_schema_file

DATE_FORMATS = (
    "%Y-%m-%d", "%d-%m-%Y", "%m-%d-%Y", "%d/%m/%Y", "%m/%d/%Y", "%Y/%m/%d", "%d.%m.%Y",
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%d-%m-%Y %H:%M", "%Y%m%d",
)
_ID_NAME = re.compile(r"^(id|.*[_\s-]id|.*Id|.*ID|customer|client|user|account|member)"
                      r"([_\s-]?(no|num|number|key|code))?$", re.IGNORECASE)
_MAX_CATEGORIES = 30
# A number column is a code (a category, never "high" or "low") when its name ends in one of
# these words and its values are a few whole numbers: Channel 1/2, Region 1/2/3, store_no.
_CODE_WORDS = frozenset({
    "channel", "region", "store", "branch", "shop", "outlet", "postcode", "zip", "zipcode",
    "postal", "tier", "type", "status", "segment", "category", "class", "group", "code",
    "country", "state", "area", "zone", "district", "territory", "department", "division",
    "gender", "sex", "cluster", "kind", "source",
})
# ... or in a number word after a thing's name: store_no, BranchNumber, store_id.
_NUMBER_WORDS = frozenset({"id", "no", "nr", "num", "number", "key"})
# A first word that makes the name a quantity: NumStores, number_of_branches, count_region.
_QUANTITY_WORDS = frozenset({"num", "number", "n", "count", "total", "sum", "avg", "mean",
                             "share", "pct", "percent"})
# Codes with more values than a category can have are still not quantities.
_STRONG_CODE_WORDS = frozenset({"postcode", "zip", "zipcode", "postal", "code"}) | _NUMBER_WORDS
_MAX_MISSING_SHARE = 0.5
_SAMPLE_ROWS = 500


@dataclass(frozen=True)
class TableSchema:
    """The roles inferred (or configured) for a table's columns."""

    id_column: str | None
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    dates: dict[str, str] = field(default_factory=dict)  # column -> strptime format or ""
    decisions: tuple[ColumnDecision, ...] = ()


class ValueKind(StrEnum):
    """How a column's values are stored: what inference reads off its type."""

    DATES = "dates"
    FLAGS = "flags"  # booleans
    WHOLE = "whole"  # integers
    REAL = "real"  # floats (and other numbers)
    OTHER = "other"  # text and anything else

    @property
    def numeric(self) -> bool:
        return self in (ValueKind.FLAGS, ValueKind.WHOLE, ValueKind.REAL)


class ColumnFacts(Protocol):
    """What inference asks of one column: answered by pandas here, by Spark aggregates on a
    cluster (`spark_generic`), so that both engines give a table the same roles."""

    @property
    def name(self) -> Hashable: ...
    @property
    def kind(self) -> ValueKind: ...
    def rows(self) -> int: ...
    def missing(self) -> int: ...
    def distinct(self) -> int:
        """Distinct present values."""
    def unique(self) -> bool:
        """No value twice, a missing value counting as one (pandas' is_unique)."""
    def increasing(self) -> bool: ...
    def whole(self) -> bool:
        """Every present value is a whole number."""
    def smallest(self, n: int) -> list[Any]:
        """The ``n`` smallest distinct present values, in order."""
    def head(self, n: int) -> pd.Series:
        """The first ``n`` present values, in row order."""


class SeriesFacts:
    """`ColumnFacts` of a pandas column: each answer is the pandas call inference made."""

    def __init__(self, series: pd.Series, name: Hashable) -> None:
        self.series, self.name = series, name

    @property
    def kind(self) -> ValueKind:
        dtype = self.series.dtype
        if pd.api.types.is_datetime64_any_dtype(dtype):
            return ValueKind.DATES
        if pd.api.types.is_bool_dtype(dtype):
            return ValueKind.FLAGS
        if pd.api.types.is_integer_dtype(dtype):
            return ValueKind.WHOLE
        return ValueKind.REAL if pd.api.types.is_numeric_dtype(dtype) else ValueKind.OTHER

    def rows(self) -> int:
        return len(self.series)

    def missing(self) -> int:
        return int(self.series.isna().sum())

    def distinct(self) -> int:
        return int(self.series.nunique())

    def unique(self) -> bool:
        return bool(self.series.is_unique)

    def increasing(self) -> bool:
        return bool(self.series.is_monotonic_increasing)

    def whole(self) -> bool:
        return bool((self.series.dropna() % 1 == 0).all())

    def smallest(self, n: int) -> list[Any]:
        return sorted(self.series.dropna().unique())[:n]

    def head(self, n: int) -> pd.Series:
        return self.series.dropna().head(n)


def infer_schema(frame: pd.DataFrame, overrides: SchemaOverrides | None = None) -> TableSchema:
    """Give every column a role, honouring overrides, and say why for each."""
    return infer_roles([SeriesFacts(frame[column], column) for column in frame.columns],
                       overrides)


def infer_roles(columns: Sequence[ColumnFacts],
                overrides: SchemaOverrides | None = None) -> TableSchema:
    """`infer_schema` from what each column's facts say, in the table's column order."""
    overrides = overrides or SchemaOverrides()
    _check_override_columns([c.name for c in columns], overrides)
    decisions: list[ColumnDecision] = []
    id_column = _choose_id_column(columns, overrides, decisions)
    numeric: list[str] = []
    categorical: list[str] = []
    dates: dict[str, str] = {}
    for facts in columns:
        column = facts.name
        if column == id_column:
            continue
        role, reason, date_format = _classify(facts, overrides)
        decisions.append(ColumnDecision(column, role, reason))  # type: ignore[arg-type]
        if role == "numeric":
            numeric.append(column)  # type: ignore[arg-type]
        elif role == "categorical":
            categorical.append(column)  # type: ignore[arg-type]
        elif role == "date":
            dates[column] = date_format  # type: ignore[index]
    if not numeric and not categorical and not dates:
        raise DataError("no usable columns: every column is an id, constant, mostly empty or "
                        "free text (" + "; ".join(f"{d.column}: {d.reason}" for d in decisions
                                                  if d.role == "dropped")[:400] + ")")
    return TableSchema(id_column, tuple(numeric), tuple(categorical), dates, tuple(decisions))


def _check_override_columns(names: list[Hashable], overrides: SchemaOverrides) -> None:
    named = [overrides.id_column] if overrides.id_column else []
    for group in (overrides.features, overrides.categoricals, overrides.dates, overrides.drop):
        named.extend(group or ())
    missing = [name for name in named if name not in names]
    if missing:
        raise ConfigError(f"schema names columns the table does not have: {', '.join(missing)}"
                          f" (columns: {', '.join(map(str, names[:40]))})")


def _choose_id_column(columns: Sequence[ColumnFacts], overrides: SchemaOverrides,
                      decisions: list[ColumnDecision]) -> str | None:
    if overrides.id_column:
        decisions.append(ColumnDecision(overrides.id_column, "id", "set in the schema file"))
        return overrides.id_column
    for facts in sorted(columns, key=lambda c: _id_name_rank(c.name)):
        if _id_name_rank(facts.name) < 3 and _looks_like_identifier(facts):
            decisions.append(ColumnDecision(facts.name, "id",  # type: ignore[arg-type]
                                            "named like an id and unique"))
            return facts.name  # type: ignore[return-value]
    plain_ids = [c.name for c in columns if _id_name_rank(c.name) == 0]
    if plain_ids:  # an "id" column with repeats is still the id: cleaning reports the repeats
        decisions.append(ColumnDecision(plain_ids[0], "id",  # type: ignore[arg-type]
                                        "named as the customer id"))
        return plain_ids[0]  # type: ignore[return-value]
    decisions.append(ColumnDecision("(row number)", "id",
                                    "no unique id-like column: customers numbered by row"))
    return None


def looks_like_id_name(column: str) -> bool:
    """Whether a column's name says it holds customer ids (id, customer_id, member no ...)."""
    return _id_name_rank(column) < 3


def _id_name_rank(column: Hashable) -> int:
    name = str(column).strip().lower()
    if name in ("id", "customer_id", "customerid", "customer id", "client_id", "user_id",
                "account code", "account_code", "customer code"):
        return 0
    if _ID_NAME.match(str(column).strip()):
        return 1
    return 3


def _looks_like_identifier(facts: ColumnFacts) -> bool:
    if facts.missing() or facts.kind == ValueKind.REAL:
        return False
    return facts.unique()


def _classify(facts: ColumnFacts, overrides: SchemaOverrides) -> tuple[str, str, str]:
    forced = _forced_role(facts, overrides)
    if forced is not None:
        return forced
    missing = facts.missing()
    if missing == facts.rows():
        return "dropped", "empty", ""
    if missing / facts.rows() > _MAX_MISSING_SHARE:
        return "dropped", f"{missing / facts.rows():.0%} missing", ""
    if facts.distinct() <= 1:
        return "dropped", f"constant ({facts.head(1).iloc[0]} in every row)", ""
    if facts.kind == ValueKind.DATES:
        return "date", "date values: turned into days before the as-of date", ""
    if facts.kind == ValueKind.FLAGS:
        return "numeric", "numeric", ""
    if facts.kind.numeric:
        return _classify_numeric(facts)
    return _classify_text(facts)


def _forced_role(facts: ColumnFacts, overrides: SchemaOverrides) -> tuple[str, str, str] | None:
    column = facts.name
    if column in overrides.drop:
        return "dropped", "dropped in the schema file", ""
    if overrides.dates and column in overrides.dates:
        fmt = "" if facts.kind == ValueKind.DATES else date_format_of(facts.head(_SAMPLE_ROWS))
        if fmt is None:
            raise ConfigError(f"column {column} is listed as a date but its values are not "
                              f"dates in a known format (e.g. '{facts.head(1).iloc[0]}')")
        return "date", "date in the schema file", fmt
    if overrides.categoricals and column in overrides.categoricals:
        return "categorical", "categorical in the schema file", ""
    if overrides.features is not None:
        if column in overrides.features:
            if not facts.kind.numeric:
                raise ConfigError(f"feature {column} in the schema file is not numeric")
            return "numeric", "feature in the schema file", ""
        if overrides.categoricals is not None or overrides.dates is not None:
            return "dropped", "not listed in the schema file", ""
    return None


def _classify_numeric(facts: ColumnFacts) -> tuple[str, str, str]:
    if _id_name_rank(facts.name) < 3 and facts.unique():
        return "dropped", "a second identifier (unique per row)", ""
    if facts.kind == ValueKind.WHOLE and facts.rows() > 20 and facts.unique() and \
            facts.increasing():
        return "dropped", "looks like a row number (unique, increasing)", ""
    code = _classify_code(facts)
    if code is not None:
        return code
    return "numeric", "numeric", ""


def _classify_code(facts: ColumnFacts) -> tuple[str, str, str] | None:
    """A column named like a code (channel, region, store no ...) holding whole numbers."""
    words = _name_words(facts.name)
    head = words[-1] if words else ""
    if not words or words[0] in _QUANTITY_WORDS:
        return None
    if head not in _CODE_WORDS and not (head in _NUMBER_WORDS and len(words) > 1):
        return None
    if not facts.whole():
        return None
    distinct = facts.distinct()
    if distinct <= _MAX_CATEGORIES and distinct < max(0.5 * (facts.rows() - facts.missing()), 2):
        first = "/".join(str(int(v)) for v in facts.smallest(5))
        shown = first if distinct <= 5 else f"{first}/…, {distinct} values"
        return "categorical", f"numbers used as codes ({shown})", ""
    if head in _STRONG_CODE_WORDS:
        return "dropped", (f"numbers used as codes with {distinct:,} distinct values: "
                           "too many to use as categories"), ""
    return None


def _name_words(column: Hashable) -> list[str]:
    # lower case, trailing numbers left out: AcceptedCmp1 -> accepted, cmp
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(column))
    words = [w.lower() for w in re.split(r"[^A-Za-z0-9]+|(?<=[A-Za-z])(?=[0-9])", spaced) if w]
    while words and words[-1].isdigit():
        words.pop()
    return words


def _classify_text(facts: ColumnFacts) -> tuple[str, str, str]:
    sample = facts.head(_SAMPLE_ROWS)
    date_format = date_format_of(sample)
    if date_format is not None:
        return "date", f"dates ({date_format}): turned into days before the as-of date", \
            date_format
    numeric = pd.to_numeric(sample, errors="coerce")
    if numeric.notna().mean() > 0.95:
        return "dropped", "numbers stored as text with stray values; clean or declare it", ""
    distinct = facts.distinct()
    if distinct <= _MAX_CATEGORIES and distinct < max(0.5 * (facts.rows() - facts.missing()), 2):
        return "categorical", f"text with {distinct:,} distinct values", ""
    return "dropped", f"free text or high cardinality: {distinct:,} distinct values", ""


def detect_date_format(series: pd.Series) -> str | None:
    """The first known date format that parses (nearly) every sampled value, else None."""
    return date_format_of(series.dropna().head(_SAMPLE_ROWS))


def date_format_of(values: pd.Series) -> str | None:
    """The first known date format that parses (nearly) every one of ``values`` (present)."""
    sample = values.astype(str).str.strip()
    if sample.empty or not sample.str.contains(r"\d").all():
        return None
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().mean() >= 0.98:
            return fmt
    return None
    for fmt in DATE_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().mean() >= 0.98:
            return fmt
    return None
