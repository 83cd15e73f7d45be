"""Parity: the Spark engine and the single-machine engine make the same segmentation.

Same k, same names, the same segment for at least 99.9 % of customers, profiles equal to 4
significant digits, the same cleaning report; the silhouette in both is the Euclidean
silhouette in PCA coordinates of the hash sample's first 3,000 customers.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from segmentation.cleaning import ID
from segmentation.engine import segment_table
from segmentation.errors import ConfigError
from segmentation.result import SegmentationResult
from segmentation.sampling import SPARK_KEY_SQL, sample_keys
from segmentation.sources import FileSource, read_table
from segmentation.synthetic import generate_customers, write_customers

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def synthetic_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lake")
    return write_customers(generate_customers(100_000, seed=7), folder / "customers.parquet")


def _same_number(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=5e-5, abs_tol=1e-9)  # equal to 4 significant digits


def _assert_same_segmentation(on_spark: SegmentationResult, local: SegmentationResult) -> None:
    assert on_spark.k == local.k
    assert [s.name for s in on_spark.segments] == [s.name for s in local.segments]
    assert on_spark.cleaning == local.cleaning
    assert sorted(on_spark.excluded[ID]) == sorted(local.excluded[ID])
    both = on_spark.assignments.merge(local.assignments, on=ID, suffixes=("_spark", "_local"))
    assert len(both) == len(local.assignments) == len(on_spark.assignments)
    assert (both["segment_id_spark"] == both["segment_id_local"]).mean() >= 0.999
    assert np.allclose(both["distance_spark"], both["distance_local"], atol=1e-3)
    for ours, theirs in zip(on_spark.segments, local.segments, strict=True):
        assert abs(ours.size - theirs.size) <= 0.001 * len(local.assignments)
        for a, b in zip(ours.stats, theirs.stats, strict=True):
            assert a.feature == b.feature
            for field in ("mean", "median", "population_mean", "index", "z"):
                assert _same_number(getattr(a, field), getattr(b, field)), (
                    ours.segment_id, a.feature, field, getattr(a, field), getattr(b, field))
        assert ours.categories.keys() == theirs.categories.keys()
    assert on_spark.silhouette == pytest.approx(local.silhouette, abs=1e-6)
    assert on_spark.k_selection.chosen_k == local.k_selection.chosen_k


def test_the_reference_table_is_segmented_alike(spark: Any, reference_csv: Path) -> None:
    from segmentation.spark_engine import segment_with_spark

    on_spark = segment_with_spark(spark, FileSource(reference_csv)).result
    local = segment_table(read_table(FileSource(reference_csv)))
    _assert_same_segmentation(on_spark, local)
    assert on_spark.k == 4  # the reference table's segments, as the local engine names them


def test_a_100k_table_is_segmented_alike_and_its_assignments_land_in_parquet(
        spark: Any, synthetic_parquet: Path, tmp_path: Path) -> None:
    from segmentation.spark_engine import segment_with_spark, write_assignments

    run = segment_with_spark(spark, FileSource(synthetic_parquet))
    _assert_same_segmentation(run.result, segment_table(read_table(FileSource(synthetic_parquet))))

    renumbered = {s.segment_id: s.segment_id + 10 for s in run.result.segments}
    folder = write_assignments(run, renumbered, tmp_path / "assignments", run_id=3)
    written = pq.read_table(folder).to_pandas()
    assert folder.name == "run=3" and len(written) == len(run.result.assignments)
    expected = run.result.assignments.set_index(ID)["segment_id"] + 10
    assert (written.set_index(ID)["segment_id"].loc[expected.index] == expected).all()


def test_spark_draws_the_hash_sample_numpy_draws(spark: Any) -> None:
    ids = ["5524", "", "é日本", "x" * 70, *map(str, range(300))]
    frame = spark.createDataFrame([(i,) for i in ids], f"{ID} string")
    keys = [row[0] for row in frame.selectExpr(SPARK_KEY_SQL.format(column=ID)).collect()]
    assert keys == list(sample_keys(np.array(ids, dtype=object)))


def test_a_table_outside_the_reference_profile_is_refused_by_name(
        spark: Any, tmp_path: Path) -> None:
    from segmentation.spark_engine import segment_with_spark

    path = tmp_path / "plain.csv"
    path.write_text("id,spend\n" + "\n".join(f"{i},{i * 3}" for i in range(50)))
    with pytest.raises(ConfigError, match="--engine local"):
        segment_with_spark(spark, FileSource(path))
