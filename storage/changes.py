"""How a run continues the previous one: segment matches, retired segments, movement, movers.

Written inside ``Store.publish_run``'s transaction, read by the digest and `/segments changes`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from segmentation.result import SegmentMatch
from storage.errors import StoreError
from storage.run_tables import CUSTOMERS, run_table

if TYPE_CHECKING:  # imported where a frame is made: a process reading a customer needs none
    import pandas as pd

MOVEMENT_COLUMNS = ["from", "to", "customers"]
MOVER_COLUMNS = ["customer_id", "from_segment", "from_name", "to_segment", "to_name"]
LARGEST_SEGMENT_ID_KEY = "largest_segment_id"  # in meta, once retention deleted a run


class StalePublish(StoreError):
    """The run was compared with a run that is no longer current: its movement would be wrong."""


@dataclass(frozen=True)
class RetiredSegment:
    """A segment of the previous run that no segment of this run continues."""

    segment_id: int
    name: str


def _no_movement() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(columns=MOVEMENT_COLUMNS)


@dataclass(frozen=True, eq=False)
class RunChanges:
    """How a new run relates to the run it was compared with, published together with it."""

    previous_run_id: int | None  # must still be the current run when this one is published
    matches: tuple[SegmentMatch, ...]
    retired: tuple[RetiredSegment, ...] = ()
    movement: pd.DataFrame = field(  # from, to, customers (segmentation.matching.movement_matrix)
        default_factory=_no_movement)


def check_changes(changes: RunChanges, segment_ids: Sequence[int]) -> None:
    """Refuse changes that do not describe the run being published, before any write."""
    matched = sorted(m.segment_id for m in changes.matches)
    if matched != sorted(segment_ids):
        raise StoreError(f"cannot publish: segment matches cover segments {matched}, "
                         f"the run has {sorted(segment_ids)}")
    missing = set(MOVEMENT_COLUMNS) - set(changes.movement.columns)
    if missing:
        raise StoreError(f"cannot publish: movement lacks column(s) {sorted(missing)}")


def check_still_current(current_run_id: int | None, changes: RunChanges) -> None:
    """Inside the write transaction: the run compared with must still be the current one."""
    if current_run_id != changes.previous_run_id:
        raise StalePublish(
            f"cannot publish: this run was compared with run {changes.previous_run_id}, but "
            f"run {current_run_id} was published meanwhile; refresh again")


def insert_changes(conn: sqlite3.Connection, run_id: int, changes: RunChanges) -> None:
    """Write the matches, retired segments and movement of run ``run_id``."""
    conn.executemany(
        "INSERT INTO segment_matches (run_id, segment_id, previous_id, distance) "
        "VALUES (?, ?, ?, ?)",
        ((run_id, m.segment_id, m.previous_id, m.distance) for m in changes.matches))
    conn.executemany(
        "INSERT INTO retired_segments (run_id, segment_id, name) VALUES (?, ?, ?)",
        ((run_id, r.segment_id, r.name) for r in changes.retired))
    movement = changes.movement
    conn.executemany(
        "INSERT INTO movement (run_id, from_segment, to_segment, customers) VALUES (?, ?, ?, ?)",
        zip([run_id] * len(movement), movement["from"].astype(str).tolist(),
            movement["to"].astype(str).tolist(), movement["customers"].astype(int).tolist(),
            strict=True))


def next_segment_id(conn: sqlite3.Connection) -> int:
    """One more than the largest segment id any run ever used: ids are never reused.

    Runs deleted by retention leave their largest id in ``meta`` (LARGEST_SEGMENT_ID_KEY).
    """
    (largest,) = conn.execute(
        "SELECT max(segment_id) FROM (SELECT max(segment_id) AS segment_id FROM segments "
        "UNION ALL SELECT max(segment_id) FROM retired_segments "
        "UNION ALL SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?)",
        [LARGEST_SEGMENT_ID_KEY]).fetchone()
    return 1 if largest is None else int(largest) + 1


def segment_matches(conn: sqlite3.Connection, run_id: int) -> list[SegmentMatch]:
    """The matches recorded for ``run_id``, by segment id."""
    rows = conn.execute("SELECT segment_id, previous_id, distance FROM segment_matches "
                        "WHERE run_id = ? ORDER BY segment_id", [run_id]).fetchall()
    return [SegmentMatch(*row) for row in rows]


def retired_segments(conn: sqlite3.Connection, run_id: int) -> list[RetiredSegment]:
    """The previous run's segments that ``run_id`` retired, by segment id."""
    rows = conn.execute("SELECT segment_id, name FROM retired_segments WHERE run_id = ? "
                        "ORDER BY segment_id", [run_id]).fetchall()
    return [RetiredSegment(*row) for row in rows]


def movement(conn: sqlite3.Connection, run_id: int) -> pd.DataFrame:
    """Customers per (from, to) for ``run_id``: segments in id order, then new / gone."""
    import pandas as pd

    rows = conn.execute(
        "SELECT from_segment, to_segment, customers FROM movement WHERE run_id = ? "
        "ORDER BY from_segment GLOB '[0-9]*' DESC, CAST(from_segment AS INTEGER), from_segment, "
        "to_segment GLOB '[0-9]*' DESC, CAST(to_segment AS INTEGER), to_segment",
        [run_id]).fetchall()
    frame = pd.DataFrame(rows, columns=MOVEMENT_COLUMNS)
    return frame.astype({"from": object, "to": object, "customers": "int64"})


# The current run's customers are scanned once, in id order; each one's previous segment is
# one primary-key search. Segment names come from the small segments table.
_MOVERS = """
    SELECT cur.customer_id, prev.segment_id, before.name, cur.segment_id, after.name
    FROM {current} AS cur
    JOIN {previous} AS prev ON prev.customer_id = cur.customer_id
    JOIN segments AS before ON before.run_id = :previous AND before.segment_id = prev.segment_id
    JOIN segments AS after ON after.run_id = :run AND after.segment_id = cur.segment_id
    WHERE prev.segment_id <> cur.segment_id
    ORDER BY cur.customer_id
"""


def movers(conn: sqlite3.Connection, run_id: int, previous_run_id: int | None) -> pd.DataFrame:
    """Customers in both runs whose segment changed, with both segments' ids and names."""
    import pandas as pd

    rows = [] if previous_run_id is None else conn.execute(
        _MOVERS.format(current=run_table(run_id, CUSTOMERS),
                       previous=run_table(previous_run_id, CUSTOMERS)),
        {"run": run_id, "previous": previous_run_id}).fetchall()
    frame = pd.DataFrame(rows, columns=MOVER_COLUMNS)
    return frame.astype({"customer_id": object, "from_segment": "int64",
                         "from_name": object, "to_segment": "int64", "to_name": object})


def stored_movement(conn: sqlite3.Connection, previous_run_id: int,
                    run_id: int) -> pd.DataFrame:
    """`matching.movement_matrix` of two runs' customers tables, counted by SQLite (each
    customer of one run looked up in the other's key b-tree): no customer leaves the store."""
    import pandas as pd

    from segmentation.matching import movement_from_counts

    before, after = run_table(previous_run_id, CUSTOMERS), run_table(run_id, CUSTOMERS)
    rows = conn.execute(
        f"SELECT coalesce(b.segment_id, -1), a.segment_id, count(*) FROM {after} AS a "
        f"LEFT JOIN {before} AS b ON b.customer_id = a.customer_id GROUP BY 1, 2").fetchall()
    rows += conn.execute(
        f"SELECT b.segment_id, -1, count(*) FROM {before} AS b WHERE NOT EXISTS "
        f"(SELECT 1 FROM {after} AS a WHERE a.customer_id = b.customer_id) "
        "GROUP BY 1").fetchall()
    counts = pd.DataFrame(rows, columns=MOVEMENT_COLUMNS, dtype="int64")
    return movement_from_counts(counts)
