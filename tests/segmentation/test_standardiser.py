"""The Standardiser: StandardScaler's statistics to the bit, a column at a time."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from segmentation.model import Standardiser


def tables() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    wide = rng.lognormal(3, 2, size=(200_003, 5))
    wide[:, 1] = 7.25  # constant
    wide[:, 2] += 1e9  # large offset, small spread
    wide[:, 3] = np.where(rng.random(len(wide)) < 0.5, 0.0, 1.0)
    return [np.asfortranarray(wide), np.asfortranarray(rng.normal(size=(1, 3))),
            np.asfortranarray(rng.integers(0, 5, size=(17, 2)).astype(float)),
            np.asfortranarray(np.full((1000, 1), 1e-300))]


@pytest.mark.parametrize("table", tables(), ids=["wide", "one row", "small", "tiny values"])
def test_statistics_and_scaled_values_are_standard_scalers_to_the_bit(table: np.ndarray) -> None:
    theirs = StandardScaler().fit(table)
    ours = Standardiser(copy=False).fit(table)
    for name in ("mean_", "var_", "scale_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    assert ours.n_samples_seen_ == theirs.n_samples_seen_
    assert type(ours.n_samples_seen_) is type(theirs.n_samples_seen_)
    assert ours.n_features_in_ == theirs.n_features_in_
    expected = theirs.transform(table)
    np.testing.assert_array_equal(Standardiser(copy=False).fit_transform(table), expected)


@pytest.mark.parametrize("table", [
    np.ascontiguousarray(tables()[0]),  # rows laid out one after another
    np.asfortranarray([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]),  # gaps
    np.asfortranarray([[1, 2], [3, 4]]),  # whole numbers
], ids=["row-major", "gaps", "integers"])
def test_other_tables_are_fitted_as_standard_scaler_fits_them(table: np.ndarray) -> None:
    theirs = StandardScaler().fit(table)
    ours = Standardiser().fit(table)
    for name in ("mean_", "var_", "scale_", "n_samples_seen_"):
        np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
