"""Segment ids and names survive re-runs; movement between runs is counted exactly."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.loading import load_table
from segmentation.matching import match_segments, movement_matrix, movers
from segmentation.model import ModelConfig
from segmentation.synthetic import generate_customers


@pytest.fixture(scope="module")
def reference_runs(reference_csv):
    raw = load_table(reference_csv)
    first = segment_customers(raw, source="ref", config=ModelConfig(seed=1))
    second = segment_customers(raw, source="ref",
                               config=ModelConfig(seed=2, previous_k=first.k))
    return first, second


def test_rerun_with_another_seed_keeps_ids_and_names(reference_runs) -> None:
    first, second = reference_runs
    matched = match_segments(second, first.segments, next_free_id=first.k + 1)
    assert [(s.segment_id, s.name) for s in matched.result.segments] == \
        [(s.segment_id, s.name) for s in first.segments]
    assert matched.retired == ()
    assert all(m.previous_id == m.segment_id for m in matched.matches)


def test_shuffled_cluster_numbers_are_undone(reference_runs) -> None:
    first, _ = reference_runs
    ids = [s.segment_id for s in first.segments]
    shuffled = first.with_segment_ids(dict(zip(ids, ids[::-1], strict=True)))
    matched = match_segments(shuffled, first.segments, next_free_id=99)
    pd.testing.assert_frame_equal(matched.result.assignments, first.assignments)
    assert all(m.distance == 0 for m in matched.matches)


@pytest.mark.slow  # over a second: the fast tier stays under a minute
def test_ten_percent_changed_behaviour_keeps_ids_and_names() -> None:
    before = generate_customers(6000, seed=5)
    after = before.copy()
    rng = np.random.default_rng(0)
    changed = rng.choice(len(after), size=len(after) // 10, replace=False)
    after.loc[changed, "Recency"] = 99 - after.loc[changed, "Recency"]
    after.loc[changed, "NumWebVisitsMonth"] = after.loc[changed, "NumWebVisitsMonth"] + 3
    first = segment_customers(before, source="week1", config=ModelConfig(seed=1))
    second = segment_customers(after, source="week2",
                               config=ModelConfig(seed=2, previous_k=first.k))
    matched = match_segments(second, first.segments, next_free_id=first.k + 1)
    assert [(s.segment_id, s.name) for s in matched.result.segments] == \
        [(s.segment_id, s.name) for s in first.segments]


def test_unmatched_segment_gets_a_fresh_id_and_old_one_is_retired(reference_runs) -> None:
    first, _ = reference_runs
    far = replace(first.segments[-1], segment_id=first.segments[-1].segment_id,
                  stats=tuple(replace(s, mean=(s.mean or 0) * 50 + 1000)
                              for s in first.segments[-1].stats))
    previous = (*first.segments[:-1], far)
    matched = match_segments(first, previous, next_free_id=12)
    new_ids = [m.segment_id for m in matched.matches if m.previous_id is None]
    assert new_ids == [12]
    assert matched.retired == (far.segment_id,)
    names = [s.name for s in matched.result.segments]
    assert len(set(names)) == len(names)


def test_movement_matrix_counts_moves_arrivals_and_departures() -> None:
    previous = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                             "segment_id": [1, 1, 2, 2, 3]})
    current = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "f", "g"],
                            "segment_id": [1, 2, 2, 1, 3, 3]})
    matrix = movement_matrix(previous, current)
    counts = {(r["from"], r["to"]): r["customers"] for _, r in matrix.iterrows()}
    assert counts == {("1", "1"): 1, ("1", "2"): 1, ("2", "2"): 1, ("2", "1"): 1,
                      ("3", "gone"): 1, ("new", "3"): 2}
    moved = movers(previous, current).sort_values("customer_id")
    assert moved["customer_id"].tolist() == ["b", "d"]
    assert moved[["from_segment", "to_segment"]].values.tolist() == [[1, 2], [2, 1]]


def test_runs_with_no_feature_in_common_match_nothing(reference_runs) -> None:
    first, second = reference_runs
    foreign = tuple(replace(s, stats=tuple(replace(st, feature=f"other_{st.feature}")
                                           for st in s.stats)) for s in first.segments)
    matched = match_segments(second, foreign, next_free_id=20)
    assert [m.previous_id for m in matched.matches] == [None] * second.k
    assert [m.segment_id for m in matched.matches] == list(range(20, 20 + second.k))
    assert matched.retired == tuple(s.segment_id for s in first.segments)


def test_movement_matrix_counts_every_customer_once_at_scale() -> None:
    rng = np.random.default_rng(1)
    ids = rng.permutation(300_000).astype(str)
    previous = pd.DataFrame({"customer_id": ids[:250_000],
                             "segment_id": rng.integers(1, 6, 250_000)})
    current = pd.DataFrame({"customer_id": ids[50_000:],
                            "segment_id": rng.integers(1, 6, 250_000)})
    matrix = movement_matrix(previous, current)
    assert matrix["customers"].sum() == 300_000  # every customer counted exactly once
    assert matrix.loc[matrix["from"] == "new", "customers"].sum() == 50_000
    assert matrix.loc[matrix["to"] == "gone", "customers"].sum() == 50_000


def test_movement_from_an_empty_run_counts_everyone_as_new() -> None:
    empty = pd.DataFrame({"customer_id": pd.Series(dtype=str),
                          "segment_id": pd.Series(dtype="int64")})
    current = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment_id": [1, 1, 2]})
    matrix = movement_matrix(empty, current)
    assert matrix.values.tolist() == [["new", "1", 2], ["new", "2", 1]]
    gone = movement_matrix(current, empty)
    assert gone.values.tolist() == [["1", "gone", 2], ["2", "gone", 1]]


def test_a_kept_name_must_still_describe_the_segment(reference_result) -> None:
    from segmentation.naming import name_still_fits

    first = reference_result
    other = segment_customers(generate_customers(5000, seed=9), source="synthetic",
                              config=ModelConfig(previous_k=first.k))
    matched = match_segments(other, first.segments, next_free_id=first.k + 1)
    for segment in matched.result.segments:
        assert name_still_fits(segment.name, segment.stats, other.features), segment.name
    names = [s.name for s in matched.result.segments]
    assert len(set(names)) == len(names)


def test_drifted_trait_drops_the_name(reference_runs) -> None:
    from segmentation.naming import name_still_fits

    first, _ = reference_runs
    segment = first.segments[0]
    assert name_still_fits(segment.name, segment.stats, first.features)
    flipped = tuple(replace(s, z=-s.z) for s in segment.stats)
    assert not name_still_fits(segment.name, flipped, first.features)
