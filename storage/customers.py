"""Each run's customers in a table of their own: segment, distance and one typed column per
attribute, keyed by customer id (``run_<id>_customers``).

Typed columns rather than one JSON text per customer: `/customer ID` is one primary-key
search, a filter (``"Income" > ? AND "Education" = ?``) is parameterised SQL over real
columns that an index can serve, and publishing binds plain numbers and strings instead of
formatting and storing JSON. The columns vary per run (they are the table's display
attributes), hence one table per run, which retention drops whole. Its columns, and reading
them back without pandas, are storage.customer_table; this module publishes the rows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.result import SegmentationResult
from storage import codec
from storage.customer_table import (
    FIXED_COLUMNS,
    AttributeColumn,
    SqlType,
    column_names,
    create_table,
)
from storage.errors import StoreError

# Rows made into Python values at a time: large enough that per-chunk costs vanish, small
# enough that a chunk's values (~15 objects a row) stay a few tens of MB; two chunks are
# alive at once (one inserted, the next made: `made_ahead`).
CHUNK_ROWS = 50_000
# Values bound per INSERT, as many rows as fit: stepping one statement per row cost 1.8 s
# per million customers of 15 columns, ~130 rows per statement 1.05 s (gains stop there).
VALUES_PER_INSERT = 2_000


_T = TypeVar("_T")


class _Values(Protocol):
    def take(self, positions: np.ndarray) -> list[Any]: ...


@dataclass(frozen=True)
class _Numbers:
    """A numeric column; ``missing`` marks the rows stored as NULL (None when there are none)."""

    array: np.ndarray
    missing: np.ndarray | None

    def take(self, positions: np.ndarray) -> list[Any]:
        values = self.array[positions].tolist()
        if self.missing is not None:
            for i in np.flatnonzero(self.missing[positions]).tolist():
                values[i] = None
        return values


@dataclass(frozen=True)
class _Coded:
    """A column of repeating values (text, categories, dates): each distinct value converted
    once. ``uniques`` ends with None, which the missing code -1 picks."""

    codes: np.ndarray
    uniques: np.ndarray

    def take(self, positions: np.ndarray) -> list[Any]:
        return self.uniques[self.codes[positions]].tolist()


@dataclass(frozen=True)
class CustomerRows:
    """A result's customers, checked and ready to insert in storage order (ids as SQLite
    compares text, so the key b-tree is appended to). Row values are made a chunk at a
    time: no second copy of the whole table is ever held."""

    ids: pa.StringArray  # sorted
    order: np.ndarray  # the result's row of each sorted id
    segment_ids: np.ndarray
    distances: _Numbers
    attributes: tuple[AttributeColumn, ...]
    values: tuple[_Values, ...]

    def __len__(self) -> int:
        return len(self.ids)

    def chunks(self, size: int = CHUNK_ROWS) -> Iterator[list[list[Any]]]:
        """The rows in storage order, ``size`` at a time, as one list per column."""
        for start in range(0, len(self), size):
            positions = self.order[start:start + size]
            yield [self.ids[start:start + size].to_pylist(),
                   self.segment_ids[positions].tolist(), self.distances.take(positions),
                   *(values.take(positions) for values in self.values)]


def customer_rows(result: SegmentationResult) -> CustomerRows:
    """Return ``result``'s customers typed for storage; refuse a result that contradicts
    itself before anything is written."""
    ids = codec.id_array(result.assignments["customer_id"])
    order = codec.text_order(ids)
    sorted_ids = ids.take(order)
    codec.check_result(result, ids, sorted_ids)
    attributes = result.attributes.drop(columns="customer_id")
    names = codec.attribute_columns(attributes)
    typed = [_typed(attributes.iloc[:, i]) for i in range(attributes.shape[1])]
    distances = result.assignments["distance"].to_numpy(dtype="float64", na_value=np.nan)
    missing = ~np.isfinite(distances)
    return CustomerRows(
        ids=sorted_ids, order=order.to_numpy(),
        segment_ids=result.assignments["segment_id"].to_numpy(dtype="int64"),
        distances=_Numbers(distances, missing if missing.any() else None),
        attributes=tuple(AttributeColumn(name, column, sql_type) for name, column, (sql_type, _)
                         in zip(names, column_names(names), typed, strict=True)),
        values=tuple(values for _, values in typed))


def insert_customers(conn: sqlite3.Connection, run_id: int, rows: CustomerRows) -> None:
    """Create run ``run_id``'s customers table and fill it: call inside the publish."""
    table = create_table(conn, run_id, rows.attributes)
    width = len(FIXED_COLUMNS) + len(rows.attributes)
    limit = min(VALUES_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    per_insert = max(1, limit // width)
    for values in made_ahead(_row_major(columns, width) for columns in rows.chunks()):
        _insert_row_major(conn, table, width, per_insert, values)


def made_ahead(items: Iterator[_T]) -> Iterator[_T]:
    """``items`` in order, each next one made on a thread while the caller uses the last.

    Making a chunk's values (NumPy gathers, lists of Python values) holds the GIL; inserting
    them lets it go while SQLite steps its statements, which is when the next chunk is made:
    1M customers of 15 columns published in 2.7-3.5 s instead of 3.4-4.1 s (alternated).
    An error making an item is raised here, in order; at most one item is made ahead.
    """
    end = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segbot-rows") as pool:
        pending = pool.submit(next, items, end)
        while (item := pending.result()) is not end:
            pending = pool.submit(next, items, end)
            yield cast(_T, item)


def _insert_row_major(conn: sqlite3.Connection, table: str, width: int, per_insert: int,
                      values: list[Any]) -> None:
    """Insert ``values`` (rows of ``width`` one after another), ``per_insert`` rows a
    statement."""
    step = per_insert * width
    whole = len(values) // step * step
    conn.executemany(_insert(table, width, per_insert),
                     (values[start:start + step] for start in range(0, whole, step)))
    if whole < len(values):
        conn.execute(_insert(table, width, (len(values) - whole) // width), values[whole:])


def _row_major(columns: list[list[Any]], width: int) -> list[Any]:
    """The values of ``columns`` one row after another, as a multi-row INSERT binds them."""
    values: list[Any] = [None] * (len(columns[0]) * width)
    for i, column in enumerate(columns):
        values[i::width] = column
    return values


def _insert(table: str, width: int, rows: int) -> str:
    row = "(" + ", ".join("?" * width) + ")"
    return f"INSERT INTO {table} VALUES " + ", ".join([row] * rows)


def decode_frame(frame: pd.DataFrame, attributes: Sequence[AttributeColumn]) -> pd.DataFrame:
    """``frame``'s attribute columns (named by display name) with booleans as bool."""
    for a in attributes:
        if a.type is SqlType.BOOLEAN:
            column = frame[a.name]
            frame[a.name] = column.astype(bool) if column.notna().all() else \
                column.map(lambda value: None if pd.isna(value) else bool(value))
    return frame


def _typed(column: pd.Series) -> tuple[SqlType, _Values]:
    """How a column of attribute values is stored, and its values ready to take rows from."""
    kind = column.dtype.kind
    # uint64 beyond int64's range does not fit an SQLite integer: stored as REAL
    if kind in "biu" and not (kind == "u" and getattr(column.dtype, "itemsize", 8) >= 8):
        missing = column.isna().to_numpy()
        array = column.to_numpy(dtype="int8" if kind == "b" else "int64", na_value=0)
        return (SqlType.BOOLEAN if kind == "b" else SqlType.INTEGER,
                _Numbers(array, missing if missing.any() else None))
    if kind in "fu":
        array = column.to_numpy(dtype="float64", na_value=np.nan)
        missing = ~np.isfinite(array)
        return SqlType.REAL, _Numbers(array, missing if missing.any() else None)
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = [_scalar(value) for value in uniques]
    sql_type = _type_of(values)
    if sql_type is SqlType.TEXT:
        values = [value if value is None or isinstance(value, str) else str(value)
                  for value in values]
    # np.empty then fill: np.array would turn a list of tuples into a 2-D array.
    table = np.empty(len(values) + 1, dtype=object)
    table[:-1] = values
    code_type = np.int32 if len(values) < 2**31 else np.int64
    return sql_type, _Coded(codes.astype(code_type, copy=False), table)


def _scalar(value: Any) -> Any:
    """A distinct value as the Python scalar stored for it (None for non-finite numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _type_of(values: Sequence[Any]) -> SqlType:
    present = {type(value) for value in values if value is not None}
    if present and present <= {bool}:
        return SqlType.BOOLEAN
    if present and present <= {int}:
        return SqlType.INTEGER
    if present and present <= {int, float}:
        return SqlType.REAL
    return SqlType.TEXT


@dataclass(frozen=True)
class CustomerBatches:
    """A run's customers as Arrow record batches in storage order (ids ascending as SQLite
    compares text): customer_id, segment_id, distance, then one column per attribute. A
    publish from them holds one batch at a time, never every customer."""

    attributes: tuple[AttributeColumn, ...]
    batches: Iterable[pa.RecordBatch]


def customer_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> CustomerBatches:
    """``batches`` of ``schema`` (the fixed columns first) with their attributes typed from
    the schema."""
    if schema.names[:len(FIXED_COLUMNS)] != list(FIXED_COLUMNS):
        raise StoreError(f"cannot publish: customer batches start with {schema.names[:3]}, "
                         f"not {', '.join(FIXED_COLUMNS)}")
    names = schema.names[len(FIXED_COLUMNS):]
    types = [_arrow_type(schema.field(name).type) for name in names]
    return CustomerBatches(tuple(AttributeColumn(name, column, sql_type) for name, column, sql_type
                                 in zip(names, column_names(names), types, strict=True)), batches)


def _arrow_type(arrow_type: pa.DataType) -> SqlType:
    if pa.types.is_boolean(arrow_type):
        return SqlType.BOOLEAN
    if pa.types.is_integer(arrow_type) and not (pa.types.is_uint64(arrow_type)):
        return SqlType.INTEGER
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or \
            pa.types.is_decimal(arrow_type):
        return SqlType.REAL
    return SqlType.TEXT


def insert_customer_batches(conn: sqlite3.Connection, run_id: int, customers: CustomerBatches,
                            segment_ids: Iterable[int], excluded: Iterable[str]) -> int:
    """Create run ``run_id``'s customers table and fill it batch by batch: call inside the
    publish. Refuses (StoreError, so the publish rolls back) ids out of order or repeated
    (strictly increasing ids are also distinct), missing, excluded, or customers in a segment
    without a profile. Returns the customers inserted."""
    table = create_table(conn, run_id, customers.attributes)
    width = len(FIXED_COLUMNS) + len(customers.attributes)
    limit = min(VALUES_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    per_insert = max(1, limit // width)
    known = pa.array(sorted(set(segment_ids)), pa.int64())
    left_out = pa.array(sorted(set(excluded)), pa.string())

    def checked_rows() -> Iterator[list[Any]]:
        last: str | None = None
        for batch in customers.batches:
            if not batch.num_rows:
                continue
            ids = batch.column(0).cast(pa.string())
            _check_batch(ids, batch.column(1).cast(pa.int64()), last, known, left_out)
            last = ids[-1].as_py()
            yield _row_major([_stored_values(column) for column in batch.columns], width)

    count = 0
    for values in made_ahead(checked_rows()):
        count += len(values) // width
        _insert_row_major(conn, table, width, per_insert, values)
    return count


def _check_batch(ids: pa.Array, segments: pa.Array, last: str | None, known: pa.Array,
                 left_out: pa.Array) -> None:
    if ids.null_count:
        raise StoreError("cannot publish: some assigned customers have no id")
    # Arrow compares strings by their UTF-8 bytes, as SQLite's BINARY collation does
    following = pc.less(ids[:-1], ids[1:]) if len(ids) > 1 else pa.array([], pa.bool_())
    if not pc.all(following).as_py() or (last is not None and not last < ids[0].as_py()):
        at = ids[0].as_py() if last is not None and not last < ids[0].as_py() else \
            ids[pc.index(following, False).as_py() + 1].as_py()
        raise StoreError(f"cannot publish: customer {at} is assigned twice or out of id order")
    unknown = pc.unique(segments.filter(pc.invert(pc.is_in(segments, value_set=known))))
    if len(unknown) or segments.null_count:
        raise StoreError(f"cannot publish: customers are assigned to segment(s) "
                         f"{sorted(unknown.to_pylist())}, which have no profile")
    both = ids.filter(pc.is_in(ids, value_set=left_out))
    if len(both):
        raise StoreError(f"cannot publish: customer {both[0].as_py()} is both assigned "
                         "and excluded")


def _stored_values(column: pa.Array) -> list[Any]:
    """A batch column's values as stored: non-finite numbers and NaN as NULL, dates as
    ISO-8601 text."""
    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_finite(column), column, None)
    values = column.to_pylist()
    if pa.types.is_temporal(column.type):
        return [None if v is None else v.isoformat() for v in values]
    return values
