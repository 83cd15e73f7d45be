"""Segment names must read right to a marketer."""

import numpy as np
import pandas as pd

from segmentation.engine import segment_customers
from segmentation.naming import format_value, unique_names


def test_recent_buyers_are_never_called_lapsed(reference_result, synthetic_result) -> None:
    for result in (reference_result, synthetic_result):
        for segment in result.segments:
            recency = segment.stat("Recency")
            if "Lapsed" in segment.name:
                assert recency.mean > recency.population_mean
            if "Recently active" in segment.name:
                assert recency.mean < recency.population_mean


def test_recency_drives_lapsed_and_recent_names() -> None:
    rng = np.random.default_rng(0)
    n = 600
    recent = rng.integers(0, 10, n)
    lapsed = rng.integers(85, 100, n)
    frame = pd.DataFrame({
        "id": np.arange(2 * n),
        "Recency": np.concatenate([recent, lapsed]),
        "spend": rng.normal(100, 5, 2 * n),
    })
    result = segment_customers(frame, source="t")
    by_recency = sorted(result.segments, key=lambda s: s.stat("Recency").mean)
    assert "Lapsed" not in by_recency[0].name
    assert "Lapsed" in by_recency[-1].name
    assert "Recently active" in by_recency[0].name


def test_names_are_unique_even_when_traits_repeat() -> None:
    names = unique_names([["Big spenders"], ["Big spenders"], ["Big spenders", "Lapsed"], []])
    assert len(set(names)) == 4
    assert names[3] == "Typical customers"


def test_names_are_unique_on_many_segments(ten_segment_result) -> None:
    assert len({s.name for s in ten_segment_result.segments}) == 10


def test_values_are_formatted_for_marketers() -> None:
    assert format_value("Income", 52345.4) == "52,345"
    assert format_value("OnlineShare", 0.381) == "38%"
    assert format_value("Children", 1.25) == "1.2"
    assert format_value("Income", None) == "unknown"
    assert format_value("Income", float("nan")) == "unknown"
