"""Any customer table's preparation on Spark: `prepare._prepare_generic`'s roles, ids, dates,
labels and drops, as SQL column expressions and aggregates.

The roles come from `schema.infer_roles`, the local engine's own inference, asked of facts that
Spark aggregates compute (`SparkFacts`: counts, exact distinct counts, the first values in row
order), so both engines give a table's columns the same roles from the same types (Parquet
keeps them; a CSV is typed by Spark's own inference). Order histories (one row per purchase)
are recognised on the table's first `orders.REPEAT_SAMPLE_ROWS` rows with the local detector
and refused: their per-customer aggregation and forecast run on the local engine only.
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import reduce
from typing import Any

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from segmentation.cleaning import ID, CleaningLog
from segmentation.errors import ConfigError, DataError
from segmentation.order_profile import order_columns_for
from segmentation.orders import REPEAT_SAMPLE_ROWS
from segmentation.prepare import DAYS_SUFFIX, MAX_DISPLAY_COLUMNS, MIN_CUSTOMERS, humanize
from segmentation.result import CleaningReport, CleaningStep, ColumnDecision
from segmentation.schema import SchemaOverrides, TableSchema, ValueKind, infer_roles
from segmentation.spark_prepare import (
    ROW,
    SparkPrepared,
    check_unique,
    drop_outliers,
    drop_where,
    fold_rare_labels,
    normalise_labels,
    one_row,
    report_missing,
    with_present_ids,
)

# schema.DATE_FORMATS in Spark's pattern letters (one letter: one or two digits, as strptime)
SPARK_DATE_PATTERNS = {
    "%Y-%m-%d": "yyyy-M-d", "%d-%m-%Y": "d-M-yyyy", "%m-%d-%Y": "M-d-yyyy",
    "%d/%m/%Y": "d/M/yyyy", "%m/%d/%Y": "M/d/yyyy", "%Y/%m/%d": "yyyy/M/d",
    "%d.%m.%Y": "d.M.yyyy", "%Y-%m-%d %H:%M:%S": "yyyy-M-d H:m:s",
    "%Y-%m-%dT%H:%M:%S": "yyyy-M-d'T'H:m:s", "%d-%m-%Y %H:%M": "d-M-yyyy H:m",
    "%Y%m%d": "yyyyMMdd",
}
_CLOCK = "HH:mm:ss.SSSSSS"  # a time of day as text that sorts as the time does
_ROW_BITS = 33  # monotonically_increasing_id: the partition above bit 33, the row below
_KINDS: dict[type, ValueKind] = {
    T.BooleanType: ValueKind.FLAGS, T.ByteType: ValueKind.WHOLE, T.ShortType: ValueKind.WHOLE,
    T.IntegerType: ValueKind.WHOLE, T.LongType: ValueKind.WHOLE, T.FloatType: ValueKind.REAL,
    T.DoubleType: ValueKind.REAL, T.DecimalType: ValueKind.REAL, T.DateType: ValueKind.DATES,
    T.TimestampType: ValueKind.DATES, T.TimestampNTZType: ValueKind.DATES,
}


class SparkFacts:
    """`schema.ColumnFacts` of a Spark column: counts from one aggregate over every column,
    the rest asked of Spark when inference needs it."""

    def __init__(self, frame: DataFrame, name: str, rows: int, counts: Any,
                 first_rows: pd.DataFrame) -> None:
        self.frame, self.name, self._rows, self._first = frame, name, rows, first_rows
        self.kind = _kind(frame, name)
        self._present, self._distinct, self._fractions = counts
        self._heads: dict[int, pd.Series] = {}

    def rows(self) -> int:
        return self._rows

    def missing(self) -> int:
        return self._rows - int(self._present)

    def distinct(self) -> int:
        return int(self._distinct)

    def unique(self) -> bool:
        return self.missing() <= 1 and self.distinct() + self.missing() == self._rows

    def increasing(self) -> bool:
        value = _column(self.name)
        before = F.lag(value).over(Window.orderBy(ROW))
        steps = self.frame.select(value.alias("v"), before.alias("b"))
        return not one_row(steps.agg(F.count_if(F.col("v") < F.col("b"))))[0]

    def whole(self) -> bool:
        return not self._fractions

    def smallest(self, n: int) -> list[Any]:
        value = _column(self.name)
        return [r[0] for r in self.frame.where(value.isNotNull()).select(value).distinct()
                .orderBy(value).limit(n).collect()]

    def head(self, n: int) -> pd.Series:
        known = self._first[self.name].dropna()
        if len(known) >= n or len(self._first) == self._rows:  # the table's first rows say
            return known.head(n)
        if n not in self._heads:
            value = _column(self.name)
            self._heads[n] = (self.frame.where(_present(value, self.kind)).orderBy(ROW)
                              .select(value).limit(n).toArrow().to_pandas().iloc[:, 0])
        return self._heads[n]


def _column(name: Hashable) -> Column:
    return F.col(f"`{name}`")


def _kind(frame: DataFrame, name: str) -> ValueKind:
    spark_type = frame.schema[name].dataType
    return next((kind for t, kind in _KINDS.items() if isinstance(spark_type, t)),
                ValueKind.OTHER)


def _present(value: Column, kind: ValueKind) -> Column:
    """Present as pandas sees it: not null, and for floats not NaN."""
    return value.isNotNull() & ~F.isnan(value) if kind == ValueKind.REAL else value.isNotNull()


def column_facts(frame: DataFrame, rows: int, first_rows: pd.DataFrame) -> list[SparkFacts]:
    """Every column's facts: present and distinct counts and whether all are whole numbers,
    in one aggregate; its first values from ``first_rows``, the table's first rows."""
    names = [c for c in frame.columns if c != ROW]
    aggregates = []
    for name in names:
        value = _column(name)
        kind = _kind(frame, name)
        present = _present(value, kind)
        fractions = (F.count_if(present & (value % 1 != 0)) if kind == ValueKind.REAL
                     else F.lit(0))
        aggregates.append(F.struct(F.count_if(present), F.count_distinct(F.when(present, value)),
                                   fractions).alias(name))
    counts = one_row(frame.agg(*aggregates))
    return [SparkFacts(frame, name, rows, tuple(counts[name]), first_rows) for name in names]


def prepare_generic(raw: DataFrame, overrides: SchemaOverrides) -> SparkPrepared:
    """`prepare.prepare_customers` for a table outside the reference profile, on Spark."""
    raw = raw.withColumn(ROW, F.monotonically_increasing_id())
    rows_in = raw.count()
    if rows_in < MIN_CUSTOMERS:
        raise DataError(f"only {rows_in} customer row(s); segmenting needs at least "
                        f"{MIN_CUSTOMERS}")
    first_rows = raw.orderBy(ROW).limit(REPEAT_SAMPLE_ROWS).drop(ROW).toArrow().to_pandas()
    refuse_order_history(first_rows, overrides)
    facts = {f.name: f for f in column_facts(raw, rows_in, first_rows)}
    schema = infer_roles(list(facts.values()), overrides)
    log = CleaningLog()
    frame = _with_ids(raw, schema, facts, rows_in, log)
    frame, date_features, as_of = _dates_to_days(frame, schema, overrides, log)
    numeric = schema.numeric + date_features
    categorical = schema.categorical
    frame = frame.select(
        ID, ROW, *[_number(_column(c)).alias(c) for c in numeric],
        *[_label(facts[c]).alias(c) for c in categorical if c not in numeric]).cache()
    frame = normalise_labels(frame, categorical, log)
    frame = fold_rare_labels(frame, categorical, log)
    frame = drop_outliers(frame, numeric, log)
    if numeric:
        no_values = reduce(lambda a, b: a & b, [F.col(c).isNull() for c in numeric])
        frame = drop_where(frame, no_values, None, F.lit("no values in any feature"),
                           "no values in any feature", log)
    report_missing(frame, numeric, log)
    kept = frame.select(*dict.fromkeys((ID, ROW, *numeric, *categorical))).cache()
    rows_kept = kept.count()
    if rows_kept < MIN_CUSTOMERS:
        raise DataError(f"only {rows_kept} usable customer row(s) after cleaning "
                        f"(of {rows_in}); segmenting needs at least {MIN_CUSTOMERS}")
    display = (*numeric, *categorical)[:MAX_DISPLAY_COLUMNS]
    decisions = schema.decisions + tuple(
        ColumnDecision(c, "derived", "days before the as-of date") for c in date_features)
    return SparkPrepared(
        kept, numeric, numeric, display, tuple(c for c in display if c in categorical),
        {c: humanize(c) for c in (*numeric, *categorical)}, as_of, decisions,
        CleaningReport(rows_in, rows_kept, tuple(log.steps)), log.excluded_frame(),
        categorical=categorical)


def refuse_order_history(first_rows: pd.DataFrame, overrides: SchemaOverrides) -> None:
    """ConfigError when the table is an order history, as the local detector reads its
    ``first_rows`` (or the schema file says)."""
    columns = order_columns_for(first_rows, overrides)
    if columns is not None:
        raise ConfigError(f"this table is an order history ({columns.describe()}): the Spark "
                          "engine segments tables of one row per customer; segment it with "
                          "the local engine (--engine local)")


def _with_ids(raw: DataFrame, schema: TableSchema, facts: dict[str, SparkFacts], rows: int,
              log: CleaningLog) -> DataFrame:
    """`cleaning.customer_ids`, `drop_missing_ids` and `check_unique_ids`."""
    id_column = schema.id_column
    if ID in raw.columns and id_column != ID:
        raise ConfigError(f"column {ID} is reserved for the customer id: make it the id "
                          f"(id = \"{ID}\" in the schema file) or rename it")
    if id_column is None:
        log.steps.append(CleaningStep(None, "numbered rows", rows,
                                      "no id column: customers are numbered by row from 1"))
        frame = raw.withColumn(ID, row_numbers(raw))
        check_unique(frame, "(row number)")
        return frame
    source = _column(id_column)
    if facts[id_column].kind == ValueKind.REAL:
        source = F.nanvl(source, F.lit(None))
        if facts[id_column].whole():  # whole numbers read as floats: 5524, not 5524.0
            source = source.cast("long")
    return with_present_ids(raw, source, log, id_column)


def row_numbers(frame: DataFrame) -> Column:
    """1, 2, ... in row order: each partition's first row number plus the row's place in it."""
    part = F.shiftright(F.col(ROW), _ROW_BITS)
    sizes = sorted((r[0], r[1]) for r in frame.groupBy(part.alias("p")).count().collect())
    starts, total = [], 0
    for partition, size in sizes:
        starts += [F.lit(partition), F.lit(total)]
        total += size
    place = F.col(ROW).bitwiseAND((1 << _ROW_BITS) - 1)
    return (F.create_map(*starts)[part] + place + 1).cast("string")


def _dates_to_days(frame: DataFrame, schema: TableSchema, overrides: SchemaOverrides,
                   log: CleaningLog) -> tuple[DataFrame, tuple[str, ...], pd.Timestamp | None]:
    """`prepare._dates_to_days`: each date column as whole days before the as-of date."""
    given = pd.Timestamp(overrides.as_of) if overrides.as_of else None
    if not schema.dates:
        return frame, (), given
    parsed = {column: _parsed(column, fmt) for column, fmt in schema.dates.items()}
    found = one_row(frame.agg(*[
        F.struct(F.date_format(F.max(value), "yyyy-MM-dd HH:mm:ss.SSSSSS"),
                 F.count_if(value.isNull() & _column(column).isNotNull())).alias(column)
        for column, value in parsed.items()]))
    latest = max((pd.Timestamp(found[c][0]) for c in parsed if found[c][0] is not None),
                 default=pd.NaT)
    as_of = given if given is not None else None if pd.isna(latest) else latest
    days = {}
    for column, value in parsed.items():
        if found[column][1]:
            log.steps.append(CleaningStep(column, "imputed", found[column][1],
                                          "not a date in the column's format: treated as missing"))
        days[f"{column}{DAYS_SUFFIX}"] = _days_before(value, as_of)
    return frame.withColumns(days), tuple(days), as_of


def _parsed(column: str, date_format: str) -> Column:
    if not date_format:  # typed dates
        return _column(column)
    if date_format not in SPARK_DATE_PATTERNS:
        raise ConfigError(f"column {column}: the Spark engine has no pattern for dates in "
                          f"{date_format}")
    return F.try_to_timestamp(_column(column).cast("string"),
                              F.lit(SPARK_DATE_PATTERNS[date_format]))


def _days_before(value: Column, as_of: pd.Timestamp | None) -> Column:
    """Whole days from ``value`` to ``as_of``, rounded down as pandas' Timedelta.days."""
    if as_of is None:  # no date to count from
        return F.lit(None).cast("double")
    later_in_the_day = F.date_format(value, _CLOCK) > F.lit(as_of.strftime("%H:%M:%S.%f"))
    return (F.datediff(F.lit(as_of.date()), F.to_date(value))
            - F.when(later_in_the_day, 1).otherwise(0)).cast("double")


def _number(value: Column) -> Column:
    """`pd.to_numeric(errors="coerce").astype(float)`: a double, NaN as missing."""
    return F.nanvl(value.try_cast("double"), F.lit(None).cast("double"))


def _label(facts: SparkFacts) -> Column:
    """A category's labels as text, as pandas writes them (codes read as floats: 2, not 2.0)."""
    value = _column(facts.name)
    if facts.kind == ValueKind.FLAGS:
        return F.when(value, "True").when(~value, "False")
    if facts.kind == ValueKind.REAL:
        value = F.nanvl(value, F.lit(None))
        return (value.cast("long") if facts.whole() else value).cast("string")
    return value.cast("string")
