"""The answers segbot gives, built once from the store and rendered for Slack or a terminal.

Answers hold text and lazily rendered charts: a Slack listener acknowledges first and only
then renders and uploads, so a slow chart never delays the 3-second ack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from bot import comparison
from bot.csv_files import csv_bytes
from segmentation.naming import format_value
from segmentation.result import FeatureStat, SegmentProfile
from storage.errors import NoPublishedRun, NotFound
from storage.records import CustomerRecord, RunRecord
from storage.store import Store

MAX_TEXT = 200
DISTANCE_DECIMALS = 3  # an export's distance to the segment centre, as a ranking aid
_SEGMENT_ID = re.compile(r"^[0-9]{1,6}$")
_CUSTOMER_ID = re.compile(r"^[\w.\-:@]{1,64}$")  # ids may be non-ASCII

HELP_TEXT = (
    "*segbot* answers questions about customer segments:\n"
    "• `/segments` — the segments of the latest run, with sizes and what sets them apart\n"
    "• `/segments changes` — who moved between segments since the previous run\n"
    "• `/cluster N` — segment N in detail: description, action, profile chart\n"
    "• `/cluster N export` — a CSV of segment N's customers for a campaign tool\n"
    "• `/customer ID` — one customer's segment and how they compare (only you see it)\n"
    "• `/segments help` — this message"
)


class UsageError(Exception):
    """The text after a command cannot be understood; the message says what is expected."""


@dataclass(frozen=True)
class Button:
    label: str
    action_id: str
    value: str


@dataclass(frozen=True)
class Section:
    """A paragraph of Slack mrkdwn (*bold*, `code`), optional short fields and a button."""

    text: str
    fields: tuple[str, ...] = ()
    button: Button | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to show with the answer; `render` is called only when it is needed.

    Charts render through a `Chart`, which another process can draw; files (CSV exports)
    through a closure over the store, always in the bot's own process.
    """

    filename: str
    title: str
    render: Callable[[], bytes]


@dataclass(frozen=True)
class Answer:
    title: str
    sections: tuple[Section, ...] = ()
    context: str = ""
    charts: tuple[Attachment, ...] = ()
    files: tuple[Attachment, ...] = ()
    in_channel: bool = False  # customer-level answers are always private
    is_error: bool = False


@dataclass(frozen=True)
class Request:
    kind: str  # help | overview | changes | segment | export | customer
    argument: str = ""
    audited: bool = field(default=False)


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart to draw: a `segmentation.charts` function, by name, and its arguments.

    Plain data rather than a closure, so that it pickles: `bot.rendering.ChartProcesses`
    draws it in a worker process.
    """

    function: str
    args: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.function.startswith("render_"):
            raise ValueError(f"not a chart function: {self.function!r}")

    def __call__(self) -> bytes:
        return getattr(_charts(), self.function)(*self.args)


def _charts() -> ModuleType:
    """segmentation.charts, imported on the first render: matplotlib costs ~0.6 s of start-up
    that text-only answers (and `segbot customer` in a terminal) never need."""
    from segmentation import charts

    return charts


def parse_request(command: str, text: str) -> Request:
    """Validate what a user typed after /segments, /cluster or /customer."""
    command = command.strip().lower().lstrip("/")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise UsageError(f"That is {len(text):,} characters; {_usage(command)}")
    words = text.split()
    if command == "segments":
        return _parse_segments(words)
    if command == "cluster":
        return _parse_cluster(words)
    if command == "customer":
        return _parse_customer(words)
    raise UsageError(f"Unknown command /{command}. Try `/segments help`.")


def _parse_segments(words: list[str]) -> Request:
    if not words:
        return Request("overview")
    if len(words) == 1 and words[0].lower() in ("help", "changes"):
        return Request(words[0].lower())
    raise UsageError(_usage("segments"))


def _parse_cluster(words: list[str]) -> Request:
    if not words or len(words) > 2 or not _SEGMENT_ID.match(words[0]) or int(words[0]) < 1:
        raise UsageError(_usage("cluster"))
    if len(words) == 2:
        if words[1].lower() != "export":
            raise UsageError(_usage("cluster"))
        return Request("export", str(int(words[0])), audited=True)
    return Request("segment", str(int(words[0])))


def _parse_customer(words: list[str]) -> Request:
    if len(words) != 1 or not _CUSTOMER_ID.match(words[0]):
        raise UsageError(_usage("customer"))
    return Request("customer", words[0], audited=True)


def _usage(command: str) -> str:
    return {
        "segments": "Usage: `/segments`, `/segments changes` or `/segments help`.",
        "cluster": "Usage: `/cluster N` or `/cluster N export`, where N is a segment number "
                   "from `/segments` (e.g. `/cluster 2`).",
        "customer": "Usage: `/customer ID` with one customer id (letters, digits, `-_.:@`; "
                    "e.g. `/customer 5524`).",
    }.get(command, "Try `/segments help`.")


def answer(store: Store, request: Request) -> Answer:
    """The answer to a parsed request; store errors become friendly answers."""
    try:
        if request.kind == "help":
            return Answer("segbot help", (Section(HELP_TEXT),))
        if request.kind == "overview":
            return overview_answer(store)
        if request.kind == "segment":
            return segment_answer(store, int(request.argument))
        if request.kind == "export":
            return export_answer(store, int(request.argument))
        if request.kind == "customer":
            return customer_answer(store, request.argument)
        if request.kind == "changes":
            return changes_answer(store)
    except NoPublishedRun:
        return no_run_answer()
    except NotFound as error:
        return error_answer(str(error))
    raise UsageError(f"Unknown request {request.kind!r}")


def error_answer(message: str) -> Answer:
    return Answer("segbot", (Section(message),), is_error=True)


def no_run_answer() -> Answer:
    return error_answer("No segments yet: nobody has run a refresh. Run "
                        "`segbot refresh --data customers.csv` on the bot's machine, or wait "
                        "for the scheduled refresh.")


def _require_run(store: Store) -> RunRecord:
    run = store.current_run()
    if run is None:
        raise NoPublishedRun("no published run")
    return run


def run_context(run: RunRecord) -> str:
    """Where the numbers come from: run, date, rows, k and silhouette."""
    quality = f" · silhouette {run.silhouette:.2f}" if run.silhouette is not None else ""
    data = f" · data as of {run.as_of}" if run.as_of else ""
    return (f"Run {run.id} · refreshed {run.finished_at:%Y-%m-%d %H:%M} UTC{data} · "
            f"{run.rows_kept:,} customers ({run.rows_dropped:,} left out in cleaning) · "
            f"k={run.k}{quality}")


def key_features(segments: Sequence[SegmentProfile], count: int = 3) -> list[str]:
    """The features that differ most between segments: shown for every segment alike."""
    strength: dict[str, float] = {}
    for segment in segments:
        for rank, feature in enumerate(segment.distinguishing[:count]):
            strength[feature] = strength.get(feature, 0.0) + count - rank
    return sorted(strength, key=lambda f: -strength[f])[:count]


def overview_answer(store: Store) -> Answer:
    run = _require_run(store)
    segments = store.list_segments(run.id)
    keys = key_features(segments)
    sections = [Section(f"*{len(segments)} segments* from {run.rows_kept:,} customers. "
                        f"{run.k_reason}")]
    for segment in segments:
        metrics = " · ".join(_metric(segment, f) for f in keys if segment.stat(f))
        sections.append(Section(
            f"*{segment.segment_id} · {segment.name}* — {segment.share:.0%} "
            f"({segment.size:,})\n{metrics}",
            button=Button("Profile", "segment_profile", str(segment.segment_id))))
    chart = Attachment(f"segments-run{run.id}.png",
                       f"Segments of run {run.id}: sizes and profiles",
                       Chart("render_overview_chart", (segments,)))
    return Answer(f"Customer segments — run {run.id}", tuple(sections), run_context(run),
                  charts=(chart,), in_channel=True)


def _metric(segment: SegmentProfile, feature: str) -> str:
    stat = segment.stat(feature)
    return f"{stat.label} {format_value(feature, stat.mean)}"


def segment_answer(store: Store, segment_id: int) -> Answer:
    run = _require_run(store)
    segment = store.get_segment(segment_id, run.id)
    top = [segment.stat(f) for f in segment.distinguishing[:6]]
    fields = tuple(_versus_population(s) for s in top if s)
    mix = "; ".join(_top_category(name, shares) for name, shares in segment.categories.items()
                    if shares)
    sections = [
        Section(segment.description),
        Section(f"*Recommended action:* {segment.action}"),
        Section("*What sets them apart* (segment vs all customers; index 100 = average)",
                fields=fields),
    ]
    if mix:
        sections.append(Section(f"*Most common:* {mix}"))
    sections.append(Section(f"Export the {segment.size:,} customers for a campaign tool.",
                            button=Button("Export CSV", "segment_export",
                                          str(segment.segment_id))))
    chart = Attachment(f"segment-{segment.segment_id}-run{run.id}.png",
                       f"Segment {segment.segment_id} · {segment.name} vs the average customer",
                       Chart("render_profile_chart", (segment,)))
    return Answer(f"Segment {segment.segment_id} · {segment.name}", tuple(sections),
                  run_context(run), charts=(chart,), in_channel=True)


def _versus_population(stat: FeatureStat) -> str:
    index = f" (index {stat.index:.0f})" if stat.index is not None else ""
    return (f"*{stat.label}*\n{format_value(stat.feature, stat.mean)} vs "
            f"{format_value(stat.feature, stat.population_mean)}{index}")


def _top_category(name: str, shares: dict[str, float]) -> str:
    label, share = max(shares.items(), key=lambda item: item[1])
    return f"{name.replace('_', ' ').lower()} {label} ({share:.0%})"


def export_answer(store: Store, segment_id: int) -> Answer:
    run = _require_run(store)
    segment = store.get_segment(segment_id, run.id)
    slug = re.sub(r"[^a-z0-9]+", "-", segment.name.lower()).strip("-")[:60]
    csv_file = Attachment(
        f"segment-{segment_id}-{slug}-run{run.id}.csv",
        f"Segment {segment_id} · {segment.name}: {segment.size:,} customers",
        lambda: csv_bytes(store.segment_members(segment_id, run.id),
                          decimals={"distance": DISTANCE_DECIMALS}))
    return Answer(f"Export of segment {segment_id} · {segment.name}",
                  (Section(f"CSV of the {segment.size:,} customers of segment {segment_id}, "
                           "most typical first, with the attributes segbot shows."),),
                  run_context(run), files=(csv_file,))


def customer_answer(store: Store, customer_id: str) -> Answer:
    record = store.get_customer(customer_id)
    run = store.get_run(record.run_id)  # the run the record was read from, even mid-publish
    if record.excluded_reason:
        return Answer(f"Customer {record.customer_id}", (Section(
            f"Customer {record.customer_id} was left out of the latest run during cleaning: "
            f"{record.excluded_reason}."),) + _history_sections(record), run_context(run))
    segment = store.get_segment(record.segment_id, run.id)
    sections = (Section(f"In *segment {segment.segment_id} · {segment.name}*.\n"
                        f"{segment.action}"),
                Section("*This customer vs their segment's average*",
                        fields=_customer_fields(record, segment)),
                *_history_sections(record))
    chart = Attachment(f"customer-{_safe(record.customer_id)}-run{run.id}.png",
                       f"Customer {record.customer_id} vs segment {segment.segment_id}",
                       Chart("render_customer_chart",
                             (record.customer_id, record.attributes, segment)))
    return Answer(f"Customer {record.customer_id} · segment {segment.segment_id}", sections,
                  run_context(run), charts=(chart,))


def _customer_fields(record: CustomerRecord, segment: SegmentProfile) -> tuple[str, ...]:
    """What sets the segment apart first, then the rest; Slack shows ten fields at most."""
    rank = {feature: i for i, feature in enumerate(segment.distinguishing)}
    ordered = sorted(record.attributes.items(), key=lambda item: rank.get(item[0], len(rank)))
    fields = []
    for feature, value in ordered:
        stat = segment.stat(feature)
        if stat is not None:
            fields.append(f"*{stat.label}*\n{format_value(feature, value)} "
                          f"(segment {format_value(feature, stat.mean)})")
        else:
            fields.append(f"*{feature.replace('_', ' ')}*\n{format_value(feature, value)}")
    return tuple(fields[:10])


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
                       Chart("render_migration_chart", (comparison.migration_matrix(cmp),)))
    return Answer(title, tuple(sections), run_context(run), charts=(chart,), in_channel=True)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)[:64]


def run_charts(store: Store) -> tuple[Attachment, ...]:
    """Charts about the run itself: the elbow evidence, sizes, and the PCA scatter."""
    run = _require_run(store)
    segments = store.list_segments(run.id)
    return (
        Attachment(f"elbow-run{run.id}.png", "How k was chosen",
                   Chart("render_elbow_chart", (run.elbow,))),
        Attachment(f"sizes-run{run.id}.png", "Customers per segment",
                   Chart("render_sizes_chart", (segments,))),
        Attachment(f"scatter-run{run.id}.png", "Customers on the two main axes",
                   Chart("render_scatter_chart", (store.projection(run.id), segments))),
    )
