"""Segment profiles built from plain means, for tests of what is drawn or said about segments."""

from __future__ import annotations

from segmentation.result import FeatureStat, SegmentProfile


def segment_with_means(segment_id: int, means: dict[str, float], *, size: int = 400,
                       share: float = 0.25) -> SegmentProfile:
    """Segment `segment_id` whose features have these means (the population's the same)."""
    stats = tuple(FeatureStat(feature=f, label=f, mean=m, median=m, population_mean=m,
                              index=100.0, z=0.0) for f, m in means.items())
    return SegmentProfile(segment_id=segment_id, name=f"Segment {segment_id}", description="",
                          action="", size=size, share=share, traits=(), stats=stats,
                          distinguishing=(), centroid=())
