"""`/segments compare A B`: two segments of the current run side by side.

Their sizes, the features where they differ most (both means beside everyone's), the most
common categories where those differ, their recommended actions, and one chart of both profiles
against the average customer.
"""

from __future__ import annotations

import math

from bot.answers.parts import Answer, Attachment, Button, ButtonAction, Chart, ChartKind, Section
from segmentation.naming import format_value
from segmentation.result import FeatureStat, SegmentProfile
from storage.records import RunRecord
from storage.store import Store

MAX_FEATURES = 6  # fields in Slack's two columns, and bars a phone can read
MAX_CATEGORIES = 3


def compare_answer(store: Store, run: RunRecord, first_id: int, second_id: int,
                   context: str) -> Answer:
    """Segments ``first_id`` and ``second_id`` of ``run`` side by side, with a chart."""
    first = store.get_segment(first_id, run.id)
    second = store.get_segment(second_id, run.id)
    pairs = differing_features(first, second)[:MAX_FEATURES]
    sections = [_segment_section(first), _segment_section(second)]
    if pairs:
        sections.append(Section(
            f"*Where they differ most* ({first.segment_id} vs {second.segment_id} · all "
            "customers)", fields=tuple(_difference_field(a, b, first, second)
                                      for a, b in pairs)))
    else:
        sections.append(Section("They share no numeric feature to compare."))
    mix = _category_lines(first, second)
    if mix:
        sections.append(Section("*Most common* (where they differ)\n" + "\n".join(mix)))
    sections.append(Section("*Recommended actions*\n" + "\n".join(
        f"• *{s.segment_id} · {s.name}*: {s.action}" for s in (first, second))))
    title = f"Segment {first.segment_id} vs segment {second.segment_id}"
    chart = Attachment(
        f"compare-{first.segment_id}-{second.segment_id}-run{run.id}.png",
        f"{first.segment_id} · {first.name} vs {second.segment_id} · {second.name}",
        Chart(ChartKind.COMPARE, (first, second, tuple(a.feature for a, _ in pairs))))
    return Answer(title, tuple(sections), context, charts=(chart,), in_channel=True)


def differing_features(first: SegmentProfile, second: SegmentProfile
                       ) -> list[tuple[FeatureStat, FeatureStat]]:
    """Each feature both segments have a mean of, as (first's stat, second's stat), the
    largest gap first: the gap in population standard deviations (the stats' z), so features
    in different units rank together."""
    pairs = []
    for stat in first.stats:
        other = second.stat(stat.feature)
        if other is not None and _number(stat.mean) and _number(other.mean):
            pairs.append((stat, other))
    return sorted(pairs, key=lambda pair: (-abs((pair[0].z or 0.0) - (pair[1].z or 0.0)),
                                           pair[0].feature))


def _number(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _segment_section(segment: SegmentProfile) -> Section:
    return Section(f"*{segment.segment_id} · {segment.name}* — {segment.share:.0%} of "
                   f"customers ({segment.size:,})",
                   button=Button("Profile", ButtonAction.PROFILE, str(segment.segment_id)))


def _difference_field(a: FeatureStat, b: FeatureStat, first: SegmentProfile,
                      second: SegmentProfile) -> str:
    feature = a.feature
    return (f"*{a.label}*\n{format_value(feature, a.mean)} ({first.segment_id}) vs "
            f"{format_value(feature, b.mean)} ({second.segment_id}) · "
            f"{format_value(feature, a.population_mean)} all")


def _category_lines(first: SegmentProfile, second: SegmentProfile) -> list[str]:
    """The most common value of each category, where the two segments' differ."""
    lines = []
    for name, shares in first.categories.items():
        others = second.categories.get(name)
        if not shares or not others:
            continue
        (mine, share), (theirs, their_share) = _top(shares), _top(others)
        if mine != theirs:
            lines.append(f"• {name.replace('_', ' ').lower()}: {mine} ({share:.0%}) in "
                         f"{first.segment_id} vs {theirs} ({their_share:.0%}) in "
                         f"{second.segment_id}")
    return lines[:MAX_CATEGORIES]


def _top(shares: dict[str, float]) -> tuple[str, float]:
    return max(shares.items(), key=lambda item: item[1])
