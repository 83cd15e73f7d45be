"""Segment names for order histories in the RFM words marketers use, with numbers and actions.

A segment's name follows from where it stands against the average customer of the same run:
how much longer or shorter ago it last bought (recency), how often it bought (frequency),
how much it spent (value), how long ago it started (tenure), whether its buying slows down
(trend) and how many of its customers bought once. Each name has a degree of fit in [0, 1]
built from those standings; segments get the names that fit them best, one name per segment
(an assignment over the whole run), and a segment that fits only a name another segment holds
better takes it with what sets it apart ("Lost · big baskets").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

import numpy as np

from segmentation.result import FeatureStat, SegmentProfile

RECENCY, FREQUENCY, VALUE, BASKET = "recency_days", "frequency", "monetary_total", "monetary_avg"
TENURE, TREND, ONCE = "tenure_days", "trend", "one_time_buyer"
INTERVAL = "median_interval_days"

# A segment is fully "recent" when it last bought in half the average customer's time or
# less, fully "lapsed" from 1.25 times: the average sits near the lapsed end, since most of
# an order history's customers stopped buying long ago.
_RECENT_AT = math.log(2.0)
_LAPSED_AT = math.log(1.25)
_HIGH_AT = math.log(2.0)  # frequency, value: twice the average
_LOW_AT = math.log(1.5)  # ... two thirds of it; "used to buy often": 1.5 times the average
_OVERDUE_FROM, _OVERDUE_AT = math.log(1.5), math.log(3.0)  # of their usual gap between buys
_NEW_AT = math.log(2.0)  # tenure: half the average
_SLOWING_AT = 0.5  # mean trend -0.5: it bought far less in the last window than the one before
_ONCE_FROM, _ONCE_AT = 0.3, 0.5  # a majority who bought once is a segment of one-time buyers
MIN_FIT = 0.3  # below this a name does not describe a segment
KEEP_FIT = 0.2  # ... and from this a segment keeps last run's name (less, so small drift keeps it)
SWAP_MARGIN = 0.3  # a name this much worse than a segment's best is no name for it
MAX_QUALIFIERS = 2
_NEAR = 0.05  # fits this close to a segment's best are as good a name for it


class RfmName(StrEnum):
    """The names, from the best customers to the worst (the order breaks ties)."""

    CHAMPIONS = "Champions"
    LOYAL = "Loyal"
    AT_RISK = "At risk"
    CANT_LOSE = "Can't lose them"
    NEW = "New customers"
    POTENTIAL = "Potential loyalists"
    NEED_ATTENTION = "Need attention"
    HIBERNATING = "Hibernating"
    ONE_TIME = "One-time buyers"
    LOST = "Lost"


ACTIONS: dict[RfmName, str] = {
    RfmName.CHAMPIONS: "VIP programme: early access, exclusive offers and thanks; ask for "
                       "reviews and referrals. No discounts needed.",
    RfmName.LOYAL: "Loyalty programme and upsell: recommend higher-value ranges and bundles "
                   "from what they already buy.",
    RfmName.CANT_LOSE: "Win-back offer, made personally: reach out, offer something premium "
                       "and ask what changed, before a competitor keeps them.",
    RfmName.AT_RISK: "Reactivation: personal emails about what they used to buy, with a "
                     "reason to come back now.",
    RfmName.NEW: "Onboarding series: welcome emails, how-to content and a second-purchase "
                 "incentive.",
    RfmName.POTENTIAL: "Invite them to the loyalty programme and recommend what customers "
                       "like them buy next, to make buying a habit.",
    RfmName.NEED_ATTENTION: "Time-limited offers based on their past purchases, before they "
                            "slip away.",
    RfmName.HIBERNATING: "Low-cost reactivation: a seasonal offer by email; keep paid media "
                         "spend on them low.",
    RfmName.ONE_TIME: "Second-purchase offer by email; suppress from paid media if they do "
                      "not respond.",
    RfmName.LOST: "Suppress from paid media; at most one low-cost win-back email.",
}

# What sets apart two segments that fit the same name: feature -> (higher, lower).
QUALIFIERS: dict[str, tuple[str, str]] = {
    BASKET: ("big baskets", "small baskets"),
    FREQUENCY: ("more orders", "fewer orders"),
    VALUE: ("higher spend", "lower spend"),
    RECENCY: ("longer gone", "more recent"),
    TENURE: ("longer-standing", "newer"),
    TREND: ("picking up", "slowing down"),
}
_SUFFIX = re.compile(r" \([A-Z0-9]+\)$")


@dataclass(frozen=True)
class Standing:
    """Where a segment stands against the average customer.

    Recency, frequency, value and tenure are log ratios of the segment's mean to the
    population's (0: average; below 0: less); overdue the log ratio of its recency to its
    repeat buyers' usual days between purchases (above 0: longer than usual since the last);
    trend is the segment's mean trend (-1..1), once the share of its customers who bought once.
    """

    recency: float
    frequency: float
    value: float
    tenure: float
    overdue: float
    trend: float
    once: float


def standing(stats: Sequence[FeatureStat]) -> Standing:
    """The segment's standing from its feature statistics (a missing feature is average)."""
    by_feature = {stat.feature: stat for stat in stats}

    def ratio(feature: str) -> float:
        stat = by_feature.get(feature)
        if stat is None or stat.mean is None or stat.population_mean is None:
            return 0.0
        return math.log((max(stat.mean, 0.0) + 1) / (max(stat.population_mean, 0.0) + 1))

    def mean(feature: str) -> float | None:
        stat = by_feature.get(feature)
        return None if stat is None else stat.mean

    frequency = ratio(FREQUENCY)
    recency, interval = mean(RECENCY), mean(INTERVAL)
    overdue = 0.0 if recency is None or interval is None else \
        math.log((max(recency, 0.0) + 1) / (max(interval, 0.0) + 1))
    return Standing(recency=ratio(RECENCY), frequency=frequency,
                    value=ratio(VALUE) if VALUE in by_feature else frequency,
                    tenure=ratio(TENURE), overdue=overdue, trend=mean(TREND) or 0.0,
                    once=mean(ONCE) or 0.0)


def _degree(value: float, full: float) -> float:
    """0 at or below 0, rising to 1 at ``full``."""
    return min(max(value / full, 0.0), 1.0)


def fits(place: Standing) -> dict[RfmName, float]:
    """How well each name describes a segment standing at ``place``, from 0 to 1.

    A tiny tie-break gives the better of two segments that fit two names alike the better
    name (the more recent and frequent of two champion-like segments is the Champions).
    """
    recent = _degree(-place.recency, _RECENT_AT)
    lapsed = _degree(place.recency, _LAPSED_AT)
    frequent = _degree(place.frequency, _HIGH_AT)
    used_often = _degree(place.frequency, _LOW_AT)
    rare = _degree(-place.frequency, _LOW_AT)
    valuable = _degree(place.value, _HIGH_AT)
    cheap = _degree(-place.value, _LOW_AT)
    new = _degree(-place.tenure, _NEW_AT)
    slowing = _degree(-place.trend, _SLOWING_AT)
    overdue = _degree(place.overdue - _OVERDUE_FROM, _OVERDUE_AT - _OVERDUE_FROM)
    not_lately = max(lapsed, slowing, overdue)
    once = _degree(place.once - _ONCE_FROM, _ONCE_AT - _ONCE_FROM)
    repeat = 1.0 - once
    degrees = {
        RfmName.CHAMPIONS: min(recent, frequent, valuable, repeat, 1 - max(slowing, overdue)),
        RfmName.LOYAL: min(frequent, 1 - not_lately, repeat, 1 - new),
        RfmName.AT_RISK: min(not_lately, used_often, repeat),
        RfmName.CANT_LOSE: min(max(lapsed, overdue), valuable, used_often, repeat),
        RfmName.NEW: min(recent, new),
        RfmName.POTENTIAL: min(recent, repeat, 1 - new, 1 - frequent, 1 - max(slowing, overdue)),
        RfmName.NEED_ATTENTION: min(1 - recent, 1 - lapsed, 1 - overdue, repeat),
        RfmName.HIBERNATING: min(max(lapsed, overdue), repeat, 1 - valuable, 1 - frequent),
        RfmName.ONE_TIME: min(once, 1 - recent),
        RfmName.LOST: min(lapsed, rare, cheap),
    }
    # Names run from the best customers to the worst; among segments that fit two names
    # alike, the better segment (recent, frequent, valuable) takes the better name.
    goodness = math.tanh((-place.recency + place.frequency + place.value) / 4)
    order = list(RfmName)
    return {name: fit + 1e-3 * goodness * (len(order) - order.index(name)) / len(order)
            for name, fit in degrees.items()}


def name_segments(segments: Sequence[SegmentProfile]) -> tuple[SegmentProfile, ...]:
    """The segments with RFM names (unique in the run), descriptions in numbers and actions."""
    places = [standing(segment.stats) for segment in segments]
    table = [fits(place) for place in places]
    bases = _assign(table)
    names = _qualified(segments, bases)
    return tuple(replace(segment, name=name, description=describe(segment, place),
                         action=ACTIONS[base], traits=tuple(name.split(" · ")))
                 for segment, place, base, name in zip(segments, places, bases, names,
                                                       strict=True))


def _assign(table: list[dict[RfmName, float]]) -> list[RfmName]:
    """One name per segment maximising the total fit. A segment left only names far worse
    than its best (more segments than fitting names) takes one of the names that fit it
    nearly best, the one fewest segments hold, to be told apart by a qualifier."""
    from scipy.optimize import linear_sum_assignment  # as matching does: only refreshes need it

    names = list(RfmName)
    scores = np.array([[row[name] for name in names] for row in table])
    rows, cols = linear_sum_assignment(-np.where(scores >= MIN_FIT, scores, scores - 1.0))
    chosen: dict[int, RfmName] = {}
    for row, col in zip(rows, cols, strict=True):
        fit, best = scores[row, col], scores[row].max()
        if fit >= MIN_FIT and fit >= best - SWAP_MARGIN:
            chosen[int(row)] = names[int(col)]
    held = Counter(chosen.values())
    for i in sorted(set(range(len(table))) - set(chosen), key=lambda i: -scores[i].max()):
        row = table[i]
        near = [name for name in names if row[name] >= max(row.values()) - _NEAR]
        chosen[i] = min(near, key=lambda name: (held[name], -row[name]))
        held[chosen[i]] += 1
    return [chosen[i] for i in range(len(table))]


def _qualified(segments: Sequence[SegmentProfile], bases: Sequence[RfmName]) -> list[str]:
    """Names unique in the run: segments sharing a name add what sets each apart."""
    names = [base.value for base in bases]
    for base in set(bases):
        _set_apart(segments, [i for i, b in enumerate(bases) if b == base], names, ())
    counts: dict[str, int] = {}
    for i, name in enumerate(names):
        if names.count(name) > 1:
            counts[name] = counts.get(name, 0) + 1
            names[i] = f"{name} ({'ABCDEFGHIJ'[counts[name] - 1]})"
    return names


def _set_apart(segments: Sequence[SegmentProfile], group: list[int], names: list[str],
               used: tuple[str, ...]) -> None:
    """Add to each name of ``group`` whether it is above or below the group on the feature
    where the group differs most; again within each half, up to `MAX_QUALIFIERS`."""
    if len(group) < 2 or len(used) >= MAX_QUALIFIERS:
        return
    feature = _widest_difference([segments[i] for i in group], used)
    values = [_mean(segments[i], feature) for i in group]
    if max(values) - min(values) <= 1e-9 * max(1.0, max(abs(v) for v in values)):
        return  # alike on every qualifier: the letters tell them apart
    middle = float(np.mean(values))
    higher, lower = QUALIFIERS[feature]
    above = [i for i, value in zip(group, values, strict=True) if value >= middle]
    below = [i for i in group if i not in above]
    for half, phrase in ((above, higher), (below, lower)):
        for i in half:
            names[i] = f"{names[i]} · {phrase}"
        _set_apart(segments, half, names, (*used, feature))


def _widest_difference(group: Sequence[SegmentProfile], used: tuple[str, ...]) -> str:
    """The qualifier feature on which the segments of a group differ most, in z units."""
    def spread(feature: str) -> float:
        stats = [segment.stat(feature) for segment in group]
        zs = [stat.z for stat in stats if stat is not None]
        return max(zs) - min(zs) if len(zs) == len(group) else -1.0

    return max((f for f in QUALIFIERS if f not in used), key=spread)


def _mean(segment: SegmentProfile, feature: str) -> float:
    stat = segment.stat(feature)
    return 0.0 if stat is None or stat.mean is None else stat.mean


def describe(segment: SegmentProfile, place: Standing) -> str:
    """One line in numbers: 'bought 7.2 times, last 21 days ago, 412 in total' and the average
    customer's, so the name can be checked against them."""
    own, average = _numbers(segment, population=False), _numbers(segment, population=True)
    once = f"; {place.once:.0%} bought only once" if place.once >= 0.05 else ""
    return (f"{segment.share:.0%} of customers ({segment.size:,}): {own}{once}. "
            f"The average customer: {average}.")


def _numbers(segment: SegmentProfile, *, population: bool) -> str:
    def value(feature: str) -> float | None:
        stat = segment.stat(feature)
        if stat is None:
            return None
        return stat.population_mean if population else stat.mean

    parts = []
    frequency, recency = value(FREQUENCY), value(RECENCY)
    if frequency is not None:
        parts.append(f"bought {frequency:,.1f} times")
    if recency is not None:
        parts.append(f"last {recency:,.0f} days ago")
    total, basket = value(VALUE), value(BASKET)
    if total is not None:
        parts.append(f"{total:,.0f} in total" + (f" ({basket:,.0f} per order)"
                                                   if basket is not None else ""))
    return ", ".join(parts)


def base_name(name: str) -> RfmName | None:
    """The RFM name a (qualified) segment name starts with, or None for another name."""
    head = _SUFFIX.sub("", name).split(" · ")[0]
    return next((candidate for candidate in RfmName if candidate.value == head), None)


def name_still_fits(name: str, stats: Sequence[FeatureStat]) -> bool:
    """Whether last run's RFM name still describes a segment with these statistics.

    Looser than naming (`KEEP_FIT`), so a name is not dropped over a small drift; a name
    that is not an RFM name (the run before was named in traits) never fits.
    """
    base = base_name(name)
    return base is not None and fits(standing(stats))[base] >= KEEP_FIT
