"""A run is published whole or not at all, and readers never see half of one."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from storage import NotFound, Store
from storage import store as store_module
from tests.storage.conftest import make_result, publish

WRITE_STEPS = ["_insert_run", "_insert_segments", "_insert_customers", "_insert_exclusions",
               "_set_current_run"]


def rows_per_table(path: Path) -> dict[str, int]:
    """Rows in every table, the tables of each run included."""
    with Database(path) as db:
        return {table.name: table.count for table in db.tables}


@pytest.mark.parametrize("failing_step", WRITE_STEPS)
def test_a_publish_that_fails_part_way_leaves_the_previous_run_current(
        store: Store, db_path: Path, monkeypatch: pytest.MonkeyPatch, failing_step: str) -> None:
    first = make_result(label="A", n_customers=30)
    publish(store, first)
    before = rows_per_table(db_path)
    customer_before = store.get_customer("1004")
    real_step = getattr(store_module, failing_step)

    def write_then_fail(*args: object) -> None:
        real_step(*args)
        raise OSError("disk I/O error")

    monkeypatch.setattr(store_module, failing_step, write_then_fail)

    with pytest.raises(OSError, match="disk I/O error"):
        publish(store, make_result(label="B", n_customers=40, shift=1, excluded=("X9",)),
                minutes=60)

    assert rows_per_table(db_path) == before
    assert store.current_run().id == 1
    assert [run.id for run in store.list_runs()] == [1]
    assert store.list_segments() == list(first.segments)
    assert store.get_customer("1004") == customer_before
    with pytest.raises(NotFound, match="no customer 1035 in run 1"):
        store.get_customer("1035")
    with pytest.raises(NotFound, match="no customer X9 in run 1"):
        store.get_customer("X9")


def test_the_store_publishes_normally_after_a_failed_publish(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    publish(store, make_result(label="A"))
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "_set_current_run", _fail)
        with pytest.raises(OSError):
            publish(store, make_result(label="B"))

    run_id = publish(store, make_result(label="C"))

    assert store.current_run().id == run_id == 2
    assert store.list_segments()[0].name == "C segment 1"


def _fail(*args: object) -> None:
    raise OSError("disk I/O error")


def test_readers_during_publishes_see_one_whole_run(db_path: Path) -> None:
    runs = {"A": make_result(label="A", k=3, n_customers=6_000),
            "B": make_result(label="B", k=5, n_customers=9_000, shift=2)}
    expected = {label: [(s.segment_id, s.name, s.size) for s in result.segments]
                for label, result in runs.items()}
    # Customer 1004's segment name in each run, to check a lookup against one run too.
    lookups = {"A": "A segment 2", "B": "B segment 2"}
    writer_store = Store(db_path)
    publish(writer_store, runs["A"])
    seen_runs: set[int] = set()
    problems: list[str] = []
    stop = threading.Event()

    def read_until_stopped() -> None:
        reader = Store(db_path)  # a second object on the same file, as another thread has
        while not stop.is_set():
            try:
                check_one_view(reader)
            except Exception as exc:  # surfaced by the asserts below, not lost in the thread
                problems.append(f"reader failed: {exc!r}")
                return

    def check_one_view(reader: Store) -> None:
        segments = [(s.segment_id, s.name, s.size) for s in reader.list_segments()]
        if segments not in expected.values():
            problems.append(f"mixed segments: {segments}")
        name = reader.get_customer("1004").segment_name
        if name not in lookups.values():
            problems.append(f"customer 1004 in unknown segment {name!r}")
        run = reader.current_run()
        if sum(size for _, _, size in expected["A" if run.k == 3 else "B"]) != run.rows_kept:
            problems.append(f"run {run.id} has k={run.k} but keeps {run.rows_kept}")
        seen_runs.add(run.id)

    thread = threading.Thread(target=read_until_stopped)
    thread.start()
    try:
        for number, label in enumerate("BABA", start=2):
            run_id = publish(writer_store, runs[label], minutes=number)
            _wait_until(lambda run_id=run_id: run_id in seen_runs or problems)
    finally:
        stop.set()
        thread.join(timeout=30)

    assert problems == []
    assert seen_runs == {1, 2, 3, 4, 5}


def _wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the reader never saw the new run")
        time.sleep(0.005)
