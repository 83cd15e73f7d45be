"""Writers from several threads wait their turn instead of failing with 'database is locked'."""

import threading
from datetime import UTC, datetime

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
