"""The one way the store opens a write transaction: holding the write lock from its start."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one BEGIN IMMEDIATE transaction: committed, or rolled back on any raise."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.rollback()  # a no-op when the error already ended the transaction
        raise
    conn.commit()
