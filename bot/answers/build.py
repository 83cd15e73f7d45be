"""The answers segbot gives, built from the store: shared by Slack and the terminal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import assert_never

from bot.answers import audience, compare, comparison, history
from bot.answers.forecast_lines import no_forecast, segment_forecast
from bot.answers.key_metrics import run_key_features
from bot.answers.parts import Answer, Attachment, Button, ButtonAction, Chart, ChartKind, Section
from bot.answers.requests import HELP_TEXT, Request, RequestKind
from segmentation.naming import format_value
from segmentation.order_fields import (
    EXPECTED_PURCHASES,
    EXPECTED_VALUE,
    LEAD_ATTRIBUTES,
    P_ACTIVE,
)
from segmentation.result import FeatureStat, SegmentProfile, order_roles
from storage.conditions import ConditionError
from storage.errors import NoPublishedRun, NotFound
from storage.records import CustomerRecord, RunRecord
from storage.store import Store

LAST_PURCHASE, RECENCY, INTERVAL = "last_purchase", "recency_days", "median_interval_days"


def answer(store: Store, request: Request) -> Answer:
    """The answer to a parsed request; store errors become friendly answers."""
    try:
        return _build(store, request)
    except NoPublishedRun:
        return no_run_answer()
    except (NotFound, ConditionError) as error:
        return error_answer(str(error))


def _build(store: Store, request: Request) -> Answer:
    match request.kind:
        case RequestKind.HELP:
            return help_answer(store)
        case RequestKind.OVERVIEW:
            return overview_answer(store)
        case RequestKind.SEGMENT:
            return segment_answer(store, int(request.argument))
        case RequestKind.AUDIENCE | RequestKind.EXPORT if request.condition:
            run = _require_run(store)
            build = (audience.audience_answer if request.kind is RequestKind.AUDIENCE
                     else audience.audience_export_answer)
            return build(store, run, int(request.argument) if request.argument else None,
                         request.condition, run_context(run))
        case RequestKind.AUDIENCE:
            return error_answer("Which customers? Add a condition, e.g. "
                                "`/segments where income > 50000`.")
        case RequestKind.EXPORT:
            return export_answer(store, int(request.argument))
        case RequestKind.HISTORY if request.argument:
            return history.segment_history_answer(store, int(request.argument),
                                                  run_context(_require_run(store)))
        case RequestKind.HISTORY:
            run = _require_run(store)
            return history.segments_history_answer(store, run, run_context(run))
        case RequestKind.COMPARE:
            run = _require_run(store)
            return compare.compare_answer(store, run, int(request.argument),
                                          int(request.other), run_context(run))
        case RequestKind.CUSTOMER:
            return customer_answer(store, request.argument)
        case RequestKind.CHANGES:
            return changes_answer(store)
        case _:
            assert_never(request.kind)


def help_answer(store: Store) -> Answer:
    """The commands, and the fields conditions may name in the current run (if any)."""
    fields: tuple[Section, ...]
    try:
        fields = (audience.fields_section(store),)
    except NoPublishedRun:
        fields = ()
    return Answer("segbot help", (Section(HELP_TEXT), *fields))


def error_answer(message: str) -> Answer:
    return Answer("segbot", (Section(message),), is_error=True)


NO_RUN = ("No segments yet: nobody has run a refresh. Run `segbot refresh --data "
          "customers.csv` on the bot's machine, or wait for the scheduled refresh.")


def no_run_answer() -> Answer:
    return error_answer(NO_RUN)


def _require_run(store: Store) -> RunRecord:
    run = store.current_run()
    if run is None:
        raise NoPublishedRun("no published run")
    return run


def run_context(run: RunRecord) -> str:
    """Where the numbers come from: run, date, rows, k and silhouette."""
    quality = f" · silhouette {run.silhouette:.2f}" if run.silhouette is not None else ""
    data = f" · data as of {run.as_of}" if run.as_of else ""
    if order_roles(run.columns):
        rows = (f"{run.rows_kept:,} customers from {run.rows_in:,} order rows "
                f"({run.rows_dropped:,} rows left out in cleaning)")
    else:
        rows = f"{run.rows_kept:,} customers ({run.rows_dropped:,} left out in cleaning)"
    return (f"Run {run.id} · refreshed {run.finished_at:%Y-%m-%d %H:%M} UTC{data} · "
            f"{rows} · k={run.k}{quality}")


def overview_answer(store: Store) -> Answer:
    run = _require_run(store)
    segments = store.list_segments(run.id)
    keys = run_key_features(run, segments)
    sections = [Section(f"*{len(segments)} segments* from {run.rows_kept:,} customers. "
                        f"{run.k_reason}")]
    if (why := no_forecast(run)) is not None:
        sections.append(Section(why))
    for segment in segments:
        metrics = " · ".join(f"{stat.label} {format_value(feature, stat.mean)}"
                             for feature in keys if (stat := segment.stat(feature)))
        if run.forecast is not None and (ahead := segment_forecast(
                segment, run.forecast.horizon_days)) is not None:
            metrics += f"\n{ahead}"
        sections.append(Section(
            f"*{segment.segment_id} · {segment.name}* — {segment.share:.0%} "
            f"({segment.size:,})\n{metrics}",
            button=Button("Profile", ButtonAction.PROFILE, str(segment.segment_id))))
    chart = Attachment(f"segments-run{run.id}.png",
                       f"Segments of run {run.id}: sizes and profiles",
                       Chart(ChartKind.OVERVIEW, (segments,)))
    return Answer(f"Customer segments — run {run.id}", tuple(sections), run_context(run),
                  charts=(chart, *_forecast_chart(run, segments)), in_channel=True)


def _forecast_chart(run: RunRecord, segments: Sequence[SegmentProfile]
                    ) -> tuple[Attachment, ...]:
    if run.forecast is None or not run.forecast.fitted:
        return ()
    days = run.forecast.horizon_days
    value = Attachment(f"forecast-run{run.id}.png",
                       f"Expected in the next {days} days, per segment (run {run.id})",
                       Chart(ChartKind.FORECAST, (segments, days)))
    holdout = run.forecast.holdout
    if not holdout:
        return (value,)
    tracking = holdout["tracking"]
    return (value, Attachment(
        f"tracking-run{run.id}.png",
        f"Repeat purchases, actual vs predicted, before and after the as-of date (run {run.id})",
        Chart(ChartKind.TRACKING, (tracking["weeks"], tracking["actual"],
                                   tracking["expected"], holdout["calibration_weeks"]))))


def segment_answer(store: Store, segment_id: int) -> Answer:
    run = _require_run(store)
    segment = store.get_segment(segment_id, run.id)
    top = [segment.stat(f) for f in segment.distinguishing[:6]]
    fields = tuple(_versus_population(s) for s in top if s)
    mix = "; ".join(_top_category(name, shares) for name, shares in segment.categories.items()
                    if shares)
    sections = [
        Section(segment.description),
        *_forecast_sections(run, segment),
        Section(f"*Recommended action:* {segment.action}"),
        Section("*What sets them apart* (segment vs all customers; index 100 = average)",
                fields=fields),
    ]
    if mix:
        sections.append(Section(f"*Most common:* {mix}"))
    sections.append(Section(f"Export the {segment.size:,} customers for a campaign tool.",
                            button=Button("Export CSV", ButtonAction.EXPORT,
                                          str(segment.segment_id))))
    chart = Attachment(f"segment-{segment.segment_id}-run{run.id}.png",
                       f"Segment {segment.segment_id} · {segment.name} vs the average customer",
                       Chart(ChartKind.PROFILE, (segment,)))
    return Answer(f"Segment {segment.segment_id} · {segment.name}", tuple(sections),
                  run_context(run), charts=(chart,), in_channel=True)


def _forecast_sections(run: RunRecord, segment: SegmentProfile) -> tuple[Section, ...]:
    if run.forecast is None:
        return ()
    ahead = segment_forecast(segment, run.forecast.horizon_days)
    text = f"*Forecast:* {ahead}" if ahead is not None else no_forecast(run)
    return (Section(text),) if text else ()


def _versus_population(stat: FeatureStat) -> str:
    index = f" (index {stat.index:.0f})" if stat.index is not None else ""
    return (f"*{stat.label}*\n{format_value(stat.feature, stat.mean)} vs "
            f"{format_value(stat.feature, stat.population_mean)}{index}")


def _top_category(name: str, shares: dict[str, float]) -> str:
    label, share = max(shares.items(), key=lambda item: item[1])
    return f"{name.replace('_', ' ').lower()} {label} ({share:.0%})"


def export_answer(store: Store, segment_id: int) -> Answer:
    from bot.answers.csv_files import file_slug, members_csv  # pandas, pyarrow: exports only

    run = _require_run(store)
    segment = store.get_segment(segment_id, run.id)
    slug = file_slug(segment.name, 60)
    csv_file = Attachment(
        f"segment-{segment_id}-{slug}-run{run.id}.csv",
        f"Segment {segment_id} · {segment.name}: {segment.size:,} customers",
        lambda: members_csv(store.segment_members(segment_id, run.id)))
    return Answer(f"Export of segment {segment_id} · {segment.name}",
                  (Section(f"CSV of the {segment.size:,} customers of segment {segment_id}, "
                           "most typical first, with the attributes segbot shows."),),
                  run_context(run), files=(csv_file,))


def customer_answer(store: Store, customer_id: str) -> Answer:
    record = store.get_customer(customer_id)
    run = store.get_run(record.run_id)  # the run the record was read from, even mid-publish
    if record.excluded_reason or record.segment_id is None:
        return Answer(f"Customer {record.customer_id}", (Section(
            f"Customer {record.customer_id} was left out of the latest run during cleaning: "
            f"{record.excluded_reason}."),) + _history_sections(record), run_context(run))
    segment = store.get_segment(record.segment_id, run.id)
    sections = (Section(f"In *segment {segment.segment_id} · {segment.name}*.\n"
                        f"{segment.action}"),
                Section("*This customer vs their segment's average*",
                        fields=_customer_fields(record, segment, run)),
                *_history_sections(record))
    chart = Attachment(f"customer-{_safe(record.customer_id)}-run{run.id}.png",
                       f"Customer {record.customer_id} vs segment {segment.segment_id}",
                       Chart(ChartKind.CUSTOMER,
                             (record.customer_id, record.attributes, segment)))
    return Answer(f"Customer {record.customer_id} · segment {segment.segment_id}", sections,
                  run_context(run), charts=(chart,))


def _customer_fields(record: CustomerRecord, segment: SegmentProfile,
                     run: RunRecord) -> tuple[str, ...]:
    """What sets the segment apart first, then the rest; Slack shows ten fields at most.

    An order history leads with the purchases: last purchase, how many, total, average order,
    then the forecast: P(active), purchases and value expected in the next 90 days.
    """
    orders = bool(order_roles(run.columns))
    lead = (*LEAD_ATTRIBUTES, P_ACTIVE, EXPECTED_PURCHASES, EXPECTED_VALUE) if orders else ()
    rank = {feature: i for i, feature in enumerate(dict.fromkeys(
        (*lead, *segment.distinguishing)))}
    ordered = sorted(record.attributes.items(), key=lambda item: rank.get(item[0], len(rank)))
    fields = []
    for feature, value in ordered:
        stat = segment.stat(feature)
        if orders and feature == LAST_PURCHASE:
            fields.append(_last_purchase(record, segment, run))
        elif orders and feature == RECENCY:
            continue  # told with the last purchase
        elif stat is not None:
            shown = (format_value(feature, value) if value is not None or feature != INTERVAL
                     else "none: bought once")
            fields.append(f"*{stat.label}*\n{shown} (segment {format_value(feature, stat.mean)})")
        else:
            label = run.feature_labels.get(feature, feature.replace("_", " "))
            fields.append(f"*{label}*\n{format_value(feature, value)}")
    return tuple(fields[:10])


def _last_purchase(record: CustomerRecord, segment: SegmentProfile, run: RunRecord) -> str:
    """The last purchase date, how long before the as-of date, and the segment's average."""
    days = record.attributes.get(RECENCY)
    stat = segment.stat(RECENCY)
    label = run.feature_labels.get(LAST_PURCHASE, "Last purchase")
    text = f"*{label}*\n{format_value(LAST_PURCHASE, record.attributes[LAST_PURCHASE])}"
    if days is not None:
        text += f", {format_value(RECENCY, days)} days before {run.as_of}"
    if stat is not None and stat.mean is not None:
        text += f" (segment {format_value(RECENCY, stat.mean)} days)"
    return text


def _history_sections(record: CustomerRecord) -> tuple[Section, ...]:
    if len(record.history) < 2:
        return ()
    steps = " · ".join(f"run {h.run_id}: {h.segment_id} {h.segment_name}"
                       for h in record.history[:6])
    return (Section(f"*Segment history* (newest first): {steps}"),)


def changes_answer(store: Store) -> Answer:
    """Who moved between segments from the previous run to the current one, with a chart."""
    cmp = comparison.load_comparison(store)
    run = cmp.run
    if cmp.previous is None:
        return Answer("Changes since the previous run", (Section(
            f"Run {run.id} is the first run, so there is nothing to compare with yet. After "
            "the next refresh this shows who moved between segments."),), run_context(run),
            in_channel=True)
    title = f"Changes from run {cmp.previous.id} to run {run.id}"
    if not cmp.has_movement:
        return Answer(title, (Section(
            f"Movement between run {cmp.previous.id} and run {run.id} was not recorded "
            "(run published before segbot tracked it)."),), run_context(run), in_channel=True)
    moves = comparison.biggest_moves(cmp, limit=8)
    sections = [Section(comparison.flow_summary(cmp)),
                Section("*Biggest movements*\n" + "\n".join(f"• {m}" for m in moves)
                        if moves else "Nobody changed segment.")]
    for heading, lines in (("New segments", comparison.new_segment_lines(cmp)),
                           ("Retired segments", comparison.retired_lines(cmp))):
        if lines:
            sections.append(Section(f"*{heading}*\n" + "\n".join(f"• {line}" for line in lines)))
    chart = Attachment(f"migration-run{cmp.previous.id}-to-run{run.id}.png",
                       f"Where customers moved between run {cmp.previous.id} and run {run.id}",
                       Chart(ChartKind.MIGRATION, (comparison.migration_matrix(cmp),)))
    return Answer(title, tuple(sections), run_context(run), charts=(chart,), in_channel=True)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64]


def run_charts(store: Store) -> tuple[Attachment, ...]:
    """Charts about the run itself: the elbow evidence, sizes, and the PCA scatter."""
    run = _require_run(store)
    segments = store.list_segments(run.id)
    return (
        Attachment(f"elbow-run{run.id}.png", "How k was chosen",
                   Chart(ChartKind.ELBOW, (run.elbow,))),
        Attachment(f"sizes-run{run.id}.png", "Customers per segment",
                   Chart(ChartKind.SIZES, (segments,))),
        Attachment(f"scatter-run{run.id}.png", "Customers on the two main axes",
                   Chart(ChartKind.SCATTER, (store.projection(run.id), segments))),
    )
