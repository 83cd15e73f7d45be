"""Conversions between results and rows that must agree with SQLite."""

from __future__ import annotations

import dataclasses
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from segmentation.result import ForecastReport
from storage import RunRecord, Store
from storage.codec import RUN_FIELD_DECODERS, run_row, text_order
from tests.storage.conftest import T0, make_result, publish

# Kept out of RunRecord on purpose: Store.projection reads this sample of points on its own.
RUNS_COLUMNS_NOT_IN_RECORD = {"projection"}


def runs_columns(db_path: Path) -> set[str]:
    """The columns of the runs table as the migrations built it."""
    with closing(sqlite3.connect(db_path)) as conn:
        return {name for _, name, *_ in conn.execute("PRAGMA table_info(runs)")}


def test_every_run_record_field_has_a_decoder_and_a_runs_column(store: Store,
                                                                 db_path: Path) -> None:
    record_fields = {field.name for field in dataclasses.fields(RunRecord)}

    assert set(RUN_FIELD_DECODERS) == record_fields
    assert runs_columns(db_path) == record_fields | RUNS_COLUMNS_NOT_IN_RECORD


def test_a_published_run_fills_every_runs_column(store: Store, db_path: Path) -> None:
    row = run_row(make_result(), started_at=T0, finished_at=T0)

    assert set(row) | {"id"} == runs_columns(db_path)  # SQLite gives the id


def _sorted_by(order_of, ids: list[str]) -> list[str]:
    array = pa.array(ids, pa.string())
    return array.take(order_of(array)).to_pylist()


def test_numbered_customers_are_ordered_as_sqlite_compares_text() -> None:
    rng = np.random.default_rng(8)
    for _ in range(50):
        lengths = rng.integers(1, 18, size=int(rng.integers(2, 200)))
        ids = [str(rng.integers(1, 10)) + "".join(map(str, rng.integers(0, 10, n - 1)))
               for n in lengths]
        ids += [ids[0] + "0", ids[0][:1], ids[1] + "00"]  # prefixes and zero-padded kin
        ids = list(dict.fromkeys(ids))
        assert _sorted_by(text_order, ids) == sorted(ids, key=str.encode)


@pytest.mark.parametrize("ids", [
    ["10", "9", "1", "100", "2"],
    ["007", "1", "70"],  # leading zeros: not plain numbers
    ["b-2", "a-10", "1"],
    ["12345678901234567890", "2"],  # longer than the integer key holds
    ["０１", "1"],
])
def test_any_ids_are_ordered_as_sqlite_compares_text(ids: list[str]) -> None:
    assert _sorted_by(text_order, ids) == sorted(ids, key=str.encode)


def test_a_runs_forecast_is_read_back_as_published(store: Store) -> None:
    fitted = ForecastReport(
        fitted=True, reason="", customers=30, repeat_buyers=12, horizon_days=90,
        actual_repeats=40, parameters={"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
        log_likelihood=-9582.4, largest_slope=0.004, expected_repeats=41.5,
        spend_parameters={}, spend_reason="the order history has no amounts",
        spend_correlation=float("nan"))
    first = publish(store, dataclasses.replace(make_result(), forecast=fitted))
    not_fitted = fitted.not_fitted("only 1 of 30 customers bought again")
    second = publish(store, dataclasses.replace(make_result(), forecast=not_fitted), minutes=1)
    third = publish(store, make_result(), minutes=2)

    assert store.get_run(first).forecast == dataclasses.replace(fitted, spend_correlation=None)
    assert store.get_run(second).forecast == \
        dataclasses.replace(not_fitted, spend_correlation=None)
    assert store.get_run(third).forecast is None
