"""The per-segment tables profiles are made of, against pandas' own group statistics."""

import numpy as np
import pandas as pd
import pytest

from segmentation.profiling import segment_tables


@pytest.mark.parametrize("segments", [1, 4])
def test_segment_tables_are_pandas_group_statistics(segments: int) -> None:
    rng = np.random.default_rng(11)
    n = 2_001
    frame = pd.DataFrame({
        # narrow signed integers whose range does not fit their own type (int8: 200 apart)
        "change": rng.integers(-100, 101, n).astype(np.int8),
        "balance": rng.integers(-20_000, 20_001, n).astype(np.int16),
        "visits": rng.poisson(4, n),
        "wide": rng.integers(0, 10**12, n),  # too wide to count: sorted instead
        "income": np.where(rng.random(n) < 0.2, np.nan, rng.normal(5e4, 1e4, n).round()),
        "share": rng.random(n),
        "tier": rng.choice(np.array(["gold", "silver", "bronze"], dtype=object), n)})
    features = ["change", "balance", "visits", "wide", "income", "share"]
    segment_ids = rng.integers(1, segments + 1, n)

    population, tables = segment_tables(frame, segment_ids, features, ["tier"])

    groups = frame[features].astype(float).groupby(segment_ids)
    pd.testing.assert_frame_equal(tables.means, groups.mean(), check_names=False,
                                  check_index_type=False, rtol=1e-12)
    pd.testing.assert_frame_equal(tables.medians, groups.median(), check_names=False,
                                  check_index_type=False)
    assert tables.sizes.to_dict() == pd.Series(segment_ids).value_counts().to_dict()
    everyone = frame[features].astype(float)
    np.testing.assert_allclose(population["mean"], everyone.mean(), rtol=1e-12)
    np.testing.assert_array_equal(population["median"], everyone.median())
    np.testing.assert_allclose(population["std"], everyone.std(ddof=0), rtol=1e-12)
    np.testing.assert_array_equal(tables.minimum, everyone.min())
    shares = pd.crosstab(segment_ids, frame["tier"], normalize="index")
    pd.testing.assert_frame_equal(tables.mixes["tier"], shares, check_names=False,
                                  check_index_type=False)


def test_label_shares_of_a_categorical_are_those_of_its_texts() -> None:
    rng = np.random.default_rng(5)
    n = 5_000
    labels = np.array(["silver", "gold", "none held", "bronze"], dtype=object)
    codes = rng.integers(-1, 3, n)  # -1: missing; "bronze" is a category nobody holds
    texts = pd.Series(np.where(codes >= 0, labels[np.maximum(codes, 0)], None), dtype=object)
    categorical = pd.Series(pd.Categorical.from_codes(codes, categories=labels))
    segment_ids = rng.integers(1, 4, n)
    frames = [pd.DataFrame({"visits": rng.poisson(4, n), "tier": tier})
              for tier in (texts, categorical)]
    mixes = [segment_tables(frame, segment_ids, ["visits"], ["tier"])[1].mixes["tier"]
             for frame in frames]
    pd.testing.assert_frame_equal(mixes[1], mixes[0])
    assert list(mixes[1].columns) == ["gold", "none held", "silver"]
    pd.testing.assert_frame_equal(mixes[0], pd.crosstab(segment_ids, texts, normalize="index"),
                                  check_names=False, check_index_type=False)


def test_means_of_huge_whole_numbers_in_a_narrow_range_do_not_overflow() -> None:
    rng = np.random.default_rng(2)
    values = 4 * 10**18 + rng.integers(0, 50, 1_000)  # sums beyond int64, one narrow range
    segment_ids = rng.integers(1, 3, len(values))
    population, tables = segment_tables(pd.DataFrame({"v": values}), segment_ids, ["v"], [])
    expected = pd.Series(values.astype(float)).groupby(segment_ids).mean()
    np.testing.assert_allclose(tables.means["v"], expected, rtol=1e-12)
    assert population.loc["v", "mean"] == pytest.approx(values.astype(float).mean(), rel=1e-12)
