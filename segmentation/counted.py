"""Order statistics of whole numbers read off their counts: one `bincount` instead of a sort.

Customer features are mostly small whole numbers (ages, purchases, days, amounts in whole
units): a million of them hold a few thousand distinct values. Counting each value once
gives every median and quartile exactly as numpy computes them from the sorted values, in
one linear pass that allocates one small array, where `np.median`/`np.quantile` partition a
float copy of the whole column (0.1 s a column per million customers).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Counting pays while the range of values is not much wider than the column itself.
MIN_SPAN_LIMIT = 1 << 16
MAX_SPAN = 1 << 22


@dataclass(frozen=True)
class ValueCounts:
    """How many rows hold each whole number from ``low`` to ``low + len(counts) - 1``."""

    low: int
    counts: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> ValueCounts | None:
        """The counts of an integer column, or None when counting would not pay (values of
        a float type, or a range much wider than the column)."""
        if values.dtype.kind not in "iu" or not len(values):
            return None
        low, high = int(values.min()), int(values.max())
        span = high - low + 1
        if span > min(MAX_SPAN, max(MIN_SPAN_LIMIT, 2 * len(values))):
            return None
        return cls(low, np.bincount(_offsets(values, low), minlength=span))

    def positions(self, values: np.ndarray) -> np.ndarray:
        """Each of ``values``' index into the counts (its value less ``low``)."""
        return _offsets(values, self.low)

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    @property
    def distinct(self) -> int:
        return int(np.count_nonzero(self.counts))

    def values(self) -> np.ndarray:
        """Every value of the range, as float64 (the column's values as numpy's statistics
        see them)."""
        return np.arange(self.low, self.low + len(self.counts), dtype=np.float64)

    def at_ranks(self, ranks: np.ndarray) -> np.ndarray:
        """The values at 0-based ``ranks`` of the sorted column."""
        return self.values()[weighted_positions(self.counts, ranks)]

    def median(self, transform: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
        """``np.median`` of the column, or of ``transform`` of it for an increasing
        ``transform`` (such as log1p)."""
        middle = self.at_ranks(_middle_ranks(self.rows))
        return float(np.median(transform(middle) if transform is not None else middle))

    def quantiles(self, q: Sequence[float]) -> np.ndarray:
        """``np.quantile(column, q)`` with numpy's default (linear) method."""
        n = self.rows
        virtual = (n - 1) * np.asarray(q, dtype=np.float64)
        previous = np.clip(np.floor(virtual).astype(np.intp), 0, n - 1)
        following = np.clip(previous + 1, 0, n - 1)
        gamma = virtual - previous
        a = self.at_ranks(previous)
        b = self.at_ranks(following)
        return lerp(a, b, gamma)


def _offsets(values: np.ndarray, low: int) -> np.ndarray:
    # in intp: the difference of two int16 values need not fit in int16
    return np.subtract(values, low, dtype=np.intp)


def weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of a column holding ``counts[i]`` copies of ``values[i]``."""
    order = np.argsort(values, kind="stable")
    middle = _middle_ranks(int(counts.sum()))
    return float(np.median(values[order][weighted_positions(counts[order], middle)]))


def weighted_positions(counts: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """Index into ``counts`` of the value at each 0-based rank of the expanded column."""
    return np.searchsorted(np.cumsum(counts), ranks, side="right")


def _middle_ranks(n: int) -> np.ndarray:
    """The rank of the middle value, or of the two middle values when ``n`` is even."""
    return np.array([(n - 1) // 2, n // 2], dtype=np.intp)[:1 if n % 2 else 2]


def lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's linear interpolation of its quantiles, to the bit: from ``a`` for t below
    one half, back from ``b`` above, so that each end is exact."""
    difference = b - a
    return np.where(t >= 0.5, b - difference * (1 - t), a + difference * t)
