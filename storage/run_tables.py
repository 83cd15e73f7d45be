"""Tables that belong to one run, named ``run_<id>_<kind>``: created by its publish, dropped
with it by retention.

The name is the only link between such a table and its run, so it is built and recognised
here and nowhere else: retention drops every table this module recognises, and a kind added
later is pruned with its run without retention knowing about it.
"""

from __future__ import annotations

import re
import sqlite3

CUSTOMERS = "customers"  # one row per segmented customer (storage.customers)

_NAME = re.compile(r"run_([1-9][0-9]*)_([a-z]+(?:_[a-z]+)*)")


def run_table(run_id: int, kind: str) -> str:
    """The name of run ``run_id``'s table of ``kind``: safe to use unquoted in SQL."""
    name = f"run_{int(run_id)}_{kind}"
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"not a per-run table kind: {kind!r}")
    return name


def run_tables(conn: sqlite3.Connection, kind: str | None = None) -> dict[int, list[str]]:
    """Every per-run table in the database (only those of ``kind`` if given), by run id."""
    tables: dict[int, list[str]] = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                "AND name GLOB 'run_[1-9]*_*' ORDER BY name"):
        match = _NAME.fullmatch(name)
        if match is not None and kind in (None, match[2]):
            tables.setdefault(int(match[1]), []).append(name)
    return tables
