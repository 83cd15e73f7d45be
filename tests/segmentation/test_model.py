"""k selection, determinism and the estimator contract."""

import warnings

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.errors import DataError
from segmentation.model import (
    BLOCK_ROWS,
    ModelConfig,
    build_pipeline,
    build_preprocessor,
    choose_k,
    column_medians,
    column_variances,
    knee_point,
)


def blobs(centres: int, per_centre: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    middles = rng.uniform(-10, 10, size=(centres, 3))
    points = np.vstack([m + rng.normal(0, 0.6, size=(per_centre, 3)) for m in middles])
    frame = pd.DataFrame(points, columns=["alpha", "beta", "gamma"])
    frame.insert(0, "id", np.arange(1000, 1000 + len(frame)))
    return frame


def test_knee_point_finds_the_bend() -> None:
    assert knee_point([2, 3, 4, 5, 6, 7], [100, 60, 22, 20, 18.5, 17]) == 4
    assert knee_point([2, 3], [10, 5]) == 2


@pytest.mark.parametrize("centres", [3, 4, 5])
def test_k_matches_well_separated_groups(centres: int) -> None:
    result = segment_customers(blobs(centres), source="blobs")
    assert result.k_selection.chosen_k == centres
    assert result.k_selection.method == "elbow"
    assert result.k_selection.reason.startswith(f"k={centres}")
    assert len(result.k_selection.ks) == len(result.k_selection.inertias) == 9


def test_k_override_is_honoured_and_said() -> None:
    result = segment_customers(blobs(4), source="blobs", config=ModelConfig(k=6))
    assert result.k == 6
    assert result.k_selection.method == "override"
    assert "by hand" in result.k_selection.reason


def test_k_of_one_is_refused() -> None:
    with pytest.raises(DataError, match="at least 2"):
        segment_customers(blobs(3), source="x", config=ModelConfig(k=1))


def test_k_larger_than_rows_is_refused() -> None:
    with pytest.raises(DataError, match="larger than"):
        segment_customers(blobs(2, per_centre=10), source="tiny", config=ModelConfig(k=50))


def test_same_input_and_seed_give_identical_assignments(reference_csv) -> None:
    from segmentation.loading import load_table

    raw = load_table(reference_csv)
    first = segment_customers(raw, source="a", config=ModelConfig(seed=3))
    second = segment_customers(raw, source="a", config=ModelConfig(seed=3))
    pd.testing.assert_frame_equal(first.assignments, second.assignments)
    assert [s.name for s in first.segments] == [s.name for s in second.segments]


def test_reference_table_gives_three_to_eight_named_segments(reference_result) -> None:
    result = reference_result
    assert 3 <= result.k <= 8
    assert sum(s.size for s in result.segments) == result.cleaning.rows_kept == 2236
    assert len({s.name for s in result.segments}) == result.k
    assert result.silhouette is not None and result.silhouette > 0.1
    # ids are ordered by size, largest first
    sizes = [s.size for s in result.segments]
    assert sizes == sorted(sizes, reverse=True)


def test_pipeline_has_explicit_seed_and_restarts() -> None:
    frame = blobs(3)
    config = ModelConfig(seed=11)
    pipeline = build_pipeline(build_preprocessor(frame, ("alpha", "beta"), (), config), 3, config)
    assert [name for name, _ in pipeline.steps] == ["preprocess", "pca", "kmeans"]
    assert pipeline.named_steps["kmeans"].random_state == 11
    assert pipeline.named_steps["kmeans"].n_init == config.n_init


def test_large_table_uses_samples_for_quadratic_work() -> None:
    frame = blobs(4, per_centre=15_000)  # 60,000 customers
    result = segment_customers(frame, source="big", config=ModelConfig(silhouette_sample=500))
    assert result.k == 4
    assert len(result.projection) == 5_000
    assert len(result.assignments) == 60_000


def test_median_imputer_fills_and_drops_as_simple_imputer_does() -> None:
    import warnings

    from sklearn.impute import SimpleImputer

    from segmentation.model import MedianImputer

    rng = np.random.default_rng(4)
    values = rng.lognormal(size=(1001, 4))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:, 2] = np.nan  # a column with no values at all is dropped by both
    frame = pd.DataFrame(values, columns=["a", "b", "c", "d"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = SimpleImputer(strategy="median").fit(frame)
        ours = MedianImputer().fit(frame)
        np.testing.assert_array_equal(ours.transform(frame), expected.transform(frame))
        np.testing.assert_array_equal(ours.transform(frame.iloc[:7]),
                                      expected.transform(frame.iloc[:7]))
    assert list(ours.get_feature_names_out()) == ["a", "b", "d"]


def test_silhouette_from_distances_equals_sklearns_silhouette_score() -> None:
    from sklearn.metrics import pairwise_distances, silhouette_score

    from segmentation.model import silhouette_from_distances

    rng = np.random.default_rng(5)
    points = rng.normal(size=(400, 3)) + np.repeat(np.eye(3) * 3, [150, 150, 100], axis=0)
    labels = np.repeat([2, 5, 9], [150, 150, 100])
    labels[0] = 7  # a segment of one scores 0, as in sklearn
    distances = pairwise_distances(points)
    assert silhouette_from_distances(distances, labels) == pytest.approx(
        silhouette_score(points, labels), abs=1e-12)
    assert silhouette_from_distances(distances, np.zeros(400)) is None


def test_silhouettes_of_many_labellings_are_each_labellings_own() -> None:
    from sklearn.metrics import pairwise_distances, silhouette_score

    from segmentation.model import silhouettes_from_distances

    rng = np.random.default_rng(6)
    points = rng.normal(size=(300, 4))
    labellings = [rng.integers(0, 3, 300), np.zeros(300), rng.integers(10, 17, 300),
                  rng.integers(0, 2, 300)]
    scores = silhouettes_from_distances(pairwise_distances(points), labellings)
    assert scores[1] is None  # one segment: no silhouette, and the next keep their columns
    for labels, score in zip(labellings[::2] + labellings[3:], scores[::2] + scores[3:],
                             strict=True):
        assert score == pytest.approx(silhouette_score(points, labels), abs=1e-12)


def test_restarts_on_part_of_the_sample_draw_the_same_elbow_curve() -> None:
    rng = np.random.default_rng(0)
    middles = rng.uniform(-6, 6, size=(5, 4))
    # in random order, as the hash sample is: the restarts run on its first rows
    sample = rng.permutation(np.vstack([m + rng.normal(0, 1.0, size=(1600, 4))
                                        for m in middles]))
    silhouette_rows = sample[:600]
    every_row, _ = choose_k(sample, silhouette_rows, ModelConfig(restart_sample=len(sample)))
    part, centres = choose_k(sample, silhouette_rows, ModelConfig(restart_sample=1_000))
    assert part.chosen_k == every_row.chosen_k == 5
    assert centres.shape == (5, 4)
    # the curve is the whole sample's (refined there), not the 1,000 rows' own (an eighth);
    # beyond the 5 true groups any split is a local optimum: 1% apart at k=10
    assert np.allclose(part.inertias, every_row.inertias, rtol=0.02)
    assert part.inertias[0] > 2 * 1_000 / len(sample) * every_row.inertias[0]


def test_column_medians_are_nanmedian_of_each_column_as_typed() -> None:
    rng = np.random.default_rng(4)
    n = 1_001
    frame = pd.DataFrame({
        "counts": rng.integers(0, 100, n).astype(np.int16),
        "wide": rng.integers(-1_000, 10**9, n),  # too wide to count: sorted instead
        "real": rng.normal(size=n),
        "gappy": np.where(rng.random(n) < 0.3, np.nan, rng.integers(0, 50, n)),
        "empty": np.full(n, np.nan)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-missing column
        expected = np.nanmedian(frame.to_numpy(dtype=float), axis=0)
    assert np.array_equal(column_medians(frame), expected, equal_nan=True)


def test_median_imputer_fit_transform_of_a_frame_is_simple_imputers() -> None:
    from sklearn.impute import SimpleImputer

    from segmentation.model import MedianImputer

    rng = np.random.default_rng(8)
    n = 1_001
    frame = pd.DataFrame({
        "counts": rng.integers(0, 100, n).astype(np.int16),
        "wide": rng.integers(-1_000, 10**9, n),
        "gappy": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
        "nullable": pd.array(np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n)),
                             dtype="Int64")})
    ours = MedianImputer()
    filled = ours.fit_transform(frame)
    expected = SimpleImputer(strategy="median").fit_transform(frame.astype(float))
    np.testing.assert_array_equal(filled, expected)
    assert list(ours.get_feature_names_out()) == list(frame.columns)
    np.testing.assert_array_equal(ours.transform(frame), expected)

    frame.loc[3, "gappy"] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        MedianImputer().fit_transform(frame)


def test_column_variances_are_numpys_without_a_whole_table_copy() -> None:
    rng = np.random.default_rng(0)
    points = (rng.normal(size=(2 * BLOCK_ROWS + 123, 3)) * [1.0, 10.0, 0.01]
              + [0.0, 1e4, -3.0]).astype(np.float32)  # a far mean tests the two passes

    variances = column_variances(points)

    np.testing.assert_allclose(variances, points.var(axis=0, dtype=np.float64), rtol=1e-12)
