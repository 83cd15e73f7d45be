"""Segment history: each run's and segment's summary, written with the run, back-filled for
runs stored before, and kept when prune deletes the runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from segmentation.result import SegmentationResult
from storage import NotFound, Store, schema
from storage.segment_history import SegmentHistory
from tests.storage.conftest import T0, make_result

WEEK = timedelta(days=7)


def week(number: int, n_customers: int = 30) -> SegmentationResult:
    """Week 0 has segments 1-3; from week 1 on segment 3 is gone and segment 4 is new."""
    result = make_result(label=f"W{number}", shift=number, n_customers=n_customers)
    return result if number == 0 else result.with_segment_ids({1: 1, 2: 2, 3: 4})


def publish_weeks(store: Store, count: int) -> list[int]:
    return [store.publish_run(week(n, 30 + 6 * n), started_at=T0 + n * WEEK,
                              finished_at=T0 + n * WEEK + timedelta(minutes=1))
            for n in range(count)]


def sizes(history: SegmentHistory, segment_id: int) -> list[tuple[int, int]]:
    return [(s.run_id, s.size) for s in history.of_segment(segment_id)]


def test_each_run_is_summarised_as_it_is_published(store: Store) -> None:
    first, second = publish_weeks(store, 2)

    history = store.segment_history()

    assert [(r.run_id, r.finished_at, r.as_of, r.customers) for r in history.runs] == [
        (first, T0 + timedelta(minutes=1), "2026-03-01", 30),
        (second, T0 + WEEK + timedelta(minutes=1), "2026-03-01", 36)]
    for run_id in (first, second):
        assert {s.segment_id: s.size for s in history.in_run(run_id)} == {
            s.segment_id: s.size for s in store.list_segments(run_id)}
    [segment] = [s for s in history.in_run(second) if s.segment_id == 4]
    profile = store.get_segment(4, second)
    assert (segment.name, segment.share) == (profile.name, profile.share)
    assert segment.means == {"Income": profile.stat("Income").mean}
    assert segment.distinguishing == ("Income",)
    assert history.runs[0].labels == {"Income": "Yearly income"}
    assert history.runs[0].population == {"Income": 50_000.0}


def test_new_and_retired_segments_are_told_by_the_runs_they_are_in(store: Store) -> None:
    first, second, third = publish_weeks(store, 3)

    history = store.segment_history()

    assert history.segment_ids() == [1, 2, 3, 4]
    assert history.first_run(1) is None  # there from the first run
    assert history.first_run(4).run_id == second
    assert history.retired_in(3).run_id == second
    assert history.retired_in(4) is None
    assert sizes(history, 3) == [(first, 10)]


def test_history_survives_pruning(store: Store) -> None:
    run_ids = publish_weeks(store, 4)
    before = store.segment_history()

    report = store.prune_runs(keep=2)

    assert report.removed == (run_ids[1], run_ids[0])
    assert [run.id for run in store.list_runs()] == run_ids[:1:-1]
    after = store.segment_history()
    assert after == before
    assert [r.run_id for r in after.runs] == run_ids
    assert sizes(after, 3) == [(run_ids[0], 10)] and after.retired_in(3).run_id == run_ids[1]


def test_only_the_newest_runs_are_read_when_asked(store: Store) -> None:
    run_ids = publish_weeks(store, 4)

    history = store.segment_history(limit=2)

    assert [r.run_id for r in history.runs] == run_ids[2:]
    assert {s.run_id for s in history.segments} == set(run_ids[2:])
    assert history.first_run(4) is None  # new before the runs read


def test_runs_stored_before_history_are_back_filled_when_the_store_opens(
        db_path: Path) -> None:
    run_ids = publish_weeks(Store(db_path), 3)
    written = Store(db_path).segment_history()
    with Database(db_path) as db, db.conn:  # the store as the release before history left it
        db.execute("DROP TABLE history_runs")
        db.execute("DROP TABLE history_segments")
        db.execute("DELETE FROM _sqlite_migrations WHERE name = '0008_create_segment_history'")
    with Database(db_path) as db:
        assert schema.MIGRATIONS.pending(db.conn) == ["0008_create_segment_history"]

    back_filled = Store(db_path).segment_history()

    assert back_filled == written and [r.run_id for r in back_filled.runs] == run_ids


def test_no_history_before_the_first_run(store: Store) -> None:
    with pytest.raises(NotFound, match="no run has been published yet"):
        store.segment_history()
