"""Publishing a run whose customers arrive as record batches in id order (the Spark engine's
way): the same stored run as a publish from frames, one batch in memory at a time, and the
same refusals."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from segmentation.result import SegmentationResult
from storage import Store, StoreError
from storage.customers import customer_batches
from tests.storage.conftest import T0, make_result
from tests.storage.test_movement import changes_between, publish_with_changes


def _batches(result: SegmentationResult, size: int = 7) -> list[pa.RecordBatch]:
    rows = result.assignments.merge(result.attributes, on="customer_id")
    rows = rows.iloc[sorted(range(len(rows)), key=lambda i: rows["customer_id"].iloc[i])]
    return pa.Table.from_pandas(rows, preserve_index=False).to_batches(max_chunksize=size)


def _publish_streamed(store: Store, result: SegmentationResult,
                      batches: list[pa.RecordBatch] | None = None, minutes: int = 0) -> int:
    batches = _batches(result) if batches is None else batches
    changes = changes_between(store, result)
    return store.publish_streamed_run(
        result, customer_batches(batches[0].schema, iter(batches)),
        started_at=T0 + timedelta(minutes=minutes),
        finished_at=T0 + timedelta(minutes=minutes, seconds=42), changes=changes)


def test_a_streamed_run_is_stored_as_a_run_published_from_frames(tmp_path: Path) -> None:
    first = make_result(n_customers=40, excluded=())
    second = make_result(n_customers=40, first_id=1005, shift=1, label="B", excluded=("X9",))
    framed, streamed = Store(tmp_path / "framed.db"), Store(tmp_path / "streamed.db")
    for store in (framed, streamed):
        publish_with_changes(store, first)
    framed_id = publish_with_changes(framed, second, minutes=60)
    streamed_id = _publish_streamed(streamed, second, minutes=60)

    assert streamed.assignment_frame().equals(framed.assignment_frame())
    assert streamed.movement(streamed_id).equals(framed.movement(framed_id))
    for customer_id in ("1005", "1006", "1044"):  # 1006 has no income
        assert streamed.get_customer(customer_id) == framed.get_customer(customer_id)
    assert streamed.get_customer("X9").excluded_reason is not None


@pytest.mark.parametrize(("change", "message"), [
    ("repeat across batches", "1003 is assigned twice or out of id order"),
    ("unknown segment", r"segment\(s\) \[9\]"),
    ("excluded", "1003 is both assigned and excluded"),
])
def test_a_streamed_run_that_contradicts_itself_is_refused_whole(
        store: Store, change: str, message: str) -> None:
    publish_with_changes(store, make_result(excluded=()))
    result = make_result(n_customers=12, label="B",
                         excluded=("1003",) if change == "excluded" else ())
    batches = _batches(result, size=4)
    if change == "repeat across batches":  # the second batch starts with the first's last id
        batches[1] = pa.concat_tables([pa.Table.from_batches([batches[0]]).slice(3),
                                       pa.Table.from_batches([batches[1]]).slice(1)]
                                      ).combine_chunks().to_batches()[0]
    elif change == "unknown segment":
        table = pa.Table.from_batches([batches[2]])
        segments = pa.array([9] * table.num_rows, pa.int64())
        batches[2] = table.set_column(1, "segment_id", segments).to_batches()[0]
    before = store.current_run()

    with pytest.raises(StoreError, match=message):
        _publish_streamed(store, result, batches, minutes=60)
    assert store.current_run() == before and len(store.list_runs()) == 1
