"""Writers from several threads wait their turn instead of failing with 'database is locked'."""

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.errors import StoreError
from storage.store import Store
from tests.storage.conftest import make_result, publish


def test_publishes_succeed_while_audit_entries_are_written(store: Store) -> None:
    stop = threading.Event()
    audit_errors: list[BaseException] = []

    def audit_writer() -> None:
        while not stop.is_set():
            try:
                store.record_audit(at=datetime.now(UTC), actor="U1", channel="C1",
                                   action="customer", subject="1000", allowed=True)
            except BaseException as error:  # noqa: BLE001 - collected and asserted below
                audit_errors.append(error)
                return

    writer = threading.Thread(target=audit_writer)
    writer.start()
    try:
        run_ids = [publish(store, make_result(n_customers=3000, label=label), minutes=i)
                   for i, label in enumerate("ABCDE")]
    finally:
        stop.set()
        writer.join(timeout=30)
    assert audit_errors == []
    assert store.current_run().id == run_ids[-1]
    assert len(store.audit_entries(limit=100_000)) > 0


def test_a_new_store_opens_while_another_process_holds_its_write_lock(tmp_path: Path) -> None:
    # Two `segbot serve` starting on one new file: SQLite refuses the switch to WAL at once
    # (no busy wait) while the other holds the write lock; opening must wait, not fail.
    path = tmp_path / "segbot.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE other_opener (x)")
    other.execute("BEGIN IMMEDIATE")
    releaser = threading.Timer(0.3, other.execute, ["COMMIT"])
    releaser.start()
    try:
        store = Store(path, busy_timeout=10)
    finally:
        releaser.join()
        other.close()
    assert store.current_run() is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_store_held_longer_than_its_busy_timeout_says_it_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "segbot.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("CREATE TABLE other_opener (x)")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreError, match="database is locked"):
            Store(path, busy_timeout=0.2)
    finally:
        other.close()
