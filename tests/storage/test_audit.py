"""The audit log: every request for customer-level data, allowed or not, kept in order."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage import Store, schema
from tests.storage.conftest import T0, legacy_migrations, make_result, publish_legacy


def test_entries_come_back_newest_first_with_every_field(store: Store) -> None:
    store.record_audit(at=T0, actor="U1", channel="C1", action="customer", subject="5524",
                       allowed=True)
    store.record_audit(at=T0 + timedelta(seconds=5), actor="U2", channel=None,
                       action="export", subject="3", allowed=False)

    newest, oldest = store.audit_entries()

    assert (newest.at, newest.actor, newest.channel, newest.action, newest.subject,
            newest.allowed) == (T0 + timedelta(seconds=5), "U2", None, "export", "3", False)
    assert (oldest.actor, oldest.subject, oldest.allowed) == ("U1", "5524", True)
    assert [e.subject for e in store.audit_entries(actor="U1")] == ["5524"]
    assert len(store.audit_entries(limit=1)) == 1


def test_times_keep_their_offset(store: Store) -> None:
    paris = datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    store.record_audit(at=paris, actor="U1", channel="C1", action="customer", subject="1",
                       allowed=True)
    assert store.audit_entries()[0].at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="timezone"):
        store.record_audit(at=datetime(2026, 3, 2, 9, 0), actor="U1", channel="C1",
                           action="customer", subject="1", allowed=True)
    assert store.audit_entries() == []


def test_the_audit_table_is_added_to_a_store_created_before_it(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", legacy_migrations("0001_create_run_tables"))
    Store(db_path)
    monkeypatch.undo()
    run_id = publish_legacy(db_path, make_result())

    store = Store(db_path)
    store.record_audit(at=T0, actor="U1", channel="C1", action="customer", subject="1",
                       allowed=True)

    assert len(store.audit_entries()) == 1
    assert store.current_run().id == run_id


def test_concurrent_writers_all_get_their_entry_in(store: Store) -> None:
    def write(worker: int) -> None:
        for i in range(25):
            store.record_audit(at=T0, actor=f"U{worker}", channel="C1", action="customer",
                               subject=str(i), allowed=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))

    assert len(store.audit_entries(limit=1000)) == 200
