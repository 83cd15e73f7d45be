"""`/segments history` and `/cluster N history`: each segment's share, size and key metrics
over the stored refreshes, with a line chart, new and retired segments marked.

Read from the store's history summaries (`storage.segment_history`), which `segbot prune`
keeps, so refreshes whose customers were deleted still count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.answers.key_metrics import run_key_features
from bot.answers.parts import Answer, Attachment, Button, ButtonAction, Chart, ChartKind, Section
from segmentation.naming import format_value
from segmentation.trend_lines import TrendLine, TrendPanel
from storage.errors import NotFound
from storage.records import RunRecord
from storage.segment_history import RunSummary, SegmentHistory, SegmentSummary
from storage.store import Store, describe_ids

MAX_RUNS = 26  # half a year of weekly refreshes
MAX_LINES = 12  # refreshes listed in one segment's text, newest first; the chart has them all
OVERVIEW_METRICS = 2  # metric panels in the chart of every segment, beside the shares
SEGMENT_METRICS = 3


def segments_history_answer(store: Store, run: RunRecord, context: str) -> Answer:
    """Every segment of the stored refreshes: its share then and now and its key metrics."""
    history = store.segment_history(MAX_RUNS)
    keys = run_key_features(run, store.list_segments(run.id))
    latest = history.runs[-1]
    current = {s.segment_id for s in history.in_run(latest.run_id)}
    sections = [Section(_span(history) + (" Share of customers and "
                                          f"{_labels(history, keys)}, first refresh shown → now."
                                          if len(history.runs) > 1 else
                                          " The history grows with each refresh."))]
    for segment_id in sorted(current):
        sections.append(Section(_current_line(history, segment_id, keys),
                                button=Button("History", ButtonAction.HISTORY,
                                              str(segment_id))))
    retired = [_retired_line(history, i) for i in history.segment_ids() if i not in current]
    if retired:
        sections.append(Section("*Retired segments*\n" + "\n".join(retired)))
    panels = [_share_panel(history, history.segment_ids()),
              *(_metric_panel(history, key, history.segment_ids())
                for key in keys[:OVERVIEW_METRICS])]
    chart = Attachment(f"history-run{latest.run_id}.png", "Segments over the refreshes",
                       Chart(ChartKind.HISTORY, ("Segments over time", _subtitle(history),
                                                 _run_labels(history), tuple(panels))))
    return Answer("Segment history", tuple(sections), context, charts=(chart,),
                  in_channel=True)


def segment_history_answer(store: Store, segment_id: int, context: str) -> Answer:
    """One segment over the stored refreshes, retired or not: each refresh's share, size and
    the metrics that set it apart, beside everyone's in the chart."""
    history = store.segment_history(MAX_RUNS)
    points = history.of_segment(segment_id)
    if not points:
        raise NotFound(f"segment {segment_id} is in none of the last {len(history.runs)} "
                       f"refreshes; segments in them: {describe_ids(history.segment_ids())}")
    last = points[-1]
    keys = [f for f in last.distinguishing if f in last.means][:SEGMENT_METRICS]
    is_current = last.run_id == history.runs[-1].run_id
    button = (Button("Profile", ButtonAction.PROFILE, str(segment_id)) if is_current
              else None)
    lines = [_run_line(history.run(p.run_id), p, keys, history) for p in reversed(points)]
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"… and {len(lines) - MAX_LINES} earlier refreshes "
                                     "(in the chart)"]
    sections = (Section(_status(history, points), button=button),
                Section("*Refresh by refresh* (newest first)\n" + "\n".join(lines)))
    title = f"Segment {segment_id} · {last.name} over time"
    panels = (_share_panel(history, [segment_id]),
              *(_metric_panel(history, key, [segment_id]) for key in keys))
    chart = Attachment(f"history-segment-{segment_id}-run{history.runs[-1].run_id}.png", title,
                       Chart(ChartKind.HISTORY, (title, _subtitle(history),
                                                 _run_labels(history), panels)))
    return Answer(title, sections, context, charts=(chart,), in_channel=True)


def _span(history: SegmentHistory) -> str:
    first, last = history.runs[0], history.runs[-1]
    if first is last:
        return f"*1 refresh* so far: run {last.run_id}, {_date(last)}."
    return (f"*{len(history.runs)} refreshes* from run {first.run_id} ({_date(first)}) to run "
            f"{last.run_id} ({_date(last)}).")


def _subtitle(history: SegmentHistory) -> str:
    first, last = history.runs[0], history.runs[-1]
    span = _date(last) if first is last else f"{_date(first)} to {_date(last)}"
    return f"One point per refresh, {span}"


def _date(run: RunSummary) -> str:
    return f"{run.finished_at:%Y-%m-%d}"


def _run_labels(history: SegmentHistory) -> tuple[str, ...]:
    return tuple(f"{run.finished_at:%d %b}\nrun {run.run_id}" for run in history.runs)


def _label(history: SegmentHistory, feature: str) -> str:
    for run in reversed(history.runs):
        if feature in run.labels:
            return run.labels[feature]
    return feature.replace("_", " ")


def _labels(history: SegmentHistory, keys: Sequence[str]) -> str:
    labels = [_label(history, key).lower() for key in keys]
    return ", ".join(labels[:-1]) + f" and {labels[-1]}" if len(labels) > 1 else "".join(labels)


def _share(point: SegmentSummary) -> str:
    return f"{point.share:.0%} ({point.size:,})"


def _metric_change(history: SegmentHistory, first: SegmentSummary, last: SegmentSummary,
                   keys: Sequence[str]) -> str:
    parts = []
    for key in keys:
        if key not in last.means:
            continue
        now = format_value(key, last.means[key])
        then = format_value(key, first.means.get(key))
        parts.append(f"{_label(history, key)} {now}" if first is last or then == now
                     else f"{_label(history, key)} {then} → {now}")
    return " · ".join(parts)


def _current_line(history: SegmentHistory, segment_id: int, keys: Sequence[str]) -> str:
    points = history.of_segment(segment_id)
    first, last = points[0], points[-1]
    text = f"*{segment_id} · {last.name}* — "
    text += _share(last) if first is last else f"{_share(first)} → {_share(last)}"
    new = history.first_run(segment_id)
    if new is not None:
        text += f" · *new* in run {new.run_id} ({_date(new)})"
    metrics = _metric_change(history, first, last, keys)
    return text + (f"\n{metrics}" if metrics else "")


def _retired_line(history: SegmentHistory, segment_id: int) -> str:
    last = history.of_segment(segment_id)[-1]
    retired = history.retired_in(segment_id)
    assert retired is not None  # not in the latest run, so a later run retired it
    return (f"• *{segment_id} · {last.name}* — retired in run {retired.run_id} "
            f"({_date(retired)}); last {_share(last)} in run {last.run_id}")


def _status(history: SegmentHistory, points: list[SegmentSummary]) -> str:
    segment_id, last = points[0].segment_id, points[-1]
    text = f"*{segment_id} · {last.name}*: in {len(points)} of the {len(history.runs)} " \
           "refreshes shown"
    new, retired = history.first_run(segment_id), history.retired_in(segment_id)
    if new is not None:
        text += f"; *new* in run {new.run_id} ({_date(new)})"
    if retired is not None:
        return (text + f"; *retired* in run {retired.run_id} ({_date(retired)}): its customers "
                f"now belong to other segments. Last {_share(last)} in run {last.run_id}.")
    return text + f". Now {_share(last)} of customers."


def _run_line(run: RunSummary, point: SegmentSummary, keys: Sequence[str],
              history: SegmentHistory) -> str:
    data = f" (data as of {run.as_of})" if run.as_of else ""
    metrics = "".join(f" · {_label(history, key)} {format_value(key, point.means.get(key))}"
                      for key in keys)
    return f"• run {run.run_id} · {_date(run)}{data}: {_share(point)}{metrics}"


def _share_panel(history: SegmentHistory, segment_ids: Sequence[int]) -> TrendPanel:
    return TrendPanel("Share of customers (%)",
                      tuple(_line(history, i, lambda p: p.share) for i in segment_ids),
                      share=True)


def _metric_panel(history: SegmentHistory, feature: str,
                  segment_ids: Sequence[int]) -> TrendPanel:
    return TrendPanel(f"{_label(history, feature)} (segment mean)",
                      tuple(_line(history, i, lambda p: p.means.get(feature))
                            for i in segment_ids),
                      feature=feature,
                      everyone=tuple(run.population.get(feature) for run in history.runs))


def _line(history: SegmentHistory, segment_id: int,
          value: Callable[[SegmentSummary], float | None]) -> TrendLine:
    by_run = {p.run_id: p for p in history.of_segment(segment_id)}
    return TrendLine(segment_id, history.of_segment(segment_id)[-1].name,
                     tuple(value(by_run[run.run_id]) if run.run_id in by_run else None
                           for run in history.runs))
