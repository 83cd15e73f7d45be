"""The digest of a run: what changed since the last one, in words, charts and a movers CSV.

`segbot digest` prints it; `bot.slack.digest_posts` posts it to the digest channel.
"""

from __future__ import annotations

from bot.answers import comparison as compare
from bot.answers.build import run_context
from bot.answers.csv_files import csv_bytes
from bot.answers.forecast_lines import digest_value_lines, no_forecast
from bot.answers.parts import Answer, Attachment, Chart, ChartKind, Section
from segmentation.result import order_roles
from segmentation.sources import short_source
from storage.records import RunRecord
from storage.store import Store

MAX_MOVES = 5
MAX_QUALITY_NOTES = 8
MOVERS_WITHHELD = ("The list of customers who moved is not attached here, since it names "
                   "customers: add this channel's ID to SEGBOT_ALLOWED_CHANNELS to have it "
                   "attached, or export a segment with `/cluster N export`.")


def digest_answer(store: Store, run_id: int | None = None, *,
                  include_movers: bool = True) -> Answer:
    """The digest of run `run_id` (default: current) with its charts and the movers CSV.

    Without `include_movers` (a channel not approved for customer files) the CSV is left out
    and one line says how to have it attached.
    """
    cmp = compare.load_comparison(store, run_id)
    run = cmp.run
    sections = [Section(_opening(cmp)), Section("*Segment sizes*\n" + _bullets(
        compare.size_lines(cmp)))]
    if cmp.previous is not None:
        sections.append(Section(_movement_text(cmp)))
    for heading, lines in (("New segments", compare.new_segment_lines(cmp)),
                           ("Retired segments", compare.retired_lines(cmp))):
        if lines:
            sections.append(Section(f"*{heading}*\n" + _bullets(lines)))
    value_lines = digest_value_lines(run.forecast, cmp.segments,
                                     None if cmp.previous is None else cmp.previous.id,
                                     cmp.previous_segments)
    if value_lines:
        sections.append(Section(f"*Expected value, next {_horizon(run)} days* (a quarter)\n"
                                + _bullets(value_lines)))
    elif (why := no_forecast(run)) is not None:
        sections.append(Section(why))
    sections.append(Section("*Data quality*\n" + _bullets(quality_notes(run))))
    sections.append(Section(_model_text(run)))
    movers = _movers_file(store, cmp)
    if movers and not include_movers:
        sections.append(Section(MOVERS_WITHHELD))
    return Answer(f"Segments digest · {run.finished_at:%a %d %b %Y}", tuple(sections),
                  run_context(run), charts=digest_charts(cmp),
                  files=movers if include_movers else (), in_channel=True)


def _opening(cmp: compare.Comparison) -> str:
    run = cmp.run
    rows = "order rows" if order_roles(run.columns) else "rows"
    text = (f"*Run {run.id}*, refreshed {run.finished_at:%Y-%m-%d %H:%M} UTC from "
            f"`{short_source(run.source)}`: {run.rows_in:,} {rows} read, {run.rows_kept:,} "
            f"customers in {run.k} segments.")
    if cmp.previous is None:
        return text + " This is the first run, so there is nothing to compare with yet."
    return text + (f" Compared with run {cmp.previous.id} of "
                   f"{cmp.previous.finished_at:%Y-%m-%d}.")


def _movement_text(cmp: compare.Comparison) -> str:
    return "\n".join(["*What changed*", *main_movements(cmp)])


def main_movements(cmp: compare.Comparison) -> list[str]:
    """The digest's movements since the previous run: who stayed and moved, then the largest
    flows between segments as bullets (the App Home shows the same lines)."""
    moves = compare.biggest_moves(cmp, MAX_MOVES)
    return [compare.flow_summary(cmp),
            *([f"• {move}" for move in moves] or ["• Nobody changed segment."])]


def _horizon(run: RunRecord) -> int:
    return run.forecast.horizon_days if run.forecast is not None else 0


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines) if lines else "• none"


def quality_notes(run: RunRecord) -> list[str]:
    """Rows dropped and why first, then the other cleaning steps, as short lines."""
    steps = sorted(run.cleaning.steps, key=lambda s: s.action != "dropped rows")
    notes = [f"{run.rows_dropped:,} of {run.rows_in:,} rows left out"
             if run.rows_dropped else f"All {run.rows_in:,} rows kept"]
    for step in steps[:MAX_QUALITY_NOTES]:
        where = f" ({step.column})" if step.column else ""
        notes.append(f"{step.action} ×{step.count:,}{where}: {step.reason}")
    if len(steps) > MAX_QUALITY_NOTES:
        notes.append(f"and {len(steps) - MAX_QUALITY_NOTES} more cleaning steps "
                     "(`segbot refresh` prints them all)")
    return notes


def _model_text(run: RunRecord) -> str:
    quality = (f" · silhouette {run.silhouette:.2f} (0 = segments overlap, 1 = cleanly "
               "separated)" if run.silhouette is not None else "")
    return f"*Model quality*\nk = {run.k}{quality}\n{run.k_reason}"


def digest_charts(cmp: compare.Comparison) -> tuple[Attachment, ...]:
    """The migration heatmap (when there is a previous run) and the segment sizes."""
    run, segments = cmp.run, cmp.segments
    sizes = Attachment(f"sizes-run{run.id}.png", f"Customers per segment, run {run.id}",
                       Chart(ChartKind.SIZES, (segments,)))
    previous = cmp.previous
    if previous is None or not cmp.has_movement:
        return (sizes,)
    migration = Attachment(
        f"migration-run{previous.id}-to-run{run.id}.png",
        f"Where customers moved between run {previous.id} and run {run.id}",
        Chart(ChartKind.MIGRATION, (compare.migration_matrix(cmp),)))
    return (migration, sizes)


def _movers_file(store: Store, cmp: compare.Comparison) -> tuple[Attachment, ...]:
    previous = cmp.previous
    if previous is None or not cmp.has_movement or not cmp.flows().moved:  # no CSV of nobody
        return ()
    run_id = cmp.run.id
    return (Attachment(f"movers-run{run_id}.csv",
                       f"Customers who changed segment since run {previous.id}",
                       lambda: csv_bytes(store.movers(run_id))),)
