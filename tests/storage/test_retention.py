"""Retention: old runs are deleted whole, in one transaction, and segment ids stay unique."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage import Store, StoreError, retention
from tests.storage.conftest import T0, make_result, publish
from tests.storage.test_movement import publish_with_changes

RUN_TABLES = retention.RUN_TABLES  # as shipped, before any test patches it


def rows_of_run(db_path: Path, run_id: int) -> dict[str, int]:
    """Rows that still belong to ``run_id``, per table."""
    with sqlite3.connect(db_path) as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                                      [run_id]).fetchone()[0]
                  for table in RUN_TABLES}
        counts["runs"] = conn.execute("SELECT count(*) FROM runs WHERE id = ?",
                                      [run_id]).fetchone()[0]
    return counts


def publish_four_runs(store: Store) -> list[int]:
    run_ids = []
    for week in range(4):
        run_ids.append(publish_with_changes(store, make_result(label=f"W{week}", shift=week),
                                            minutes=60 * week))
        store.claim_delivery(run_ids[-1], "C123", at=T0)
    return run_ids


def test_prune_keeps_the_newest_runs_and_deletes_every_row_of_the_others(
        store: Store, db_path: Path) -> None:
    first, second, third, fourth = publish_four_runs(store)

    report = store.prune_runs(keep=2)

    assert report.removed == (second, first)
    assert report.kept == (fourth, third)
    assert report.customer_rows == 60  # 30 customers in each removed run
    for run_id in (first, second):
        assert set(rows_of_run(db_path, run_id).values()) == {0}
    for run_id in (third, fourth):
        kept = rows_of_run(db_path, run_id)
        assert kept["runs"] == kept["digest_deliveries"] == 1
        assert kept["assignments"] == 30 and kept["segments"] == 3 and kept["movement"] > 0
    assert [run.id for run in store.list_runs()] == [fourth, third]
    assert store.current_run().id == fourth
    assert store.previous_run(fourth).id == third
    assert [entry.run_id for entry in store.get_customer("1005").history] == [fourth, third]


def test_prune_with_nothing_old_enough_changes_nothing(store: Store, db_path: Path) -> None:
    only = publish(store, make_result())

    report = store.prune_runs(keep=2)

    assert report.removed == () and report.kept == (only,) and report.customer_rows == 0
    assert rows_of_run(db_path, only)["assignments"] == 30


@pytest.mark.parametrize("keep", [1, 0, -3])
def test_keeping_fewer_than_two_runs_is_refused(store: Store, keep: int) -> None:
    run_ids = publish_four_runs(store)

    with pytest.raises(ValueError, match="keep at least 2 runs"):
        store.prune_runs(keep=keep)

    assert [run.id for run in store.list_runs()] == run_ids[::-1]


def test_segment_ids_of_deleted_runs_are_never_given_out_again(store: Store) -> None:
    publish(store, make_result(k=6, label="Wide"))  # segments 1-6
    publish(store, make_result(k=3), minutes=60)  # segments 1-3
    publish(store, make_result(k=3), minutes=120)
    assert store.next_segment_id() == 7

    store.prune_runs(keep=2)

    assert store.next_segment_id() == 7  # 4-6 lived only in the deleted run


def test_a_failure_part_way_deletes_nothing(store: Store, db_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first, *_ = publish_four_runs(store)
    # the last table fails after the others were already emptied
    monkeypatch.setattr(retention, "RUN_TABLES", (*retention.RUN_TABLES, "no_such_table"))

    with pytest.raises(StoreError, match="could not delete old runs.*no_such_table"):
        store.prune_runs(keep=2)

    assert rows_of_run(db_path, first)["assignments"] == 30
    assert len(store.list_runs()) == 4


def test_freed_space_is_reported_and_vacuum_returns_it_to_the_disk(
        store: Store, db_path: Path) -> None:
    for week in range(3):
        publish(store, make_result(n_customers=4_000, label=f"W{week}"), minutes=60 * week)
    store.prune_runs(keep=2)
    freed = store.free_bytes()
    size_before = db_path.stat().st_size

    store.vacuum()

    assert freed > 100_000
    assert store.free_bytes() == 0
    assert db_path.stat().st_size <= size_before - freed // 2
    assert store.current_run() is not None
