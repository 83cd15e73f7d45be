"""Conversions between results and rows that must agree with SQLite."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from storage.codec import text_order


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
