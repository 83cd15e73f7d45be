"""Dropping old runs so a weekly refresh of a million customers does not fill the disk.

A 1M-customer run takes ~80 MB; the store keeps the newest runs and deletes the rest in one
transaction: their rows in the tables keyed by run_id, and their own tables
(``run_<id>_<kind>``, see storage.run_tables) dropped whole. Only the run's and its segments'
summaries in the history tables stay (storage.segment_history), so `/segments history` still
shows the runs deleted. Segment ids stay never-reused:
the largest id ever given out is remembered in ``meta`` before the runs that used it are
deleted.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from storage.changes import LARGEST_SEGMENT_ID_KEY, next_segment_id
from storage.run_tables import CUSTOMERS, run_tables
from storage.segment_history import KEPT_TABLES

MIN_KEEP = 2  # the current run and the one before it: the digest and movement compare them


@dataclass(frozen=True)
class PruneReport:
    """What ``prune_runs`` removed and what it kept, newest first."""

    removed: tuple[int, ...]
    kept: tuple[int, ...]
    customer_rows: int  # customer rows deleted: one per customer per removed run


def check_keep(keep: int) -> None:
    """Refuse to keep fewer runs than the digest needs to compare."""
    if keep < MIN_KEEP:
        raise ValueError(f"keep at least {MIN_KEEP} runs (got {keep}): the digest compares the "
                         "current run with the one before it")


def prune_runs(conn: sqlite3.Connection, keep: int, current_run_id: int | None) -> PruneReport:
    """Delete every run but the newest ``keep`` (and the current one) with all its rows.

    Call inside one write transaction: readers see the runs before or after, never a part.
    """
    check_keep(keep)
    run_ids = [row[0] for row in conn.execute("SELECT id FROM runs ORDER BY id DESC")]
    kept = set(run_ids[:keep]) | ({current_run_id} if current_run_id is not None else set())
    removed = [run_id for run_id in run_ids if run_id not in kept]
    if not removed:
        return PruneReport((), tuple(run_ids), 0)
    remember_largest_segment_id(conn)
    placeholders = ", ".join("?" * len(removed))
    per_run = run_tables(conn)  # every run_<id>_<kind> table, whatever its kind
    customers = run_tables(conn, CUSTOMERS)
    customer_rows = sum(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                        for run_id in removed for table in customers.get(run_id, []))
    # The rows of a run first, the run itself last.
    for table in run_keyed_tables(conn):
        conn.execute(f'DELETE FROM "{table}" WHERE run_id IN ({placeholders})', removed)
    for run_id in removed:
        for table in per_run.get(run_id, []):
            conn.execute(f"DROP TABLE {table}")
    conn.execute(f"DELETE FROM runs WHERE id IN ({placeholders})", removed)
    return PruneReport(tuple(removed), tuple(sorted(kept, reverse=True)), int(customer_rows))


def run_keyed_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with a ``run_id`` column, by name, but the history tables: the rows that
    belong to a run and go with it.

    Read from the schema, so a table that a later migration adds is pruned with its run.
    """
    rows = conn.execute("SELECT m.name FROM sqlite_master AS m "
                        "JOIN pragma_table_info(m.name) AS c ON c.name = 'run_id' "
                        "WHERE m.type = 'table' ORDER BY m.name")
    return [name for (name,) in rows if name not in KEPT_TABLES]


def remember_largest_segment_id(conn: sqlite3.Connection) -> None:
    """Record the largest segment id used so far, so ids stay unique after its run is gone."""
    largest = next_segment_id(conn) - 1
    if largest >= 1:
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                     "SET value = excluded.value", [LARGEST_SEGMENT_ID_KEY, str(largest)])


def free_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of free pages inside the file: reused by the next runs, or returned by VACUUM."""
    (pages,) = conn.execute("PRAGMA freelist_count").fetchone()
    (size,) = conn.execute("PRAGMA page_size").fetchone()
    return int(pages) * int(size)
