"""Retention: old runs are deleted whole, in one transaction, and segment ids stay unique."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import Store, StoreError, schema
from storage.changes import RetiredSegment
from storage.run_tables import run_table
from tests.storage.conftest import T0, make_result, publish, shipped_migrations
from tests.storage.test_movement import publish_with_changes

HISTORY = ("history_runs", "history_segments")  # the summaries prune keeps for history


def rows_of_run(db_path: Path, run_id: int) -> dict[str, int]:
    """Rows that still belong to ``run_id``, per table: every table with a run_id column but
    the history, and the run's own tables (``run_<id>_<kind>``, counted as ``kind``; 0 once
    dropped), found here through sqlite-utils rather than the queries prune uses."""
    own = f"run_{run_id}_"
    with Database(db_path) as db:
        counts = {table.name: table.count_where("run_id = ?", [run_id])
                  for table in db.tables
                  if "run_id" in table.columns_dict and table.name not in HISTORY}
        counts["runs"] = db.table("runs").count_where("id = ?", [run_id])
        counts["customers"] = 0
        counts |= {table.name.removeprefix(own): table.count
                   for table in db.tables if table.name.startswith(own)}
    return counts


def publish_four_runs(store: Store) -> list[int]:
    """Four runs with a row of their own in every table keyed by run."""
    run_ids = []
    for week in range(4):
        run_ids.append(publish_with_changes(store, make_result(label=f"W{week}", shift=week),
                                            minutes=60 * week,
                                            retired=(RetiredSegment(9, "Old segment"),)))
        store.claim_delivery(run_ids[-1], "C123", at=T0)
    return run_ids


def test_prune_keeps_the_newest_runs_and_deletes_every_row_of_the_others(
        store: Store, db_path: Path) -> None:
    first, second, third, fourth = publish_four_runs(store)
    assert 0 not in rows_of_run(db_path, first).values()  # so the zeros below mean deleted

    report = store.prune_runs(keep=2)

    assert report.removed == (second, first)
    assert report.kept == (fourth, third)
    assert report.customer_rows == 60  # 30 customers in each removed run
    for run_id in (first, second):
        assert set(rows_of_run(db_path, run_id).values()) == {0}
    for run_id in (third, fourth):
        kept = rows_of_run(db_path, run_id)
        assert kept["runs"] == kept["digest_deliveries"] == 1
        assert kept["customers"] == 30 and kept["segments"] == 3 and kept["movement"] > 0
    assert [run.id for run in store.list_runs()] == [fourth, third]
    assert store.current_run().id == fourth
    assert store.previous_run(fourth).id == third
    assert [entry.run_id for entry in store.get_customer("1005").history] == [fourth, third]
    with Database(db_path) as db:  # the summaries of every run stay, for /segments history
        assert [db.table(name).count_where("run_id = ?", [first]) for name in HISTORY] == [1, 3]


def test_prune_with_nothing_old_enough_changes_nothing(store: Store, db_path: Path) -> None:
    only = publish(store, make_result())

    report = store.prune_runs(keep=2)

    assert report.removed == () and report.kept == (only,) and report.customer_rows == 0
    assert rows_of_run(db_path, only)["customers"] == 30


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


def test_a_table_added_by_a_later_migration_is_pruned_with_its_run(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    later = shipped_migrations()

    @later(name="0099_create_campaign_sends")
    def create_campaign_sends(db: Database) -> None:
        db.table("campaign_sends").create({"run_id": int, "segment_id": int, "tool": str},
                                          pk=("run_id", "segment_id"))

    monkeypatch.setattr(schema, "MIGRATIONS", later)
    store = Store(db_path)
    run_ids = publish_four_runs(store)
    with Database(db_path) as db:
        db.table("campaign_sends").insert_all(
            [{"run_id": run_id, "segment_id": 1, "tool": "mailer"} for run_id in run_ids])

    store.prune_runs(keep=2)

    first, second, third, fourth = run_ids
    assert rows_of_run(db_path, first)["campaign_sends"] == 0
    assert rows_of_run(db_path, second)["campaign_sends"] == 0
    assert rows_of_run(db_path, third)["campaign_sends"] == 1
    assert rows_of_run(db_path, fourth)["campaign_sends"] == 1


def test_every_table_of_a_removed_run_is_dropped_whatever_its_kind(
        store: Store, db_path: Path) -> None:
    run_ids = publish_four_runs(store)
    # A per-run table of a kind a later release might add (an order history per run).
    with Database(db_path) as db:
        for run_id in run_ids:
            db.table(run_table(run_id, "orders")).insert({"order_id": 1, "amount": 9.5})

    report = store.prune_runs(keep=2)

    first, second, third, fourth = run_ids
    for run_id in (first, second):
        assert rows_of_run(db_path, run_id)["customers"] == 0
        assert "orders" not in rows_of_run(db_path, run_id)
    for run_id in (third, fourth):
        assert rows_of_run(db_path, run_id)["orders"] == 1
    assert report.customer_rows == 60
    with Database(db_path) as db:
        assert sorted(name for name in db.table_names() if name.startswith("run_")) == [
            f"run_{third}_customers", f"run_{third}_orders",
            f"run_{fourth}_customers", f"run_{fourth}_orders"]


def test_a_failure_part_way_deletes_nothing(store: Store, db_path: Path) -> None:
    first, *_ = publish_four_runs(store)
    # A run-keyed table that refuses deletes, named to come after the tables already emptied.
    with Database(db_path) as db:
        db.table("write_once_log").create({"run_id": int, "note": str})
        db.table("write_once_log").insert({"run_id": first, "note": "kept forever"})
        db.execute("CREATE TRIGGER keep_log BEFORE DELETE ON write_once_log "
                   "BEGIN SELECT RAISE(ABORT, 'write_once_log is append-only'); END")

    with pytest.raises(StoreError, match="could not delete old runs.*append-only"):
        store.prune_runs(keep=2)

    assert rows_of_run(db_path, first)["customers"] == 30
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
