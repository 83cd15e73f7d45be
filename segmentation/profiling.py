"""Per-segment statistics in original units, against the whole population, and their names."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import SupportsFloat, cast

import numpy as np
import pandas as pd

from segmentation import naming
from segmentation.result import FeatureStat, SegmentProfile

SECONDARY_WEIGHT = 0.8  # profiled-only features rank a little below the clustered ones

# (segment id, size, stats, features by how much they set it apart, category shares)
_Draft = tuple[int, int, tuple[FeatureStat, ...], tuple[str, ...], dict[str, dict[str, float]]]


def population_stats(frame: pd.DataFrame, features: Sequence[str]) -> pd.DataFrame:
    """Mean, median and standard deviation of every feature over all kept customers."""
    everyone = np.zeros(len(frame), dtype=np.intp)
    rows = []
    for feature in features:
        x = _values(frame, feature)
        _, valid = _without_missing(everyone, x)
        rows.append((_group_means(everyone, 1, x)[0], _group_medians(everyone, 1, x)[0],
                     float(valid.std()) if len(valid) else np.nan))
    return pd.DataFrame(rows, index=list(features), columns=["mean", "median", "std"],
                        dtype=float)


def profile_segments(frame: pd.DataFrame, segment_ids: np.ndarray, features: Sequence[str],
                     categorical: Sequence[str], naming_features: Sequence[str],
                     labels: dict[str, str],
                     population: pd.DataFrame) -> tuple[SegmentProfile, ...]:
    """Size, share, mean/median/index/z per feature, category mix, name, description, action.

    ``population`` is ``population_stats(frame, features)``, which the caller keeps for the
    result too (a second pass over a million customers costs about a second).
    """
    codes, segments = pd.factorize(segment_ids, sort=True)
    k = len(segments)
    columns = {f: _values(frame, f) for f in features}
    means = pd.DataFrame({f: _group_means(codes, k, x) for f, x in columns.items()},
                         index=segments, columns=list(features))
    medians = pd.DataFrame({f: _group_medians(codes, k, x) for f, x in columns.items()},
                           index=segments, columns=list(features))
    sizes = pd.Series(np.bincount(codes, minlength=k), index=segments)
    minimum = pd.Series({f: _minimum(x) for f, x in columns.items()}, dtype=float)
    mixes = {c: category_shares(segment_ids, frame[c].to_numpy()) for c in categorical}
    return profiles_from_tables(SegmentTables(means, medians, sizes, minimum, mixes),
                                population, naming_features, labels)


@dataclass(frozen=True)
class SegmentTables:
    """What profiles are made of, by segment id: any engine that counts these names alike."""

    means: pd.DataFrame  # segment id x feature, missing values left out
    medians: pd.DataFrame  # segment id x feature, as np.median
    sizes: pd.Series  # customers per segment id
    minimum: pd.Series  # each feature's smallest value over everyone
    mixes: dict[str, pd.DataFrame]  # text column -> segment id x label: share in segment


def profiles_from_tables(tables: SegmentTables, population: pd.DataFrame,
                         naming_features: Sequence[str],
                         labels: dict[str, str]) -> tuple[SegmentProfile, ...]:
    """Profiles, names, descriptions and actions from the per-segment tables."""
    means, medians, sizes = tables.means, tables.medians, tables.sizes
    features = list(means.columns)
    std = population["std"].replace(0, np.nan)
    z = ((means - population["mean"]) / std).fillna(0.0)
    # An index is a ratio of amounts: a feature that can be negative (a trend, a balance)
    # has none, as one whose average is 0 has none.
    ratio_of = population["mean"].where((population["mean"] != 0) & (tables.minimum >= 0))
    index = means / ratio_of * 100
    drafts: list[_Draft] = []
    for segment_id in sorted(sizes.index):
        stats = tuple(FeatureStat(
            feature=f, label=labels.get(f, f), mean=_num(_cell(means, segment_id, f)),
            median=_num(_cell(medians, segment_id, f)),
            population_mean=_num(_cell(population, f, "mean")),
            index=_num(_cell(index, segment_id, f)), z=_cell(z, segment_id, f))
            for f in features)
        distinguishing = tuple(s.feature for s in sorted(
            stats, key=lambda s: -abs(s.z) * naming.TRAIT_WEIGHTS.get(s.feature, 1.0)
            * (1.0 if s.feature in naming_features else SECONDARY_WEIGHT)))
        mix = {c: {str(k): round(float(v), 4) for k, v in shares.loc[segment_id].items()}
               for c, shares in tables.mixes.items()}
        drafts.append((int(segment_id), int(sizes[segment_id]), stats, distinguishing, mix))
    return _name_segments(drafts, int(sizes.sum()), naming_features)


def category_shares(segment_ids: np.ndarray, values: np.ndarray) -> pd.DataFrame:
    """Share of each label within each segment: pd.crosstab(normalize="index"), by counting.

    crosstab groups a million rows through pivot_table (0.15 s a column); one bincount of
    (segment, label) codes gives the same table.
    """
    segment_codes, segments = pd.factorize(segment_ids, sort=True)
    label_codes, labels = pd.factorize(values, sort=True)
    known = label_codes >= 0  # crosstab leaves out missing labels
    counts = np.bincount(segment_codes[known] * len(labels) + label_codes[known],
                         minlength=len(segments) * len(labels))
    table = pd.DataFrame(counts.reshape(len(segments), len(labels)), index=segments,
                         columns=labels)
    return table.div(table.sum(axis=1), axis=0)


def _name_segments(drafts: list[_Draft], total: int,
                   naming_features: Sequence[str]) -> tuple[SegmentProfile, ...]:
    traits = [naming.pick_traits(stats, naming_features) for _, _, stats, _, _ in drafts]
    names = naming.unique_names(traits)
    actions = naming.recommend_actions(traits)
    profiles = []
    for (segment_id, size, stats, distinguishing, mix), trait, name, action in zip(
            drafts, traits, names, actions, strict=True):
        share = size / total
        profiles.append(SegmentProfile(
            segment_id=segment_id, name=name,
            description=naming.describe_segment(size, share, stats, distinguishing),
            action=action, size=size, share=round(share, 6),
            traits=tuple(trait[:naming.MAX_TRAITS]), stats=stats, distinguishing=distinguishing,
            centroid=tuple(round(s.z, 6) for s in stats), categories=mix))
    return tuple(profiles)


def _cell(table: pd.DataFrame, row: Hashable, column: str) -> float:
    # pandas-stubs type a cell as any scalar (a date, a string, None); these tables hold floats
    return float(cast(SupportsFloat, table.at[row, column]))


def _num(value: float) -> float | None:
    return None if np.isnan(value) else round(value, 6)


# Medians of whole numbers in a range this wide are read off counts instead of sorting
# (a million customers: one bincount instead of a partition per segment).
MAX_COUNTED_RANGE = 1 << 22


def _values(frame: pd.DataFrame, feature: str) -> np.ndarray:
    """A feature as numbers: integers as they are (they have no missing values), else floats.

    Ten million customers: a float copy of each integer column, twice, cost 4 s.
    """
    column = frame[feature]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return column.to_numpy()
    return column.astype(float).to_numpy(dtype=float)


def _minimum(x: np.ndarray) -> float:
    present = x[~np.isnan(x)] if x.dtype.kind == "f" else x
    return float(present.min()) if len(present) else np.nan


def _group_means(codes: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """Each group's mean of the non-missing values (NaN for a group with none)."""
    codes, x = _without_missing(codes, x)
    if k == 1:
        return np.array([x.mean() if len(x) else np.nan])
    sums = np.bincount(codes, weights=x, minlength=k)
    counts = np.bincount(codes, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts


def _group_medians(codes: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
    """Each group's median of the non-missing values, as np.median (NaN for a group with none)."""
    codes, x = _without_missing(codes, x)
    if not len(x):
        return np.full(k, np.nan)
    whole = x.dtype.kind in "iu"
    low = x.min() if whole else np.floor(x.min())
    span = int(x.max() - low) + 1
    if span * k <= MAX_COUNTED_RANGE and (whole or np.array_equal(x, np.floor(x))):
        offsets = (x - low).astype(np.intp, copy=False)
        if k > 1:
            offsets += codes * span
        cumulative = np.bincount(offsets, minlength=k * span).reshape(k, span).cumsum(axis=1)
        n = cumulative[:, -1]
        # the values at ranks ceil(n/2) and n//2 + 1 (1-based): one rank when n is odd
        lower = (cumulative < ((n + 1) // 2)[:, None]).sum(axis=1)
        upper = (cumulative < (n // 2 + 1)[:, None]).sum(axis=1)
        return np.where(n > 0, low + (lower + upper) / 2, np.nan)
    if k == 1:
        return np.array([np.median(x)])
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    ordered = x[order]
    return np.array([np.median(ordered[a:b]) if b > a else np.nan
                     for a, b in zip(bounds[:-1], bounds[1:], strict=True)])


def _without_missing(codes: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype.kind != "f":
        return codes, x
    valid = ~np.isnan(x)
    return (codes, x) if valid.all() else (codes[valid], x[valid])
