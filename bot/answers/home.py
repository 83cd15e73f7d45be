"""What segbot's Home tab shows, read from the store: the current run at a glance.

The segments with their share and one line each (what to do with them), when the run was
refreshed and how recent its data is, the movements the digest reported, and buttons that
open the full answers: Profile, History, Compare with… and Export CSV under each segment, and
the history of all segments. Export buttons are given only to people who may see customer
data; the caller decides who that is (`bot.slack.home`), and a click is access-checked again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers import comparison as compare
from bot.answers.build import NO_RUN, run_context
from bot.answers.digest import main_movements
from bot.answers.parts import Button, ButtonAction, Menu
from segmentation.result import SegmentProfile
from storage.errors import NoPublishedRun
from storage.records import RunRecord
from storage.store import Store

TITLE = "Customer segments"
HELP_LINE = ("Ask in any channel: `/segments`, `/cluster N`, `/segments where …`; "
             "`/segments help` lists them all.")


@dataclass(frozen=True)
class HomeSegment:
    """One segment's line on the Home, and its buttons."""

    segment_id: int
    text: str
    buttons: tuple[Button | Menu, ...] = ()


@dataclass(frozen=True)
class HomePage:
    """The Home tab's content; `segments` is empty before the first run."""

    title: str
    summary: str
    segments: tuple[HomeSegment, ...] = ()
    movements: str = ""  # the digest's movements since the previous run, as mrkdwn
    buttons: tuple[Button, ...] = ()  # about every segment at once
    context: tuple[str, ...] = ()  # small print: where the numbers come from, how to ask


def home_page(store: Store, *, may_export: bool) -> HomePage:
    """The Home for one person: the current run, with Export buttons if `may_export`."""
    try:
        cmp = compare.load_comparison(store)
    except NoPublishedRun:
        return no_run_page()
    run = cmp.run
    return HomePage(
        title=f"{TITLE} — run {run.id}",
        summary=run_summary(run, len(cmp.segments)),
        segments=tuple(home_segment(segment, cmp.segments, may_export=may_export)
                       for segment in cmp.segments),
        movements=movements_text(cmp),
        buttons=(Button("History of all segments", ButtonAction.SEGMENTS_HISTORY, "all"),),
        context=(run_context(run), HELP_LINE))


def no_run_page() -> HomePage:
    """The Home before anything was published: say so, and how to get a first run."""
    return HomePage(title=TITLE, summary=NO_RUN, context=(HELP_LINE,))


def run_summary(run: RunRecord, segments: int) -> str:
    """When the run was made, from data of which date, and how many customers it sorts."""
    data = f"data as of *{run.as_of}*" if run.as_of else "data date unknown"
    return (f"*{segments} segments* of {run.rows_kept:,} customers · refreshed "
            f"*{run.finished_at:%Y-%m-%d %H:%M} UTC* · {data}")


def home_segment(segment: SegmentProfile, segments: Sequence[SegmentProfile], *,
                 may_export: bool) -> HomeSegment:
    """"1 · name — share (size)" and the segment's recommended action, with its buttons:
    Profile, History, Compare with… (any other segment; `/segments compare A B`), Export CSV."""
    value = str(segment.segment_id)
    buttons: list[Button | Menu] = [Button("Profile", ButtonAction.PROFILE, value),
                                    Button("History", ButtonAction.HISTORY, value)]
    others = tuple((f"{other.segment_id} · {other.name}", f"{value} {other.segment_id}")
                   for other in segments if other.segment_id != segment.segment_id)
    if others:
        buttons.append(Menu("Compare with…", ButtonAction.COMPARE, others))
    if may_export:
        buttons.append(Button("Export CSV", ButtonAction.EXPORT, value))
    return HomeSegment(
        segment.segment_id,
        f"*{segment.segment_id} · {segment.name}* — {segment.share:.0%} "
        f"({segment.size:,})\n{segment.action}",
        tuple(buttons))


def movements_text(cmp: compare.Comparison) -> str:
    """The digest's main movements since the previous run, or why there are none."""
    previous = cmp.previous
    if previous is None:
        return (f"*What changed*\nRun {cmp.run.id} is the first run: after the next refresh "
                "this shows who moved between segments.")
    heading = f"*What changed since run {previous.id}* ({previous.finished_at:%Y-%m-%d})"
    if not cmp.has_movement:
        return (f"{heading}\nMovement between the two runs was not recorded (run published "
                "before segbot tracked it).")
    lines = [heading, *main_movements(cmp)]
    lines += [f"• New: {line}" for line in compare.new_segment_lines(cmp)]
    lines += [f"• Retired: {line}" for line in compare.retired_lines(cmp)]
    return "\n".join(lines)
