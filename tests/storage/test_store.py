"""Publishing a run and every question the bot asks of the store."""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from storage import NoPublishedRun, NotFound, Store, StoreError, customers
from storage.store import describe_ids
from storage.transactions import NEW_FILE_PAGE_SIZE
from tests.storage.conftest import T0, make_result, publish


def test_an_empty_store_says_how_to_get_segments(store: Store) -> None:
    assert store.current_run() is None
    assert store.list_runs() == []
    for ask in (store.list_segments, lambda: store.get_segment(1),
                lambda: store.get_customer("1000"), store.projection,
                lambda: store.segment_members(1)):
        with pytest.raises(NoPublishedRun, match=r"run `segbot refresh --data FILE` first"):
            ask()
    with pytest.raises(NotFound, match="no run 1; nothing has been published yet"):
        store.get_run(1)


def test_published_run_reads_back_whole(store: Store) -> None:
    result = make_result()
    run_id = publish(store, result)

    run = store.current_run()
    assert run is not None and run.id == run_id == store.get_run(run_id).id
    assert (run.status, run.source, run.seed, run.as_of) == (
        "published", "customers.csv", 7, "2026-03-01")
    assert run.started_at == T0 and run.started_at.tzinfo is not None
    assert run.duration_seconds == 42
    assert (run.rows_in, run.rows_kept, run.rows_dropped) == (32, 30, 2)
    assert (run.k, run.k_method, run.k_reason) == (3, "elbow", "k=3 is where the elbow bends")
    assert run.elbow == result.k_selection
    assert run.cleaning == result.cleaning
    assert run.columns == result.columns
    assert run.silhouette == pytest.approx(0.31)
    assert run.features == ("Income", "Kidhome") and run.profile_features == ("Income",)
    assert run.feature_labels == {"Income": "Yearly income"}
    assert run.population == result.population
    assert run.explained_variance == (0.42, 0.21)
    assert run.attribute_columns == ("Income", "Kidhome", "Marital_Status", "Dt_Customer",
                                     "Complain")


def test_run_times_are_stored_in_utc(store: Store) -> None:
    paris = timezone(timedelta(hours=1))
    store.publish_run(make_result(), started_at=datetime(2026, 3, 2, 10, 0, tzinfo=paris),
                      finished_at=datetime(2026, 3, 2, 10, 1, tzinfo=paris))

    run = store.current_run()
    assert run.started_at == T0 and run.started_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="started_at must be timezone-aware"):
        store.publish_run(make_result(), started_at=datetime(2026, 3, 2),
                          finished_at=T0)
    assert store.current_run() is None


def test_segments_read_back_equal_to_what_was_published(store: Store) -> None:
    result = make_result(k=4)
    publish(store, result)

    assert store.list_segments() == list(result.segments)
    assert [s.segment_id for s in store.list_segments()] == [1, 2, 3, 4]
    assert store.get_segment(2) == result.segment(2)


def test_unknown_segment_names_the_valid_ids(store: Store) -> None:
    publish(store, make_result(k=5))

    with pytest.raises(NotFound, match=r"^no segment 9 in run 1; segments are 1-5$"):
        store.get_segment(9)
    with pytest.raises(NotFound, match=r"^no segment 0 in run 1; segments are 1-5$"):
        store.segment_members(0)


def test_unknown_run_names_the_latest(store: Store) -> None:
    publish(store, make_result())

    with pytest.raises(NotFound, match=r"^no run 7; the latest run is 1$"):
        store.list_segments(run_id=7)
    with pytest.raises(NotFound, match=r"^no run 7; the latest run is 1$"):
        store.previous_run(7)


def test_customer_in_the_current_run(store: Store) -> None:
    publish(store, make_result())

    customer = store.get_customer("  1004 \n")

    assert customer.customer_id == "1004"
    assert (customer.run_id, customer.segment_id, customer.segment_name) == (
        1, 2, "A segment 2")
    assert customer.distance == pytest.approx(0.4004)
    assert not customer.excluded and customer.excluded_reason is None
    assert customer.attributes["Kidhome"] == 1
    assert customer.attributes["Marital_Status"] == "Married"
    assert customer.attributes["Dt_Customer"] == "2020-01-05T00:00:00"
    assert customer.attributes["Complain"] is True
    assert customer.history == ((1, T0 + timedelta(seconds=42), 2, "A segment 2"),)


def test_missing_attribute_values_come_back_as_none(store: Store) -> None:
    result = make_result()
    publish(store, result)

    customer = store.get_customer("1001")

    assert customer.attributes["Income"] is None
    assert store.get_customer("1002").attributes["Income"] == pytest.approx(
        result.attributes["Income"].iloc[2])


def test_excluded_customer_gets_the_cleaning_reason(store: Store) -> None:
    publish(store, make_result(excluded=("X1", "X2")))

    customer = store.get_customer("X2")

    assert customer.excluded
    assert customer.excluded_reason == "X2: income missing"
    assert (customer.segment_id, customer.segment_name, customer.distance) == (None, None, None)
    assert customer.attributes == {} and customer.history == ()


def test_unknown_customer(store: Store) -> None:
    publish(store, make_result())

    with pytest.raises(NotFound, match=r"^no customer 999 in run 1$"):
        store.get_customer("999")
    with pytest.raises(NotFound, match="no customer id given"):
        store.get_customer("   ")


def test_customer_history_across_runs_newest_first(store: Store) -> None:
    publish(store, make_result(label="A"))
    publish(store, make_result(label="B", shift=1, n_customers=25), minutes=60)

    customer = store.get_customer("1004")

    assert customer.run_id == 2 and customer.segment_name == "B segment 3"
    assert [(h.run_id, h.segment_id, h.segment_name) for h in customer.history] == [
        (2, 3, "B segment 3"), (1, 2, "A segment 2")]
    assert customer.history[0].finished_at == T0 + timedelta(minutes=60, seconds=42)


def test_customer_only_in_an_older_run_is_pointed_there(store: Store) -> None:
    publish(store, make_result(label="A", n_customers=30))
    publish(store, make_result(label="B", n_customers=20), minutes=60)

    with pytest.raises(NotFound, match=r"^no customer 1025 in run 2; they were last "
                                       r"segmented in run 1 \(segment 2, A segment 2\)$"):
        store.get_customer("1025")


def test_customer_excluded_from_the_latest_run_keeps_history(store: Store) -> None:
    publish(store, make_result(label="A"))
    publish(store, make_result(label="B", first_id=1010, excluded=("1003",)), minutes=60)

    customer = store.get_customer("1003")

    assert customer.excluded_reason == "1003: income missing"
    assert [h.run_id for h in customer.history] == [1]


def test_runs_newest_first_and_previous_run(store: Store) -> None:
    for minutes in (0, 60, 120):
        publish(store, make_result(), minutes=minutes)

    assert [run.id for run in store.list_runs()] == [3, 2, 1]
    assert [run.id for run in store.list_runs(limit=2)] == [3, 2]
    assert store.previous_run(3).id == 2
    assert store.previous_run(1) is None


def test_older_runs_stay_readable(store: Store) -> None:
    first = make_result(label="A", k=3)
    publish(store, first)
    publish(store, make_result(label="B", k=4), minutes=60)

    assert store.current_run().k == 4
    assert store.list_segments(run_id=1) == list(first.segments)
    assert store.get_segment(3, run_id=1).name == "A segment 3"
    assert store.projection(run_id=1).equals(first.projection)


def test_segment_members_most_typical_first(store: Store) -> None:
    publish(store, make_result(n_customers=30, k=3))

    members = store.segment_members(1)

    # customers 1000, 1003, ... are in segment 1; distance is (i % 10) / 10 + i / 10_000
    expected = sorted((str(1000 + i) for i in range(0, 30, 3)),
                      key=lambda c: ((int(c) - 1000) % 10, int(c)))
    assert list(members.columns) == ["customer_id", "distance", "Income", "Kidhome",
                                     "Marital_Status", "Dt_Customer", "Complain"]
    assert members["customer_id"].tolist() == expected
    assert members["distance"].is_monotonic_increasing
    assert members["Kidhome"].tolist() == [(int(c) - 1000) % 3 for c in expected]
    assert store.segment_members(1, limit=3)["customer_id"].tolist() == expected[:3]


def test_segment_members_keep_missing_values_missing(store: Store) -> None:
    publish(store, make_result(k=3))

    members = store.segment_members(2).set_index("customer_id")

    assert math.isnan(members.loc["1001", "Income"])
    assert members["Income"].dtype == float


def test_projection_reads_back(store: Store) -> None:
    result = make_result()
    publish(store, result)

    projection = store.projection()

    pd.testing.assert_frame_equal(projection, result.projection)


@pytest.mark.parametrize(("frame", "change", "message"), [
    ("assignments", lambda r: r.assignments.assign(customer_id=["1000"] * len(r.assignments)),
     "customer 1000 is assigned twice"),
    ("assignments", lambda r: r.assignments.assign(segment_id=9),
     r"segment\(s\) \[9\], which have no profile"),
    ("attributes", lambda r: r.attributes.iloc[::-1],
     "attribute rows do not line up with assignments"),
    ("excluded", lambda r: pd.concat([r.excluded, r.excluded]), "customer X1 is excluded twice"),
    ("excluded", lambda r: r.excluded.assign(customer_id=[" 1003", "X2"]),
     "customer 1003 is both assigned and excluded"),
])
def test_inconsistent_results_are_refused_whole(store: Store, frame: str, change,
                                                message: str) -> None:
    publish(store, make_result(label="A"))
    result = make_result(label="B")
    bad = replace(result, **{frame: change(result)})

    with pytest.raises(StoreError, match=message):
        publish(store, bad)

    assert [run.id for run in store.list_runs()] == [1]
    assert store.list_segments()[0].name == "A segment 1"


@pytest.mark.parametrize(("ids", "phrase"), [
    ([1, 2, 3, 4, 5], "1-5"), ([1, 2], "1, 2"), ([1, 3, 4], "1, 3, 4"), ([], "none")])
def test_describe_ids(ids: list[int], phrase: str) -> None:
    assert describe_ids(ids) == phrase


def test_numpy_values_and_non_finite_numbers_are_stored_as_json(store: Store) -> None:
    result = make_result()
    attributes = result.attributes.assign(Income=result.attributes["Income"].where(
        result.attributes["customer_id"] != "1002", np.inf))
    publish(store, replace(result, seed=np.int64(11), silhouette=np.float64("nan"),
                           attributes=attributes))

    run = store.current_run()
    assert (run.seed, run.silhouette) == (11, None)
    assert store.get_customer("1002").attributes["Income"] is None


def test_an_in_memory_store_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a file path"):
        Store(":memory:")


def test_a_new_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    Store(tmp_path / "new.db")
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(old)) as conn:  # a store made before the page size was set
        conn.execute("PRAGMA journal_mode = wal")
        conn.execute("CREATE TABLE made_before (x)")
    store = Store(old)
    publish(store, make_result())
    assert store.get_customer("1000").segment_id == 1
    for path, size in ((tmp_path / "new.db", NEW_FILE_PAGE_SIZE), (old, 4096)):
        with closing(sqlite3.connect(path)) as conn:
            assert conn.execute("PRAGMA page_size").fetchone() == (size,)


def test_attributes_of_every_common_type_read_back(store: Store) -> None:
    result = make_result(n_customers=3, k=1, excluded=())
    attributes = pd.DataFrame({
        "customer_id": ["1000", "1001", "1002"],
        "Children": pd.array([2, None, 0], dtype="Int64"),
        "Plan": pd.Categorical(["gold", None, "basic"]),
        "City": ["Zürich", 'Say "hi"', None],
        "Joined": pd.to_datetime(["2024-01-31 08:30", None, "2024-02-01 00:00"]).tz_localize("UTC"),
        "Score": np.array([1.5, -np.inf, 2.25], dtype="float32"),
    })
    publish(store, replace(result, attributes=attributes))

    assert store.get_customer("1000").attributes == {
        "Children": 2, "Plan": "gold", "City": "Zürich",
        "Joined": "2024-01-31T08:30:00+00:00", "Score": 1.5}
    assert store.get_customer("1001").attributes == {
        "Children": None, "Plan": None, "City": 'Say "hi"', "Joined": None, "Score": None}
    assert store.segment_members(1)["Score"].tolist()[::2] == [1.5, 2.25]


@pytest.mark.parametrize("n_customers", [49, 50, 51, 457])
def test_every_customer_is_stored_whatever_the_count(store: Store, n_customers: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # customers are written in chunks; no row may be lost or shifted at the seams
    monkeypatch.setattr(customers, "CHUNK_ROWS", 50)
    result = make_result(n_customers=n_customers)
    run_id = publish(store, result)
    stored = store.assignment_frame(run_id).sort_values("customer_id", ignore_index=True)
    expected = result.assignments[["customer_id", "segment_id"]].sort_values(
        "customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(stored, expected, check_dtype=False)
    i = n_customers - 1
    last = store.get_customer(str(1000 + i))
    assert (last.segment_id, last.attributes["Kidhome"]) == (i % 3 + 1, i % 3)
    assert last.distance == pytest.approx((i % 10) / 10 + i / 10_000)


def test_a_run_keeps_the_model_spec_it_was_made_with(store: Store) -> None:
    from dataclasses import replace

    from segmentation.spec import ModelSpec

    spec = ModelSpec(("Income",), (), (50_000.0,), (51_234.5,), (20_000.0,), ("Education",),
                     (("Basic", "PhD"),), 0.5, (0.0, 0.25, 0.25),
                     ((0.8, 0.1, -0.1),), ((0.5,), (-0.5,), (1.75,)))
    run_id = publish(store, replace(make_result(), model_spec=spec.to_dict()))
    kept = store.get_run(run_id).model_spec
    assert kept is not None and ModelSpec.from_dict(kept) == spec
    assert store.get_run(publish(store, make_result(), minutes=60)).model_spec is None
