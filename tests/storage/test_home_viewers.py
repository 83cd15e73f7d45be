"""Who opened the Home tab: recorded on opening, listed for the next publish, forgotten."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlite_utils import Database

from storage import Store
from storage.home_viewers import HomeViewer
from tests.storage.conftest import T0, legacy_migrations


def test_opening_the_home_twice_keeps_one_row_with_the_latest_time(db_path: Path) -> None:
    store = Store(db_path)
    store.record_home_opened("U0ALICE", "D0ALICE", at=T0)
    store.record_home_opened("U0BOB", "D0BOB", at=T0 + timedelta(minutes=1))
    store.record_home_opened("U0ALICE", None, at=T0 + timedelta(minutes=2))

    assert store.home_viewers() == [
        HomeViewer("U0ALICE", "D0ALICE", T0 + timedelta(minutes=2)),  # the channel is kept
        HomeViewer("U0BOB", "D0BOB", T0 + timedelta(minutes=1)),
    ]


def test_a_forgotten_viewer_is_no_longer_listed(db_path: Path) -> None:
    store = Store(db_path)
    store.record_home_opened("U0ALICE", "D0ALICE", at=T0)

    assert store.forget_home_viewer("U0ALICE") is True
    assert store.forget_home_viewer("U0ALICE") is False
    assert store.home_viewers() == []


def test_a_store_from_before_the_home_gets_the_table_on_opening(db_path: Path) -> None:
    with Database(db_path) as db:
        legacy_migrations("0006_customers_per_run_table").apply(db.conn)
        assert "home_viewers" not in db.table_names()

    store = Store(db_path)
    store.record_home_opened("U0ALICE", "D0ALICE", at=T0)

    assert [viewer.user_id for viewer in store.home_viewers()] == ["U0ALICE"]
