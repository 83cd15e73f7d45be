"""Order statistics read off counts equal numpy's, to the bit, and so do the outlier checks
that use them."""

import numpy as np
import pandas as pd
import pytest

from segmentation import cleaning
from segmentation.counted import ValueCounts, weighted_median


def _columns(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    spiked = rng.poisson(5, 999).astype(np.int32)
    spiked[:3] = [40_000, 50_000, 60_000]  # typos far outside the range
    return [
        rng.integers(0, 50, 1),
        rng.integers(0, 50, 2),
        rng.integers(0, 50, 1_000),
        rng.integers(0, 50, 1_001),
        np.round(rng.lognormal(3, 1.5, 2_000)).astype(np.int64),  # right-skewed amounts
        rng.integers(-20_000, 20_000, 1_500).astype(np.int16),  # a span wider than int16
        spiked,
        np.repeat(np.arange(25, dtype=np.int16), 40),
    ]


@pytest.mark.parametrize("seed", range(5))
def test_counts_give_numpys_medians_and_quartiles_exactly(seed: int) -> None:
    for column in _columns(seed):
        counts = ValueCounts.of(column)
        assert counts is not None
        floats = column.astype(float)
        assert counts.median() == np.median(floats)
        assert np.array_equal(counts.quantiles([0.25, 0.5, 0.75]),
                              np.quantile(floats, [0.25, 0.5, 0.75]))
        if column.min() >= 0:
            assert counts.median(np.log1p) == np.median(np.log1p(floats))


def test_a_weighted_median_is_the_median_of_the_expanded_column() -> None:
    values, counts = np.array([3.0, 1.0, 2.5, 7.0]), np.array([2, 5, 1, 4])
    assert weighted_median(values, counts) == np.median(np.repeat(values, counts))
    assert weighted_median(values, counts + [0, 1, 0, 0]) == \
        np.median(np.repeat(values, counts + [0, 1, 0, 0]))


@pytest.mark.parametrize("seed", range(5))
def test_outliers_of_whole_numbers_are_judged_as_on_floats(seed: int) -> None:
    for column in _columns(seed):
        whole = pd.Series(column)
        assert cleaning.extreme_outliers(whole).equals(cleaning.extreme_outliers(
            whole.astype(float)))
        assert cleaning.is_right_skewed(whole) == cleaning.is_right_skewed(whole.astype(float))


def test_the_counted_check_still_catches_a_typo() -> None:
    ages = pd.Series(np.r_[np.arange(20, 80).repeat(10), 1_500].astype(np.int16))
    assert cleaning.extreme_outliers(ages).to_numpy().nonzero()[0].tolist() == [600]


def test_counting_is_left_to_numpy_where_it_would_not_pay() -> None:
    assert ValueCounts.of(np.array([0.5, 1.5])) is None  # not whole numbers
    assert ValueCounts.of(np.array([0, 10**9])) is None  # a range far wider than the rows
    assert ValueCounts.of(np.array([], dtype=np.int64)) is None
