"""Each segment's size, share and means in every published run: what `/segments history` and
`/cluster N history` draw, kept when `segbot prune` deletes a run.

A publish writes one small row per run (``history_runs``: its date, data as-of date, customers,
and everyone's mean of each feature) and one per segment (``history_segments``: name, size,
share, its means and the features that set it apart) in the same transaction as the run; a
migration back-fills them from the runs stored before. Retention deletes a run's customers,
segments and changes but keeps these rows (`KEPT_TABLES`): a few hundred bytes per segment and
run, so years of weekly runs stay well under a megabyte.

Segment ids continue from run to run (`segmentation.matching`) and are never given out again,
so a segment's history is its rows by id: it is *new* in the first run it appears in (unless
that is the first run stored) and *retired* in the first run after its last.
"""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage import codec
from storage.errors import NotFound

RUNS, SEGMENTS = "history_runs", "history_segments"
KEPT_TABLES = (RUNS, SEGMENTS)  # retention keeps their rows when it deletes a run
DISTINGUISHING = 6  # features kept per segment, most distinguishing first


@dataclass(frozen=True)
class RunSummary:
    """One published run as history shows it."""

    run_id: int
    finished_at: datetime
    as_of: str | None
    customers: int
    labels: dict[str, str]  # feature -> label as answers show it
    population: dict[str, float | None]  # feature -> everyone's mean


@dataclass(frozen=True)
class SegmentSummary:
    """One segment in one run: its size, share and means."""

    run_id: int
    segment_id: int
    name: str
    size: int
    share: float
    means: dict[str, float | None]  # feature -> the segment's mean
    distinguishing: tuple[str, ...]  # what set it apart in that run, most first


@dataclass(frozen=True)
class SegmentHistory:
    """Runs oldest first, and every segment's summary in each run it was part of."""

    runs: tuple[RunSummary, ...]
    segments: tuple[SegmentSummary, ...]  # by run, then segment id

    def of_segment(self, segment_id: int) -> list[SegmentSummary]:
        """The segment's summaries, oldest run first."""
        return [s for s in self.segments if s.segment_id == segment_id]

    def in_run(self, run_id: int) -> list[SegmentSummary]:
        return [s for s in self.segments if s.run_id == run_id]

    def segment_ids(self) -> list[int]:
        return sorted({s.segment_id for s in self.segments})

    def first_run(self, segment_id: int) -> RunSummary | None:
        """The run the segment first appears in, if it was new then (not the first run)."""
        ids = [s.run_id for s in self.of_segment(segment_id)]
        if not ids or ids[0] == self.runs[0].run_id:
            return None
        return self.run(ids[0])

    def retired_in(self, segment_id: int) -> RunSummary | None:
        """The first run after the segment's last one, if it has ended."""
        ids = [s.run_id for s in self.of_segment(segment_id)]
        later = [run for run in self.runs if ids and run.run_id > ids[-1]]
        return later[0] if later else None

    def run(self, run_id: int) -> RunSummary:
        return next(run for run in self.runs if run.run_id == run_id)


def record_run(conn: sqlite3.Connection, run_id: int) -> None:
    """Write the history rows of stored run ``run_id`` (inside the publish's transaction)."""
    finished_at, as_of, customers = conn.execute(
        "SELECT finished_at, as_of, rows_kept FROM runs WHERE id = ?", [run_id]).fetchone()
    profiles = [codec.segment_profile(text) for (text,) in conn.execute(
        "SELECT profile FROM segments WHERE run_id = ? ORDER BY segment_id", [run_id])]
    labels: dict[str, str] = {}
    population: dict[str, float | None] = {}
    for profile in profiles:
        for stat in profile.stats:
            labels.setdefault(stat.feature, stat.label)
            population.setdefault(stat.feature, _number(stat.population_mean))
    conn.execute(f"INSERT INTO {RUNS} (run_id, finished_at, as_of, customers, labels, "
                 "population) VALUES (?, ?, ?, ?, ?, ?)",
                 [run_id, finished_at, as_of, customers, codec.dumps(labels),
                  codec.dumps(population)])
    conn.executemany(
        f"INSERT INTO {SEGMENTS} (run_id, segment_id, name, size, share, means, "
        "distinguishing) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(run_id, p.segment_id, p.name, p.size, p.share,
          codec.dumps({s.feature: _number(s.mean) for s in p.stats}),
          codec.dumps(list(p.distinguishing[:DISTINGUISHING]))) for p in profiles])


def backfill(conn: sqlite3.Connection) -> None:
    """History rows for every stored run that has none (runs published before history)."""
    for (run_id,) in conn.execute(f"SELECT id FROM runs WHERE id NOT IN (SELECT run_id FROM "
                                  f"{RUNS}) ORDER BY id").fetchall():
        record_run(conn, run_id)


def load(conn: sqlite3.Connection, limit: int) -> SegmentHistory:
    """The newest ``limit`` runs' history, oldest first; NotFound when there is none."""
    rows = conn.execute(f"SELECT run_id, finished_at, as_of, customers, labels, population "
                        f"FROM {RUNS} ORDER BY run_id DESC LIMIT ?", [limit]).fetchall()
    if not rows:
        raise NotFound("no run has been published yet, so there is no history")
    runs = tuple(RunSummary(run_id, datetime.fromisoformat(finished), as_of, customers,
                            json.loads(labels), json.loads(population))
                 for run_id, finished, as_of, customers, labels, population in reversed(rows))
    segments = conn.execute(
        f"SELECT run_id, segment_id, name, size, share, means, distinguishing FROM {SEGMENTS} "
        "WHERE run_id >= ? ORDER BY run_id, segment_id", [runs[0].run_id]).fetchall()
    return SegmentHistory(runs, tuple(
        SegmentSummary(run_id, segment_id, name, size, share, json.loads(means),
                       tuple(json.loads(distinguishing)))
        for run_id, segment_id, name, size, share, means, distinguishing in segments))


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
