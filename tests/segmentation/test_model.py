"""k selection, determinism and the estimator contract."""

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.errors import DataError
from segmentation.model import ModelConfig, build_pipeline, build_preprocessor, knee_point


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


def test_reference_table_gives_three_to_eight_named_segments(reference_csv) -> None:
    from segmentation.loading import load_table

    result = segment_customers(load_table(reference_csv), source="ref")
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
