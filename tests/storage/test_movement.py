"""Movement between runs and digest deliveries, as the store keeps them."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlite_utils import Database

from segmentation.matching import movement_matrix, movers
from segmentation.result import SegmentationResult, SegmentMatch
from storage import NotFound, Store, StoreError
from storage import store as store_module
from storage.changes import RetiredSegment, RunChanges, StalePublish
from storage.deliveries import DeliveryStatus
from tests.storage.conftest import T0, make_result, publish
from tests.storage.test_query_plan import plans_of


def changes_between(store: Store, result: SegmentationResult, *,
                    retired: tuple[RetiredSegment, ...] = ()) -> RunChanges:
    """Changes of `result` against the current run, every segment matched to the same id."""
    current = store.current_run()
    previous = store.assignment_frame() if current else result.assignments.iloc[:0]
    matches = tuple(SegmentMatch(s.segment_id, s.segment_id if current else None,
                                 0.1 if current else None) for s in result.segments)
    return RunChanges(current.id if current else None, matches, retired,
                      movement_matrix(previous, result.assignments))


def publish_with_changes(store: Store, result: SegmentationResult, minutes: int = 0,
                         **kwargs) -> int:
    changes = changes_between(store, result, **kwargs)
    return store.publish_run(result, started_at=T0 + timedelta(minutes=minutes),
                             finished_at=T0 + timedelta(minutes=minutes, seconds=42),
                             changes=changes)


def movement_counts(frame: pd.DataFrame) -> dict[tuple[str, str], int]:
    return {(row["from"], row["to"]): row["customers"] for _, row in frame.iterrows()}


def test_movement_is_stored_with_the_run_and_matches_a_hand_count(store: Store) -> None:
    # Customers 1000-1005 in segments 1,2,3,1,2,3; then 1002-1007 in segments 1,2,3,1,2,3:
    # 1002: 3→1, 1003: 1→2, 1004: 2→3, 1005: 3→1; 1000 (in 1) and 1001 (in 2) gone;
    # 1006 and 1007 new, in 2 and 3.
    publish_with_changes(store, make_result(n_customers=6, excluded=()))
    run_id = publish_with_changes(store, make_result(n_customers=6, first_id=1002, label="B",
                                                     excluded=()), minutes=60)

    assert movement_counts(store.movement(run_id)) == {
        ("1", "2"): 1, ("1", "gone"): 1, ("2", "3"): 1, ("2", "gone"): 1, ("3", "1"): 2,
        ("new", "2"): 1, ("new", "3"): 1}
    assert list(store.movement(run_id)["from"]) == ["1", "1", "2", "2", "3", "new", "new"]


def test_movers_are_the_customers_whose_segment_changed(store: Store) -> None:
    first = make_result(n_customers=40, excluded=())
    second = make_result(n_customers=40, first_id=1005, shift=1, label="B", excluded=())
    publish_with_changes(store, first)
    publish_with_changes(store, second, minutes=60)

    moved = store.movers()

    expected = movers(first.assignments, second.assignments).sort_values("customer_id")
    assert moved["customer_id"].tolist() == expected["customer_id"].tolist()
    assert moved["from_segment"].tolist() == expected["from_segment"].tolist()
    assert moved["to_segment"].tolist() == expected["to_segment"].tolist()
    assert set(moved["from_name"]) <= {"A segment 1", "A segment 2", "A segment 3"}
    assert set(moved["to_name"]) <= {"B segment 1", "B segment 2", "B segment 3"}
    assert len(moved) == 35  # everyone in both runs moved one segment on


def test_the_first_run_has_no_movers(store: Store) -> None:
    publish(store, make_result())

    assert store.movers().empty
    assert store.movement().empty


def test_movers_read_the_previous_run_by_primary_key(db_path: Path) -> None:
    statements: list[str] = []
    store = Store(db_path, trace=statements.append)
    publish_with_changes(store, make_result(n_customers=300))
    publish_with_changes(store, make_result(n_customers=300, shift=1), minutes=60)
    statements.clear()

    store.movers()

    plan = plans_of(db_path, statements)
    assert "SEARCH prev USING PRIMARY KEY (customer_id=?)" in plan
    assert [step for step in plan if step.startswith("SCAN")] == ["SCAN cur"], plan  # once


def test_matches_and_retired_segments_round_trip(store: Store) -> None:
    publish_with_changes(store, make_result(k=3))
    result = make_result(k=2, label="B")
    changes = RunChanges(1, (SegmentMatch(1, 1, 0.25), SegmentMatch(2, None, None)),
                         (RetiredSegment(3, "A segment 3"),),
                         movement_matrix(store.assignment_frame(), result.assignments))

    run_id = store.publish_run(result, started_at=T0, finished_at=T0, changes=changes)

    assert store.segment_matches(run_id) == [SegmentMatch(1, 1, 0.25), SegmentMatch(2, None,
                                                                                    None)]
    assert store.retired_segments() == [RetiredSegment(3, "A segment 3")]


def test_segment_ids_are_never_reused(store: Store) -> None:
    assert store.next_segment_id() == 1
    publish(store, make_result(k=4))
    assert store.next_segment_id() == 5
    publish(store, make_result(k=2, label="B"), minutes=60)  # segments 3 and 4 retired

    assert store.next_segment_id() == 5


def test_assignment_frame_lists_every_customer_with_their_segment(store: Store) -> None:
    result = make_result(n_customers=25)
    publish(store, result)

    frame = store.assignment_frame()

    expected = result.assignments.sort_values("customer_id")
    assert frame.columns.tolist() == ["customer_id", "segment_id"]
    assert frame["customer_id"].tolist() == expected["customer_id"].tolist()
    assert frame["segment_id"].tolist() == expected["segment_id"].tolist()
    with pytest.raises(NotFound, match="no run 9"):
        store.assignment_frame(9)


def test_changes_are_published_with_the_run_or_not_at_all(
        store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_with_changes(store, make_result())
    monkeypatch.setattr(store_module, "_insert_changes", _write_then_fail)

    with pytest.raises(OSError, match="disk full"):
        publish_with_changes(store, make_result(label="B", shift=1), minutes=60)

    assert store.current_run().id == 1
    with Database(db_path) as db:
        assert db.table("runs").count == 1
        assert db.table("movement").count == len(store.movement(1))
        assert db.execute("SELECT count(*) FROM segment_matches WHERE run_id = 2").fetchone() \
            == (0,)


def _write_then_fail(conn: sqlite3.Connection, run_id: int, changes: RunChanges) -> None:
    store_module.run_changes.insert_changes(conn, run_id, changes)
    raise OSError("disk full")


def test_changes_computed_against_a_superseded_run_are_refused(store: Store) -> None:
    publish(store, make_result())
    result = make_result(label="B", shift=1)
    stale = changes_between(store, result)
    publish(store, make_result(label="C"), minutes=30)  # another refresh won the race

    with pytest.raises(StalePublish, match="compared with run 1, but run 2 was published"):
        store.publish_run(result, started_at=T0, finished_at=T0, changes=stale)

    assert store.current_run().id == 2
    assert [run.id for run in store.list_runs()] == [2, 1]


def test_changes_must_cover_the_runs_segments(store: Store) -> None:
    result = make_result(k=3)
    changes = RunChanges(None, (SegmentMatch(1, None, None),))

    with pytest.raises(StoreError, match=r"segment matches cover segments \[1\]"):
        store.publish_run(result, started_at=T0, finished_at=T0, changes=changes)
    assert store.current_run() is None


def test_a_digest_is_claimed_once_per_run_and_channel(store: Store) -> None:
    run_id = publish(store, make_result())

    assert store.claim_delivery(run_id, "C0DIGEST", at=T0)
    assert not store.claim_delivery(run_id, "C0DIGEST", at=T0)  # being posted
    assert store.claim_delivery(run_id, "C0OTHER", at=T0)  # another channel is another digest
    store.record_digest_message(run_id, "C0DIGEST", "1700000000.000100")
    store.mark_delivered(run_id, "C0DIGEST", at=T0 + timedelta(seconds=3))

    assert not store.claim_delivery(run_id, "C0DIGEST", at=T0 + timedelta(days=1))
    delivery = store.get_delivery(run_id, "C0DIGEST")
    assert (delivery.status, delivery.attempts, delivery.message_ts, delivery.posted_at) == \
        (DeliveryStatus.POSTED, 1, "1700000000.000100", T0 + timedelta(seconds=3))
    with pytest.raises(NotFound):
        store.claim_delivery(99, "C0DIGEST", at=T0)


def test_delivery_statuses_are_stored_as_the_words_existing_stores_hold(
        store: Store, db_path: Path) -> None:
    run_id = publish(store, make_result())
    for channel in ("C0POSTING", "C0POSTED", "C0FAILED"):
        store.claim_delivery(run_id, channel, at=T0)
    store.mark_delivered(run_id, "C0POSTED", at=T0)
    store.mark_failed(run_id, "C0FAILED", "ratelimited")

    with Database(db_path) as db:
        stored = dict(db.execute("SELECT channel, status FROM digest_deliveries").fetchall())
    assert stored == {"C0POSTING": "posting", "C0POSTED": "posted", "C0FAILED": "failed"}
    for channel, status in stored.items():  # and read back as the enum's members
        assert store.get_delivery(run_id, channel).status is DeliveryStatus(status)


def test_a_failed_digest_is_pending_until_claimed_again(db_path: Path) -> None:
    store = Store(db_path)
    run_id = publish(store, make_result())
    store.claim_delivery(run_id, "C0DIGEST", at=T0)
    store.mark_failed(run_id, "C0DIGEST", "ratelimited")

    reopened = Store(db_path)  # as after a restart
    [pending] = reopened.pending_deliveries()
    assert (pending.run_id, pending.channel, pending.error) == (run_id, "C0DIGEST", "ratelimited")
    assert reopened.claim_delivery(run_id, "C0DIGEST", at=T0 + timedelta(hours=1))

    assert reopened.pending_deliveries() == []
    assert reopened.get_delivery(run_id, "C0DIGEST").attempts == 2


def test_racing_claims_have_exactly_one_winner(db_path: Path) -> None:
    run_id = publish(Store(db_path), make_result())
    wins: list[bool] = []
    start = threading.Barrier(8)

    def claim() -> None:
        other = Store(db_path)  # as another process would
        start.wait()
        wins.append(other.claim_delivery(run_id, "C0DIGEST", at=T0))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(wins) == [False] * 7 + [True]
