"""The one way the store opens a write transaction (holding the write lock from its start),
a read transaction, and the one way it turns on write-ahead logging."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

# How long to sleep between attempts to switch a new file to WAL while another process does.
_WAL_RETRY_SECONDS = 0.05


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


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in one deferred transaction, so that all its reads see one committed state."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.rollback()  # it wrote nothing: ending it only releases the snapshot


def enable_wal(conn: sqlite3.Connection, *, timeout: float) -> None:
    """Switch the file to write-ahead logging, waiting up to ``timeout`` s for other openers.

    SQLite answers `PRAGMA journal_mode=wal` with "database is locked" at once, without its busy
    handler, when another process is switching the same new file at that moment (two `segbot
    serve` or a serve and a refresh starting together): wait for it like any other lock.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = wal").fetchall()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(_WAL_RETRY_SECONDS)
