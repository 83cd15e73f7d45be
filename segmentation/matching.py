"""Stable segment identities across runs, and who moved between segments.

K-Means numbers its clusters arbitrarily; marketers plan against "segment 4" week after week.
Each new segment is matched to the previous run's by optimal assignment on the distance
between segment means, scaled by the new run's population spread (a space both runs share).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from segmentation import naming, rfm_naming
from segmentation.cleaning import id_strings
from segmentation.result import (
    GONE,
    NEW,
    FeatureStat,
    SegmentationResult,
    SegmentMatch,
    SegmentProfile,
    order_roles,
)

MAX_MATCH_DISTANCE = 0.8  # RMS distance in standard deviations beyond which it's a new segment
_UNMATCHABLE = 1e6  # finite stand-in for "no distance": the solver needs finite costs


@dataclass(frozen=True)
class Matching:
    """The outcome of matching a new run to the previous one."""

    result: SegmentationResult  # renumbered and renamed
    matches: tuple[SegmentMatch, ...]
    retired: tuple[int, ...]  # previous segments with no successor
    mapping: dict[int, int] = field(default_factory=dict)  # the result's id -> the published


def match_segments(result: SegmentationResult, previous: Sequence[SegmentProfile],
                   next_free_id: int, *,
                   max_distance: float = MAX_MATCH_DISTANCE) -> Matching:
    """Give each new segment its predecessor's id, or a fresh id never used before.

    A continuing segment keeps its name too, unless the name no longer describes it.
    """
    if not previous:
        return Matching(result, tuple(SegmentMatch(s.segment_id, None, None)
                                      for s in result.segments), (),
                        {s.segment_id: s.segment_id for s in result.segments})
    distances = segment_distances(result, previous)
    # imported here: the store and every answer import this module for its types, and
    # scipy.optimize costs ~0.4 s of start-up that only a refresh needs
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(np.minimum(distances, _UNMATCHABLE))
    pairs = {int(r): int(c) for r, c in zip(rows, cols, strict=True)
             if distances[r, c] <= max_distance}
    mapping, matches = {}, []
    fresh = max(next_free_id, max(s.segment_id for s in previous) + 1)
    for row, segment in enumerate(result.segments):
        if row in pairs:
            before = previous[pairs[row]]
            mapping[segment.segment_id] = before.segment_id
            matches.append(SegmentMatch(before.segment_id, before.segment_id,
                                        round(float(distances[row, pairs[row]]), 4)))
        else:
            mapping[segment.segment_id] = fresh
            matches.append(SegmentMatch(fresh, None, None))
            fresh += 1
    kept_names = {previous[c].segment_id: previous[c].name for r, c in pairs.items()
                  if _name_still_fits(result, previous[c].name, result.segments[r].stats)}
    renamed = _carry_names(result.with_segment_ids(mapping), kept_names)
    retired = tuple(sorted(p.segment_id for i, p in enumerate(previous)
                           if i not in pairs.values()))
    return Matching(renamed, tuple(sorted(matches, key=lambda m: m.segment_id)), retired,
                    mapping)


def _name_still_fits(result: SegmentationResult, name: str,
                     stats: Sequence[FeatureStat]) -> bool:
    """Whether an earlier run's name still describes a segment: RFM names for an order
    history, trait names for a customer table."""
    if order_roles(result.columns):
        return rfm_naming.name_still_fits(name, stats)
    return naming.name_still_fits(name, stats, result.features)


def segment_distances(result: SegmentationResult,
                      previous: Sequence[SegmentProfile]) -> np.ndarray:
    """RMS distance between every new and previous segment mean, in new-run std units."""
    features = [f for f in result.profile_features
                if all(p.stat(f) is not None for p in previous)]
    if not features:  # nothing in common (the table changed shape): nothing matches
        return np.full((len(result.segments), len(previous)), np.inf)
    spread = np.array([result.population[f]["std"] or 1.0 for f in features], dtype=float)
    spread[spread == 0] = 1.0
    new = _means(result.segments, features) / spread
    old = _means(previous, features) / spread
    diff = new[:, None, :] - old[None, :, :]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pair: no distance
        distance = np.sqrt(np.nanmean(diff ** 2, axis=2))
    return np.where(np.isnan(distance), np.inf, distance)


def _means(segments: Sequence[SegmentProfile], features: Sequence[str]) -> np.ndarray:
    return np.array([[_mean_or_nan(s, f) for f in features] for s in segments], dtype=float)


def _mean_or_nan(segment: SegmentProfile, feature: str) -> float:
    stat = segment.stat(feature)
    return np.nan if stat is None or stat.mean is None else stat.mean


def _carry_names(result: SegmentationResult, kept: dict[int, str]) -> SegmentationResult:
    """Matched segments keep their names; new ones get theirs, made unique against the kept."""
    taken = set(kept.values())
    segments = []
    for segment in result.segments:
        name = kept.get(segment.segment_id)
        if name is None:
            name = segment.name
            suffix = 2
            while name in taken:
                name = f"{naming.name_from_traits(segment.traits, naming.MAX_TRAITS)} " \
                       f"({suffix})"
                suffix += 1
        taken.add(name)
        segments.append(replace(segment, name=name))
    return replace(result, segments=tuple(segments))


def movement_matrix(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """Customers per (from segment, to segment); 'new' and 'gone' for arrivals and departures.

    Both frames have customer_id and segment_id. Returns long form: from, to, customers.
    One hash lookup per customer, on the ids as Arrow text (a pandas index of ten million
    Python strings took 22 s, Arrow 4 s), and integer counting: linear.
    """
    before = previous["segment_id"].to_numpy(dtype=np.int64)
    after = current["segment_id"].to_numpy(dtype=np.int64)
    found = pc.index_in(id_strings(current["customer_id"]),
                        value_set=id_strings(previous["customer_id"]))
    position = found.fill_null(-1).to_numpy().astype(np.intp)
    stayed = position >= 0
    origin = np.full(len(after), -1, dtype=np.int64)  # -1: new
    origin[stayed] = before[position[stayed]]
    still_here = np.zeros(len(before), dtype=bool)
    still_here[position[stayed]] = True
    pairs = pd.DataFrame({"from": np.concatenate([origin, before[~still_here]]),
                          "to": np.concatenate([after, np.full((~still_here).sum(), -1)])})
    return movement_from_counts(pairs.value_counts(sort=False).reset_index(name="customers"))


def movement_from_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """`movement_matrix`'s form of counts per (from, to) segment id, -1 for new and gone:
    ordered by segment id, new and gone last, and labelled."""
    counts = counts.sort_values(["from", "to"], key=lambda v: v.where(v >= 0, np.iinfo(
        np.int64).max)).reset_index(drop=True)
    return counts.assign(**{"from": _labels(counts["from"], NEW), "to": _labels(counts["to"],
                                                                                GONE)})


def _labels(ids: pd.Series, missing: str) -> pd.Series:
    return ids.astype(str).where(ids >= 0, missing).astype(object)


def movers(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """The customers whose segment changed: customer_id, from_segment, to_segment."""
    merged = previous[["customer_id", "segment_id"]].merge(
        current[["customer_id", "segment_id"]], on="customer_id", suffixes=("_from", "_to"))
    moved = merged[merged["segment_id_from"] != merged["segment_id_to"]]
    return moved.rename(columns={"segment_id_from": "from_segment",
                                 "segment_id_to": "to_segment"}).reset_index(drop=True)
