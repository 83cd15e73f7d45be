"""Each run's customers in a table of their own: segment, distance and one typed column per
attribute, keyed by customer id (``run_<id>_customers``).

Typed columns rather than one JSON text per customer: `/customer ID` is one primary-key
search, a filter (``"Income" > ? AND "Education" = ?``) is parameterised SQL over real
columns that an index can serve, and publishing binds plain numbers and strings instead of
formatting and storing JSON. The columns vary per run (they are the table's display
attributes), hence one table per run, which retention drops whole.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from segmentation.result import SegmentationResult
from storage import codec
from storage.run_tables import CUSTOMERS, run_table

FIXED_COLUMNS = ("customer_id", "segment_id", "distance")
# Rows made into Python values at a time: large enough that per-chunk costs vanish, small
# enough that a chunk's values (~15 objects a row) stay a few tens of MB.
CHUNK_ROWS = 50_000
# Values bound per INSERT, as many rows as fit: stepping one statement per row cost 1.8 s
# per million customers of 15 columns, ~130 rows per statement 1.05 s (gains stop there).
VALUES_PER_INSERT = 2_000


class SqlType(StrEnum):
    """The declared type of an attribute column, which readers decode by."""

    INTEGER = "INTEGER"
    REAL = "REAL"  # non-finite values are stored as NULL
    TEXT = "TEXT"  # dates and times as ISO-8601 text, which sorts as they do
    BOOLEAN = "BOOLEAN"  # NUMERIC affinity: stored as 0 / 1, read back as False / True


@dataclass(frozen=True)
class AttributeColumn:
    """One attribute of a run: its display name, its column in the table, its type."""

    name: str
    column: str
    type: SqlType


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
    for columns in rows.chunks(CHUNK_ROWS):
        values = _row_major(columns, width)
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


def create_table(conn: sqlite3.Connection, run_id: int,
                 attributes: Sequence[AttributeColumn]) -> str:
    """Create run ``run_id``'s empty customers table; return its name."""
    table = run_table(run_id, CUSTOMERS)
    # WITHOUT ROWID: the rows live in the customer-id b-tree itself, so a lookup is one
    # search and ids inserted in order append to it; no second index to build.
    columns = "".join(f", {quote(a.column)} {a.type}" for a in attributes)
    conn.execute(f"CREATE TABLE {table} (customer_id TEXT NOT NULL PRIMARY KEY, "
                 f"segment_id INTEGER NOT NULL, distance REAL{columns}) WITHOUT ROWID")
    return table


def quote(identifier: str) -> str:
    """``identifier`` as a quoted SQL identifier, whatever characters it holds."""
    return '"' + identifier.replace('"', '""') + '"'


def column_names(names: Sequence[str]) -> list[str]:
    """Column names for attributes: their display names, made unique as SQLite compares
    identifiers (without case) among themselves and the fixed columns."""
    taken = {column.casefold() for column in FIXED_COLUMNS}
    columns = []
    for name in names:
        base = name.replace("\x00", "") or "attribute"
        column, suffix = base, 2
        while column.casefold() in taken:
            column, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(column.casefold())
        columns.append(column)
    return columns


def stored_attributes(conn: sqlite3.Connection, run_id: int,
                      names: Sequence[str]) -> tuple[AttributeColumn, ...]:
    """The attribute columns of run ``run_id``'s table, named as ``runs.attribute_columns``
    lists them (in the same order)."""
    info = conn.execute("SELECT name, type FROM pragma_table_info(?) ORDER BY cid",
                        [run_table(run_id, CUSTOMERS)]).fetchall()
    return tuple(AttributeColumn(name, column, SqlType(sql_type))
                 for name, (column, sql_type) in zip(names, info[3:], strict=True))


def select_list(attributes: Sequence[AttributeColumn]) -> str:
    """The attribute columns for a SELECT, in order (empty when there are none)."""
    return "".join(f", {quote(a.column)}" for a in attributes)


def decode(attributes: Sequence[AttributeColumn], values: Sequence[Any]) -> dict[str, Any]:
    """One customer's attribute values by display name, booleans as bool."""
    return {a.name: bool(value) if a.type is SqlType.BOOLEAN and value is not None else value
            for a, value in zip(attributes, values, strict=True)}


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
