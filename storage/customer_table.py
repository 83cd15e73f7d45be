"""A run's customers table (``run_<id>_customers``): its columns, their types, and reading a
customer's values back.

The standard library only: a process that looks up one customer (`segbot customer`) loads
no pandas, numpy or pyarrow; publishing the rows is storage.customers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.run_tables import CUSTOMERS, run_table

FIXED_COLUMNS = ("customer_id", "segment_id", "distance")


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
