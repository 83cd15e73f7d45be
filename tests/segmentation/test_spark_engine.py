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
import pandas as pd
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

    on_spark = segment_with_spark(spark, FileSource(reference_csv)).collected()
    local = segment_table(read_table(FileSource(reference_csv)))
    _assert_same_segmentation(on_spark, local)
    assert on_spark.k == 4  # the reference table's segments, as the local engine names them


def test_a_100k_table_is_segmented_alike_and_its_assignments_land_in_parquet(
        spark: Any, synthetic_parquet: Path, tmp_path: Path) -> None:
    from segmentation.spark_engine import segment_with_spark, write_assignments

    run = segment_with_spark(spark, FileSource(synthetic_parquet))
    collected = run.collected()
    _assert_same_segmentation(collected, segment_table(read_table(FileSource(synthetic_parquet))))

    renumbered = {s.segment_id: s.segment_id + 10 for s in run.result.segments}
    folder = write_assignments(run, renumbered, tmp_path / "assignments", run_id=3)
    written = pq.read_table(folder).to_pandas()
    assert folder.name == "run=3" and len(written) == len(collected.assignments)
    expected = collected.assignments.set_index(ID)["segment_id"] + 10
    assert (written.set_index(ID)["segment_id"].loc[expected.index] == expected).all()


def test_spark_draws_the_hash_sample_numpy_draws(spark: Any) -> None:
    ids = ["5524", "", "é日本", "x" * 70, *map(str, range(300))]
    frame = spark.createDataFrame([(i,) for i in ids], f"{ID} string")
    keys = [row[0] for row in frame.selectExpr(SPARK_KEY_SQL.format(column=ID)).collect()]
    assert keys == list(sample_keys(np.array(ids, dtype=object)))


def _generic_table(rows: int) -> pd.DataFrame:
    """The synthetic customers outside the reference profile: another id, no birth year, a
    date with a time, text and number codes, a flag and free text."""
    frame = generate_customers(rows, seed=11)
    rng = np.random.default_rng(3)
    region = (frame["ID"] % 4 + 1).astype(float).where(rng.random(rows) > 0.01)
    visited = (pd.Timestamp("2014-07-01 09:30:00") - pd.to_timedelta(frame["Recency"], "D")
               + pd.to_timedelta(rng.integers(0, 86_400, rows), "s"))
    kept = ["ID", "Education", "Marital_Status", "Income", "Dt_Customer", "Recency", "MntWines",
            "MntMeatProducts", "MntGoldProds", "NumWebPurchases", "NumStorePurchases",
            "Z_Revenue"]
    return (frame[kept]
            .rename(columns={"ID": "member_no", "Dt_Customer": "joined",
                             "MntWines": "wine_spend"})
            .assign(region=region, store_no=frame["ID"] % 7 + 1, vip=rng.random(rows) < 0.1,
                    last_visit=visited.dt.strftime("%Y-%m-%d %H:%M:%S"),
                    notes=[f"called on day {i}" for i in range(rows)]))


def test_a_table_outside_the_reference_profile_is_segmented_alike(
        spark: Any, tmp_path: Path) -> None:
    from segmentation.spark_engine import segment_with_spark

    path = tmp_path / "members.parquet"
    _generic_table(5_000).to_parquet(path)
    on_spark = segment_with_spark(spark, FileSource(path)).collected()
    local = segment_table(read_table(FileSource(path)))
    _assert_same_segmentation(on_spark, local)
    assert on_spark.columns == local.columns
    assert on_spark.features == local.features and "region" in local.features
    assert on_spark.as_of == local.as_of
    ours, theirs = on_spark.model_spec, local.model_spec
    for part in ("numeric", "log_scaled", "categorical", "categories"):
        assert ours[part] == theirs[part], part
    for part in ("medians", "means", "scales", "pca_mean", "components", "centres"):
        assert np.allclose(ours[part], theirs[part], rtol=1e-6, atol=1e-4), part


def test_an_order_history_is_refused_by_name(spark: Any, tmp_path: Path) -> None:
    from segmentation.spark_engine import segment_with_spark

    path = tmp_path / "orders.csv"
    path.write_text("customer_id,date,amount\n" + "\n".join(
        f"{i % 40},2014-0{1 + i % 9}-1{i % 10},{i * 3}" for i in range(400)))
    with pytest.raises(ConfigError, match="order history.*--engine local"):
        segment_with_spark(spark, FileSource(path))


def test_a_table_without_ids_is_numbered_in_row_order_across_partitions(
        spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    from segmentation.spark_generic import row_numbers
    from segmentation.spark_prepare import ROW

    pd.DataFrame({"v": np.arange(1_000)}).to_parquet(tmp_path / "t.parquet", row_group_size=100)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2k")  # a partition per row group
    try:
        raw = spark.read.parquet(str(tmp_path / "t.parquet"))
        raw = raw.withColumn(ROW, F.monotonically_increasing_id())
        assert raw.rdd.getNumPartitions() > 1
        numbered = raw.select("v", row_numbers(raw).alias("n")).toPandas().sort_values("v")
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert list(numbered["n"]) == [str(i) for i in range(1, 1_001)]  # as customer_ids does
