"""Migrations: applied on open, once, and appendable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from storage import Store, schema
from tests.storage.conftest import (
    legacy_migrations,
    make_result,
    publish,
    shipped_migrations,
)

TABLES = {"runs", "segments", "exclusions", "meta", "audit",
          "segment_matches", "retired_segments", "movement", "digest_deliveries",
          "home_viewers", "history_runs", "history_segments", "_sqlite_migrations"}
SHIPPED = ["0001_create_run_tables", "0002_create_audit", "0003_create_run_changes",
           "0004_create_digest_deliveries", "0005_audit_destination",
           "0006_customers_per_run_table", "0007_create_home_viewers",
           "0008_create_segment_history", "0009_run_forecast", "0010_run_model_spec"]


def applied_names(path: Path) -> list[str]:
    with Database(path) as db:  # as sqlite-utils, which applies them, sees them
        return [m.name for m in Migrations("segbot").applied(db)]


def test_opening_creates_every_table_and_records_the_migration(db_path: Path) -> None:
    Store(db_path)

    with Database(db_path) as db:
        assert TABLES <= set(db.table_names())
        assert db.journal_mode == "wal"
    assert applied_names(db_path) == SHIPPED


def test_opening_an_existing_store_changes_nothing(db_path: Path) -> None:
    store = Store(db_path)
    run_id = publish(store, make_result())

    reopened = Store(db_path)

    assert applied_names(db_path) == SHIPPED
    assert reopened.current_run().id == run_id
    assert len(reopened.list_segments()) == 3


def test_a_migration_appended_later_runs_once_on_an_existing_store(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(db_path)
    publish(store, make_result())
    later = shipped_migrations()

    @later(name="0099_add_campaign_log")
    def add_campaign_log(db: Database) -> None:
        db.table("campaign_log").create({"id": int, "run_id": int}, pk="id")

    monkeypatch.setattr(schema, "MIGRATIONS", later)

    Store(db_path)
    Store(db_path)

    assert applied_names(db_path) == [*SHIPPED, "0099_add_campaign_log"]
    with Database(db_path) as db:
        assert "campaign_log" in db.table_names()
    assert Store(db_path).current_run().k == 3


def test_a_failing_migration_leaves_no_trace(db_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    Store(db_path)
    later = shipped_migrations()

    @later(name="0099_broken")
    def broken(db: Database) -> None:
        db.table("half_done").create({"id": int}, pk="id")
        raise RuntimeError("bad migration")

    monkeypatch.setattr(schema, "MIGRATIONS", later)

    with pytest.raises(RuntimeError, match="bad migration"):
        Store(db_path)

    assert applied_names(db_path) == SHIPPED
    with Database(db_path) as db:
        assert "half_done" not in db.table_names()


def test_the_pending_migrations_are_those_sqlite_utils_would_apply(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The store reads what is pending without sqlite-utils (it loads pandas), from the table
    # sqlite-utils keeps: both must agree on a new file, an old release's file and a current one.
    def pending() -> tuple[list[str], list[str]]:
        applier = Migrations("segbot")
        for name, migration in schema.MIGRATIONS.migrations:
            applier(name=name)(migration)
        with Database(db_path) as db:
            return schema.MIGRATIONS.pending(db.conn), [m.name for m in applier.pending(db)]

    assert pending() == (SHIPPED, SHIPPED)
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", legacy_migrations("0005_audit_destination"))
        Store(db_path)
    assert pending() == (SHIPPED[5:], SHIPPED[5:])
    Store(db_path)
    assert pending() == ([], [])
