"""The one way the store opens a write transaction (holding the write lock from its start),
a read transaction, and the one way it turns on write-ahead logging."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

# How long to sleep between attempts to switch a new file to WAL while another process does.
_WAL_RETRY_SECONDS = 0.05
# The page size of a new store: 32 KiB instead of SQLite's 4 KiB. A publish writes ~100 MB per
# million customers into one b-tree, and SQLite's half of it (the rows' b-tree, WAL frames
# and checkpoint) runs beside the next chunk's values being made, so it sets the pace: with
# an eighth of the pages, 1M customers published in 2.2-2.3 s instead of 2.6-2.7 s and 10M
# in 23.5 s instead of 27.6 s (64 KiB: the same). A point lookup still reads one page a
# level; a small commit (an audit row) writes a few 32 KiB pages to the WAL.
NEW_FILE_PAGE_SIZE = 32_768


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
    """Switch the file to write-ahead logging, waiting up to ``timeout`` s for other openers;
    a new file gets NEW_FILE_PAGE_SIZE pages first.

    SQLite answers `PRAGMA journal_mode=wal` with "database is locked" at once, without its busy
    handler, when another process is switching the same new file at that moment (two `segbot
    serve` or a serve and a refresh starting together): wait for it like any other lock.
    """
    # Only a file with nothing in it yet takes a page size; an existing store keeps its own
    # (WAL mode fixes it), so this changes nothing on every open but the first.
    conn.execute(f"PRAGMA page_size = {NEW_FILE_PAGE_SIZE}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = wal").fetchall()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(_WAL_RETRY_SECONDS)
