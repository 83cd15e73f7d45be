"""Each run's customers in a typed table: what filters will query, and stores from before it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlite_utils import Database

from storage import CustomerRecord, NotFound, Store, customers, schema
from storage.customers import made_ahead
from tests.storage.conftest import (
    legacy_migrations,
    make_result,
    publish,
    publish_legacy,
)


def column_types(db_path: Path, table: str) -> dict[str, str]:
    with closing(sqlite3.connect(db_path)) as conn:
        return {name: sql_type for _, name, sql_type, *_ in
                conn.execute(f"PRAGMA table_info({table})")}


def test_attributes_are_typed_columns_a_filter_can_query(store: Store, db_path: Path) -> None:
    result = make_result(n_customers=200)
    publish(store, result)

    assert column_types(db_path, "run_1_customers") == {
        "customer_id": "TEXT", "segment_id": "INTEGER", "distance": "REAL",
        "Income": "REAL", "Kidhome": "INTEGER", "Marital_Status": "TEXT",
        "Dt_Customer": "TEXT", "Complain": "BOOLEAN"}
    attributes = result.attributes
    expected = attributes[(attributes["Income"] > 50_000) & (attributes["Kidhome"] >= 1)
                          & (attributes["Marital_Status"] == "Married")
                          & (attributes["Dt_Customer"] < "2020-03-01") & attributes["Complain"]]
    with closing(sqlite3.connect(db_path)) as conn:
        (count,) = conn.execute(
            'SELECT count(*) FROM run_1_customers WHERE "Income" > ? AND "Kidhome" >= ? '
            'AND "Marital_Status" = ? AND "Dt_Customer" < ? AND "Complain"',
            [50_000, 1, "Married", "2020-03-01"]).fetchone()
    assert count == len(expected) > 0


def test_attribute_names_sqlite_would_confuse_are_stored_and_read_back(
        store: Store, db_path: Path) -> None:
    result = make_result(n_customers=3, k=1, excluded=())
    names = ["Distance", "income", "Income", 'Say "hi"', "", "segment_id"]
    attributes = pd.DataFrame({"customer_id": ["1000", "1001", "1002"],
                               **{name: [i, i + 1, i + 2] for i, name in enumerate(names)}})
    publish(store, replace(result, attributes=attributes))

    assert store.get_customer("1001").attributes == {
        "Distance": 1, "income": 2, "Income": 3, 'Say "hi"': 4, "": 5, "segment_id": 6}
    assert store.get_customer("1001").distance == pytest.approx(0.1001)
    assert list(store.segment_members(1).columns) == ["customer_id", "distance", *names]
    assert list(column_types(db_path, "run_1_customers"))[3:] == [
        "Distance_2", "income", "Income_2", 'Say "hi"', "attribute", "segment_id_2"]


def test_values_without_a_column_type_of_their_own_are_stored_as_text(store: Store) -> None:
    result = make_result(n_customers=3, k=1, excluded=())
    attributes = pd.DataFrame({
        "customer_id": ["1000", "1001", "1002"],
        "Mixed": pd.Series([1, "two", None], dtype=object),
        "Codes": pd.Categorical([3, 1, 3]),
        "Flags": pd.array([True, None, False], dtype="boolean"),
        "Big": np.array([2**63 + 5, 0, 1], dtype="uint64"),
    })
    publish(store, replace(result, attributes=attributes))

    assert store.get_customer("1000").attributes == {
        "Mixed": "1", "Codes": 3, "Flags": True, "Big": float(2**63 + 5)}
    assert store.get_customer("1001").attributes == {
        "Mixed": "two", "Codes": 1, "Flags": None, "Big": 0.0}
    members = store.segment_members(1).set_index("customer_id")
    assert members["Flags"].tolist() == [True, None, False]


def lookup(store: Store, customer_id: str) -> CustomerRecord | str:
    try:
        return store.get_customer(customer_id)
    except NotFound as error:
        return str(error)


def open_legacy_store(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store last opened by the release before customers tables (through 0005)."""
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", legacy_migrations())
        Store(db_path)


def test_runs_stored_as_json_are_moved_to_typed_tables_on_open(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_legacy_store(db_path, monkeypatch)
    first, second = make_result(label="A"), make_result(label="B", shift=1, n_customers=25)
    publish_legacy(db_path, first)
    publish_legacy(db_path, second, minutes=60)
    fresh = Store(db_path.with_name("fresh.db"))  # the same runs published by this release
    publish(fresh, first)
    publish(fresh, second, minutes=60)

    store = Store(db_path)

    with Database(db_path) as db:
        assert "assignments" not in db.table_names()
        assert {"run_1_customers", "run_2_customers"} <= set(db.table_names())
    assert column_types(db_path, "run_1_customers") == column_types(
        db_path.with_name("fresh.db"), "run_1_customers")
    for customer_id in ("1000", "1001", "1004", "1024", "1029", "X1", "999"):
        assert lookup(store, customer_id) == lookup(fresh, customer_id)
    assert store.get_customer("1004").attributes["Complain"] is True
    for segment_id in (1, 2, 3):
        pd.testing.assert_frame_equal(store.segment_members(segment_id),
                                      fresh.segment_members(segment_id))
        pd.testing.assert_frame_equal(store.segment_members(segment_id, run_id=1),
                                      fresh.segment_members(segment_id, run_id=1))
    pd.testing.assert_frame_equal(store.movers(), fresh.movers())
    pd.testing.assert_frame_equal(store.assignment_frame(1), fresh.assignment_frame(1))


def test_a_migrated_store_publishes_and_prunes_as_a_new_one(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_legacy_store(db_path, monkeypatch)
    for week in range(2):
        publish_legacy(db_path, make_result(label=f"W{week}"), minutes=60 * week)
    store = Store(db_path)

    third = publish(store, make_result(label="W2", shift=1), minutes=120)
    report = store.prune_runs(keep=2)

    assert report.removed == (1,) and report.customer_rows == 30
    assert [h.run_id for h in store.get_customer("1004").history] == [third, 2]
    assert len(store.movers()) == 30  # every customer moved one segment on
    with Database(db_path) as db:
        assert sorted(n for n in db.table_names() if n.startswith("run_")) == [
            "run_2_customers", "run_3_customers"]


def test_a_legacy_run_of_empty_and_all_missing_attributes_migrates(
        db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_legacy_store(db_path, monkeypatch)
    result = make_result(n_customers=3, k=1, excluded=())
    publish_legacy(db_path, replace(result, attributes=pd.DataFrame({
        "customer_id": ["1000", "1001", "1002"], "Notes": [None, None, None],
        "Score": [1, 2.5, None]})))

    store = Store(db_path)

    assert column_types(db_path, "run_1_customers")["Notes"] == "TEXT"
    assert column_types(db_path, "run_1_customers")["Score"] == "REAL"
    assert store.get_customer("1000").attributes == {"Notes": None, "Score": 1.0}


def test_rows_are_made_one_ahead_in_order_and_a_failure_comes_in_its_place() -> None:
    made: list[int] = []

    def chunks() -> Iterator[int]:
        for i in range(4):
            if i == 3:
                raise ValueError("chunk 3 cannot be made")
            made.append(i)
            yield i

    used = []
    ahead = made_ahead(chunks())
    for item in ahead:
        used.append(item)
        assert len(made) <= item + 2  # the item in use, and at most the next
        if item == 2:
            break
    assert used == [0, 1, 2]
    with pytest.raises(ValueError, match="chunk 3"):
        next(ahead)


def test_a_chunk_that_cannot_be_made_publishes_nothing(store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    publish(store, make_result(label="A"))
    chunks = customers.CustomerRows.chunks

    def broken(rows: customers.CustomerRows, size: int = customers.CHUNK_ROWS
               ) -> Iterator[list[list[object]]]:
        yield next(chunks(rows, size=10))
        raise MemoryError("no memory for the second chunk")

    monkeypatch.setattr(customers.CustomerRows, "chunks", broken)
    with pytest.raises(MemoryError):
        publish(store, make_result(label="B", n_customers=30))
    assert [run.id for run in store.list_runs()] == [1]
    assert store.get_segment(1).name.startswith("A")
