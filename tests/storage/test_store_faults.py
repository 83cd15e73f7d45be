"""A full disk or a damaged file: one clear error, and the published runs stay whole."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import Store
from storage.errors import Access, StoreDamaged, StoreUnavailable, unavailable
from tests.faults import (
    NO_ROOM,
    file_size_limit,
    integrity,
    overwrite_page,
    rows_per_table,
    spoil_text,
    table_page,
)
from tests.storage.conftest import make_result, publish

REMEDY_DAMAGED = ("restore it from a backup, or move it aside: the next refresh starts a new "
                  "store")


def test_a_publish_that_fills_the_disk_leaves_the_previous_run_whole(
        store: Store, db_path: Path) -> None:
    first = make_result(label="A", n_customers=30)
    publish(store, first)
    before = rows_per_table(db_path)
    customer = store.get_customer("1004")

    with file_size_limit(NO_ROOM), pytest.raises(StoreUnavailable) as raised:
        publish(store, make_result(label="B", n_customers=20_000, shift=1), minutes=60)

    assert str(raised.value) == (
        f"cannot write the store {db_path}: its disk reported an error (disk I/O error); "
        "check that the disk has free space and is not failing (the system log says more)")
    assert rows_per_table(db_path) == before
    assert integrity(db_path) == "ok"
    reopened = Store(db_path)
    assert reopened.current_run().id == 1
    assert reopened.list_segments() == list(first.segments)
    assert reopened.get_customer("1004") == customer
    assert publish(reopened, make_result(label="C"), minutes=120) == 2  # space is back


def test_a_full_disk_is_named_with_what_to_do(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn, pytest.raises(sqlite3.Error) as raised:
        conn.execute("PRAGMA max_page_count = 2")  # SQLite's own "disk is full", for real
        conn.execute("CREATE TABLE a (x)")
        conn.execute("CREATE TABLE b (x)")

    error = unavailable(raised.value, db_path, Access.WRITE)

    assert isinstance(error, StoreUnavailable) and not isinstance(error, StoreDamaged)
    assert str(error) == (f"cannot write the store {db_path}: its disk is full (database or "
                          "disk is full); free some space, or move the store to a disk with room")


def test_errors_that_are_not_the_files_fault_are_not_disguised(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn, pytest.raises(sqlite3.Error) as raised:
        conn.execute("SELECT * FROM no_such_table")

    assert unavailable(raised.value, db_path, Access.READ) is None


def test_a_store_whose_header_is_damaged_cannot_be_opened(store: Store, db_path: Path) -> None:
    publish(store, make_result(label="A"))
    overwrite_page(db_path, 1)

    with pytest.raises(StoreDamaged) as raised:
        Store(db_path)

    assert str(raised.value) == (
        f"cannot open the store {db_path}: it is not a SQLite database, or its first page is "
        f"damaged (file is not a database); {REMEDY_DAMAGED}")
    with pytest.raises(StoreDamaged, match=f"^cannot read the store {db_path}: "):
        store.current_run()  # the running bot's store, opened before the damage


@pytest.mark.parametrize("damage, detail", [
    (lambda path: overwrite_page(path, table_page(path, "segments")),
     "database disk image is malformed"),
    (lambda path: spoil_text(path, "Email A segment"), "it holds text that is not UTF-8"),
], ids=["a page of the segments table", "bytes inside a segment's text"])
def test_a_damaged_table_is_reported_when_read(store: Store, db_path: Path, damage,
                                               detail: str) -> None:
    publish(store, make_result(label="A"))
    damage(db_path)
    reopened = Store(db_path)  # the schema and the runs table are intact

    assert reopened.current_run().id == 1
    for read in (reopened.list_segments, lambda: reopened.get_segment(1)):
        with pytest.raises(StoreDamaged) as raised:
            read()
        assert str(raised.value) == (
            f"cannot read the store {db_path}: it is damaged ({detail}); {REMEDY_DAMAGED}")
