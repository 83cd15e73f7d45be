"""Answers about filtered audiences: `/cluster N where …`, `/segments where …`, their
exports, and the fields `/segments help` lists for conditions."""

from __future__ import annotations

from collections.abc import Sequence

from bot.answers.parts import Answer, Attachment, Chart, ChartKind, Section
from bot.answers.requests import CONDITION_HELP
from segmentation.naming import format_value
from segmentation.result import FeatureStat, SegmentProfile
from storage.audiences import Audience, FieldRange
from storage.conditions import parse_condition
from storage.customer_table import SqlType
from storage.records import RunRecord
from storage.store import Store

MIN_PROFILE = 5  # fewer matching customers than this: no means, they would describe people
PROFILE_FEATURES = 5


def audience_answer(store: Store, run: RunRecord, segment_id: int | None,
                    text: str, context: str) -> Answer:
    """How many customers match ``text`` (in one segment or all), their profile, the
    breakdown by segment and a chart."""
    segments = store.list_segments(run.id)
    segment, scope = _scope(store, run, segment_id)
    candidates = _profile_candidates(segment, segments)
    audience, _ = store.audience(parse_condition(text), segment_id=segment_id,
                                 features=[s.feature for s in candidates],
                                 max_features=PROFILE_FEATURES, run_id=run.id)
    title = f"{scope[0].upper()}{scope[1:]} where {text}"
    if audience.total == 0:
        return Answer(title, (Section(
            f"No customer in {scope} matches `{text}`. Try loosening it: widen a range, "
            "join conditions with `or` instead of `and`, or drop one."),), context)
    sections = [Section(_count_line(audience, segment, run))]
    stats = [s for s in candidates if audience.means.get(s.feature) is not None]
    stats = stats[:PROFILE_FEATURES]
    if audience.total < MIN_PROFILE:
        sections.append(Section(f"Fewer than {MIN_PROFILE} customers match, so their "
                                "profile is not shown; add `export` to get the list."))
    elif stats:
        sections.append(Section(
            "*Their profile* (matching vs " + ("segment vs " if segment else "") + "all)",
            fields=tuple(_profile_field(s, audience, segment is not None) for s in stats)))
    if segment is None:
        sections.append(Section("*By segment*\n" + "\n".join(_breakdown(audience, segments))))
    command = f"/cluster {segment.segment_id}" if segment else "/segments"
    sections.append(Section(f"`{command} where {text} export` for a CSV of these customers."))
    chart = Attachment(
        f"audience-{segment.segment_id if segment else 'all'}-run{run.id}.png", title,
        Chart(ChartKind.AUDIENCE, (title, _chart_features(stats, audience, segment),
                                   _chart_segments(audience, segments))))
    return Answer(title, tuple(sections), context, charts=(chart,), in_channel=True)


def _profile_candidates(segment: SegmentProfile | None,
                        segments: Sequence[SegmentProfile]) -> list[FeatureStat]:
    """Features worth showing: what sets the segment apart, or the segments apart."""
    if segment is not None:
        order = list(segment.distinguishing)
        stats = segment.stats
    else:
        strength: dict[str, int] = {}
        for s in segments:
            for rank, feature in enumerate(s.distinguishing[:6]):
                strength[feature] = strength.get(feature, 0) + 6 - rank
        order = sorted(strength, key=lambda f: -strength[f])
        stats = segments[0].stats if segments else ()
    by_feature = {s.feature: s for s in stats}
    rest = [s.feature for s in stats if s.feature not in order]
    return [by_feature[f] for f in [*order, *rest] if f in by_feature]


def _count_line(audience: Audience, segment: SegmentProfile | None, run: RunRecord) -> str:
    total = audience.total
    people = "customer matches" if total == 1 else "customers match"
    overall = f"{total / run.rows_kept:.1%} of all {run.rows_kept:,} customers"
    if segment is None:
        return f"*{total:,} {people}*: {overall}."
    return (f"*{total:,} {people}*: {total / segment.size:.1%} of segment "
            f"{segment.segment_id} ({segment.size:,}), {overall}.")


def _profile_field(stat: FeatureStat, audience: Audience, in_segment: bool) -> str:
    feature = stat.feature
    parts = [f"{format_value(feature, audience.means[feature])} matching"]
    if in_segment:
        parts.append(f"{format_value(feature, stat.mean)} segment")
    parts.append(f"{format_value(feature, stat.population_mean)} all")
    return f"*{stat.label}*\n" + " · ".join(parts)


def _breakdown(audience: Audience, segments: Sequence[SegmentProfile]) -> list[str]:
    lines = []
    for s in sorted(segments, key=lambda s: -audience.counts.get(s.segment_id, 0)):
        count = audience.counts.get(s.segment_id, 0)
        if count:
            lines.append(f"• {s.segment_id} · {s.name}: {count:,} ({count / s.size:.0%} of "
                         f"the segment, {count / audience.total:.0%} of the audience)")
    none = [str(s.segment_id) for s in segments if not audience.counts.get(s.segment_id)]
    if none:
        lines.append(f"• none in segment{'s' if len(none) > 1 else ''} {', '.join(none)}")
    return lines


def _index(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else 100.0 * value / base


def _chart_features(stats: Sequence[FeatureStat], audience: Audience,
                    segment: SegmentProfile | None) -> list[tuple[str, float | None,
                                                              float | None]]:
    """(label, matching index, segment index) with 100 = all customers."""
    if audience.total < MIN_PROFILE:
        return []
    return [(s.label, _index(audience.means[s.feature], s.population_mean),
             _index(s.mean, s.population_mean) if segment else None) for s in stats]


def _chart_segments(audience: Audience, segments: Sequence[SegmentProfile],
                    ) -> list[tuple[int, str, int, int]]:
    """(segment id, name, matching customers, segment size)."""
    return [(s.segment_id, s.name, audience.counts.get(s.segment_id, 0), s.size)
            for s in segments if s.segment_id in audience.counts]


def _scope(store: Store, run: RunRecord, segment_id: int | None
           ) -> tuple[SegmentProfile | None, str]:
    """The segment a condition is asked of (None: every segment), and its words."""
    if segment_id is None:
        return None, "all segments"
    segment = store.get_segment(segment_id, run.id)
    return segment, f"segment {segment.segment_id} · {segment.name}"


def audience_export_answer(store: Store, run: RunRecord, segment_id: int | None,
                           text: str, context: str) -> Answer:
    """A CSV of exactly the customers matching ``text`` (in one segment or all)."""
    from bot.answers.csv_files import file_slug, members_csv  # pandas, pyarrow: exports only

    condition = parse_condition(text)
    _, scope = _scope(store, run, segment_id)
    audience, _ = store.audience(condition, segment_id=segment_id, run_id=run.id)
    title = f"Export of {scope} where {text}"
    if audience.total == 0:
        return Answer(title, (Section(
            f"No customer in {scope} matches `{text}`, so there is nothing to export. Try "
            "loosening the condition."),), context)
    slug = file_slug(text, 50)
    name = f"segment-{segment_id}" if segment_id is not None else "all-segments"
    csv_file = Attachment(
        f"{name}-where-{slug}-run{run.id}.csv",
        f"{scope} where {text}: {audience.total:,} customers",
        lambda: members_csv(store.audience_members(condition, segment_id=segment_id,
                                                   run_id=run.id)))
    return Answer(title, (Section(
        f"CSV of the {audience.total:,} customers of {scope} matching `{text}`, segment by "
        "segment and most typical first, with the attributes segbot shows."),),
        context, files=(csv_file,))


def fields_section(store: Store) -> Section:
    """The fields a condition may name in the current run, with their values or ranges."""
    lines = [_field_line(r) for r in store.condition_fields(ranges=True)]
    return Section(CONDITION_HELP + "\n*Fields in the current run*\n" + "\n".join(lines))


def _field_line(found: FieldRange) -> str:
    field = found.field
    name = field.label if field.label.casefold() == field.attribute.column.casefold() \
        else f"{field.label} (`{field.attribute.column}`)"
    if field.values:
        return f"• {name}: {', '.join(field.values[:8])}"
    if field.attribute.type is SqlType.BOOLEAN:
        return f"• {name}: yes/no"
    if found.low is None:
        return f"• {name}: {field.kind}"
    column = field.attribute.name
    return f"• {name}: {format_value(column, found.low)} to {format_value(column, found.high)}"
