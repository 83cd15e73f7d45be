"""The hash sample and the model spec: results that do not depend on the order of the rows,
and one spec that reproduces the fitted model."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from segmentation.cleaning import ID
from segmentation.engine import segment_customers
from segmentation.errors import DataError
from segmentation.model import FittedModel, ModelConfig, fit_model
from segmentation.prepare import PreparedData, prepare_customers
from segmentation.sampling import crc32, hash_sample, sample_keys
from segmentation.spec import ModelSpec, nearest_centres
from segmentation.synthetic import generate_customers

IDS = np.array(["5524", "2174", "", "é日本", "x" * 70, "007", *map(str, range(500))],
               dtype=object)


def test_crc32_is_zlibs_for_every_id_and_slice() -> None:
    whole = pa.array(IDS, type=pa.string())
    assert [int(v) for v in crc32(whole)] == [zlib.crc32(i.encode()) for i in IDS]
    assert [int(v) for v in crc32(whole.slice(3))] == [zlib.crc32(i.encode()) for i in IDS[3:]]


def test_the_sample_is_the_same_customers_in_the_same_order_however_rows_are_sorted() -> None:
    shuffled = IDS[np.random.default_rng(3).permutation(len(IDS))]
    assert list(IDS[hash_sample(IDS, 50)]) == list(shuffled[hash_sample(shuffled, 50)])
    assert len(set(IDS[hash_sample(IDS, 50)])) == 50
    # in key order
    assert (np.diff(sample_keys(IDS[hash_sample(IDS, 50)])) >= 0).all()


def test_the_sample_is_spread_over_the_ids() -> None:
    ids = np.arange(1, 100_001).astype(str).astype(object)
    positions = hash_sample(ids, 2_000)
    counts = np.bincount(positions // 10_000, minlength=10)
    assert counts.min() > 150 and counts.max() < 250  # about 200 in each tenth


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return generate_customers(2000, seed=9)


@pytest.fixture(scope="module")
def fitted(table: pd.DataFrame) -> tuple[PreparedData, FittedModel]:
    prepared = prepare_customers(table)
    return prepared, fit_model(prepared.frame, prepared.numeric, prepared.categorical,
                               ModelConfig(k=4, k_max=4, n_init=3), prepared.log_scaled)


def test_a_shuffled_table_gives_the_same_segments(table: pd.DataFrame) -> None:
    config = ModelConfig(k_max=6, n_init=4, selection_sample=1_500, silhouette_sample=800)
    first = segment_customers(table, source="t", config=config)
    shuffled = table.sample(frac=1.0, random_state=5).reset_index(drop=True)
    second = segment_customers(shuffled, source="t", config=config)
    assert second.k == first.k
    assert [s.name for s in second.segments] == [s.name for s in first.segments]
    by_id = first.assignments.set_index(ID)["segment_id"]
    again = second.assignments.set_index(ID)["segment_id"]
    assert (again.loc[by_id.index] == by_id).all()
    assert second.silhouette == pytest.approx(first.silhouette, abs=1e-9)


def test_the_spec_reproduces_the_fitted_model(
        fitted: tuple[PreparedData, FittedModel]) -> None:
    prepared, model = fitted
    spec = ModelSpec.from_dict(json.loads(model.spec.to_json()))
    assert spec == model.spec
    assert set(spec.log_scaled) < set(spec.numeric) and spec.log_scaled  # spend, counts
    assert len(spec.centres) == 4
    embedding = spec.embed(prepared.frame)
    assert np.allclose(embedding, model.embedding, atol=1e-5)
    labels, distances = nearest_centres(embedding, np.asarray(spec.centres))
    assert (labels == model.labels).mean() > 0.999
    assert np.allclose(distances, model.distances, atol=1e-4)


def test_the_spec_applies_categories_with_their_weight() -> None:
    frame = pd.DataFrame({ID: [f"c{i}" for i in range(40)],
                          "spend": np.arange(40.0) ** 2, "visits": np.arange(40) % 7,
                          "plan": ["gold", "basic", "plus", "basic"] * 10})
    model = fit_model(frame, ("spend", "visits"), ("plan",), ModelConfig(k=3, k_max=4))
    assert model.spec.categories == (("basic", "gold", "plus"),)
    scaled = model.spec.scale(frame.assign(plan=["none"] * 40))  # unknown label: zeros
    assert (scaled[:, 2:] == 0).all()
    assert np.allclose(model.spec.embed(frame), model.embedding, atol=1e-5)


def test_a_spec_of_another_version_is_refused(
        fitted: tuple[PreparedData, FittedModel]) -> None:
    with pytest.raises(DataError, match="version"):
        ModelSpec.from_dict({**fitted[1].spec.to_dict(), "version": 0})
