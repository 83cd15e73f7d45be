"""The few metrics shown for every segment alike: in the overview and in the history."""

from __future__ import annotations

from collections.abc import Sequence

from segmentation.order_fields import OVERVIEW_FEATURES
from segmentation.result import SegmentProfile, order_roles
from storage.records import RunRecord


def key_features(segments: Sequence[SegmentProfile], count: int = 3) -> list[str]:
    """The features that differ most between segments: shown for every segment alike."""
    strength: dict[str, float] = {}
    for segment in segments:
        for rank, feature in enumerate(segment.distinguishing[:count]):
            strength[feature] = strength.get(feature, 0.0) + count - rank
    return sorted(strength, key=lambda f: -strength[f])[:count]


def run_key_features(run: RunRecord, segments: Sequence[SegmentProfile]) -> list[str]:
    """An order history's recency, frequency and money; else what sets the segments apart."""
    return list(OVERVIEW_FEATURES) if order_roles(run.columns) else key_features(segments)
