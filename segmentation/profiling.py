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


def segment_tables(frame: pd.DataFrame, segment_ids: np.ndarray, features: Sequence[str],
                   categorical: Sequence[str]) -> tuple[pd.DataFrame, SegmentTables]:
    """Everyone's mean, median and deviation of each feature (the population table), and
    the per-segment tables profiles are made of.

    One pass a feature: its values are counted once by segment, and everyone's median is
    read off the same counts (at ten million customers, a pass for everyone and another by
    segment cost 5 s).
    """
    codes, segments = pd.factorize(segment_ids, sort=True)
    k = len(segments)
    members = np.bincount(codes, minlength=k)
    stats = [_feature_stats(codes, k, _values(frame, f), members) for f in features]
    means = pd.DataFrame({f: s.means for f, s in zip(features, stats, strict=True)},
                         index=segments, columns=list(features))
    medians = pd.DataFrame({f: s.medians for f, s in zip(features, stats, strict=True)},
                           index=segments, columns=list(features))
    sizes = pd.Series(members, index=segments)
    minimum = pd.Series({f: s.minimum for f, s in zip(features, stats, strict=True)},
                        dtype=float)
    mixes = {c: _shares(codes, segments, frame[c]) for c in categorical}
    return (_population_table(stats, features),
            SegmentTables(means, medians, sizes, minimum, mixes))


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
    return _shares(segment_codes, segments, values)


def _shares(segment_codes: np.ndarray, segments: pd.Index | np.ndarray,
            values: np.ndarray | pd.Series) -> pd.DataFrame:
    counts, labels = _counts_by_label(segment_codes, len(segments), values)
    table = pd.DataFrame(counts, index=segments, columns=labels)
    return table.div(table.sum(axis=1), axis=0)


def _counts_by_label(segment_codes: np.ndarray, k: int,
                     values: np.ndarray | pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's customers (rows) holding each label present (columns, sorted, as
    pd.factorize(sort=True) gives them); missing labels left out, as crosstab does. A
    Categorical is counted by its own codes: hashing ten million labels again took 0.5 s."""
    categorical = isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype)
    if categorical:
        assert isinstance(values, pd.Series)
        codes = np.asarray(values.array.codes)
        labels = np.asarray(values.array.categories, dtype=object)
    else:
        codes, labels = pd.factorize(np.asarray(values), sort=True)
    known = codes >= 0
    if not known.all():
        segment_codes, codes = segment_codes[known], codes[known]
    counts = np.bincount(segment_codes * len(labels) + codes,
                         minlength=k * len(labels)).reshape(k, len(labels))
    if categorical:  # the labels someone holds, in sorted order
        present = np.flatnonzero(counts.sum(axis=0))
        order = present[np.argsort(labels[present])]
        counts, labels = counts[:, order], labels[order]
    return counts, labels


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


@dataclass(frozen=True)
class _FeatureStats:
    """One feature's statistics: over everyone, and by segment code."""

    mean: float
    median: float
    std: float
    minimum: float
    means: np.ndarray
    medians: np.ndarray


def _population_table(stats: Sequence[_FeatureStats], features: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame([(s.mean, s.median, s.std) for s in stats], index=list(features),
                        columns=["mean", "median", "std"], dtype=float)


def _feature_stats(codes: np.ndarray, k: int, x: np.ndarray,
                   members: np.ndarray) -> _FeatureStats:
    """Means and medians (as np.median) of the non-missing values, over everyone and by
    group; NaN where there are none. ``members`` counts each group's rows."""
    present, x = _without_missing(codes, x)
    if not len(x):
        return _FeatureStats(np.nan, np.nan, np.nan, np.nan, np.full(k, np.nan),
                             np.full(k, np.nan))
    if present is not codes:  # rows without a value left out: count the groups again
        codes, members = present, np.bincount(present, minlength=k)
    counts = _counts_by_group(codes, k, x)
    if counts is not None and _sums_exact(x.dtype, *counts, len(x)):
        # the counts give the very means a pass over the values would (1.3 s at 10M)
        low, by_group = counts
        sums = by_group @ np.arange(low, low + by_group.shape[1], dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / members
        mean = float(sums.sum() / len(x))
    else:
        means = np.array([x.mean()]) if k == 1 else _group_means(codes, members, x)
        mean = float(x.mean())
    if counts is not None:
        low, by_group = counts
        medians = _counted_medians(low, by_group)
        median = medians[0] if k == 1 else _counted_medians(low, by_group.sum(axis=0)[None])[0]
    else:
        medians = _sorted_medians(codes, k, x)
        median = medians[0] if k == 1 else float(np.median(x))
    return _FeatureStats(mean, float(median), float(x.std()), float(x.min()), means, medians)


def _sums_exact(dtype: np.dtype, low: float, by_group: np.ndarray, rows: int) -> bool:
    """Whether every partial sum of ``rows`` whole numbers from ``low`` to the top of the
    counted range is exact in float64 (as NumPy sums them) and in int64 alike."""
    if dtype.kind not in "iu":
        return False
    largest = max(abs(int(low)), abs(int(low) + by_group.shape[1] - 1))
    return largest * max(rows, 1) < 2**53


def _group_means(codes: np.ndarray, members: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Each group's mean of ``x`` (no missing values; NaN for a group with none), given
    each group's count of rows."""
    sums = np.bincount(codes, weights=x, minlength=len(members))
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / members


def _counts_by_group(codes: np.ndarray, k: int,
                     x: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Whole numbers in a range narrow enough: the lowest, and each group's count of each
    value from it (groups x values); else None."""
    whole = x.dtype.kind in "iu"
    low = int(x.min()) if whole else np.floor(x.min())
    high = int(x.max()) if whole else x.max()  # in Python: int8's -100 and 100 are 200 apart
    span = int(high - low) + 1
    if span * k > MAX_COUNTED_RANGE or not (whole or np.array_equal(x, np.floor(x))):
        return None
    offsets = np.subtract(x, low, dtype=np.intp) if whole else \
        (x - low).astype(np.intp, copy=False)
    if k > 1:
        offsets += codes * span
    return low, np.bincount(offsets, minlength=k * span).reshape(k, span)


def _counted_medians(low: float, counts: np.ndarray) -> np.ndarray:
    """Each row's median of the values ``low + i`` held ``counts[row, i]`` times."""
    cumulative = counts.cumsum(axis=1)
    n = cumulative[:, -1]
    # the values at ranks ceil(n/2) and n//2 + 1 (1-based): one rank when n is odd
    lower = (cumulative < ((n + 1) // 2)[:, None]).sum(axis=1)
    upper = (cumulative < (n // 2 + 1)[:, None]).sum(axis=1)
    return np.where(n > 0, low + (lower + upper) / 2, np.nan)


def _sorted_medians(codes: np.ndarray, k: int, x: np.ndarray) -> np.ndarray:
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
