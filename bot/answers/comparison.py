"""A run next to the one before it, in words and as a migration matrix.

Shared by the weekly digest and `/segments changes`. Everything is read by run id, so a run
published meanwhile cannot mix into one comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from segmentation.result import GONE, NEW, SegmentMatch, SegmentProfile
from storage.changes import RetiredSegment
from storage.errors import NoPublishedRun
from storage.records import RunRecord
from storage.store import Store

if TYPE_CHECKING:  # the store makes the frames: reading a comparison loads no pandas here
    import pandas as pd

NEW_LABEL = "New customers"
GONE_LABEL = "Gone"


@dataclass(frozen=True)
class Flows:
    """Customers who stayed in their segment, moved to another, arrived, and left."""

    stayed: int
    moved: int
    new: int
    gone: int


@dataclass(frozen=True, eq=False)
class Comparison:
    """One run, the run it was compared with (None for the first), and what changed."""

    run: RunRecord
    previous: RunRecord | None
    segments: tuple[SegmentProfile, ...]
    previous_segments: tuple[SegmentProfile, ...]
    matches: tuple[SegmentMatch, ...]
    retired: tuple[RetiredSegment, ...]
    movement: pd.DataFrame  # from, to, customers

    @property
    def has_movement(self) -> bool:
        return self.previous is not None and not self.movement.empty

    def flows(self) -> Flows:
        """How many customers stayed, moved to another segment, arrived and left."""
        moves = self.movement
        both = moves[(moves["from"] != NEW) & (moves["to"] != GONE)]
        stayed = int(both.loc[both["from"] == both["to"], "customers"].sum())
        return Flows(stayed=stayed, moved=int(both["customers"].sum()) - stayed,
                     new=int(moves.loc[moves["from"] == NEW, "customers"].sum()),
                     gone=int(moves.loc[moves["to"] == GONE, "customers"].sum()))

    def name(self, segment: str, *, before: bool) -> str:
        """The name of segment id `segment` (text) in the previous run or this one."""
        pool = self.previous_segments if before else self.segments
        return next((s.name for s in pool if str(s.segment_id) == segment), f"segment {segment}")


def load_comparison(store: Store, run_id: int | None = None) -> Comparison:
    """Run `run_id` (default: the current run) and what changed since the run before it."""
    run = store.get_run(run_id) if run_id is not None else store.current_run()
    if run is None:
        raise NoPublishedRun()
    previous = store.previous_run(run.id)
    return Comparison(
        run=run, previous=previous, segments=tuple(store.list_segments(run.id)),
        previous_segments=tuple(store.list_segments(previous.id)) if previous else (),
        matches=tuple(store.segment_matches(run.id)),
        retired=tuple(store.retired_segments(run.id)),
        movement=store.movement(run.id))


def flow_summary(comparison: Comparison) -> str:
    """One line: how many customers stayed, moved, arrived and left."""
    flows = comparison.flows()
    compared = flows.stayed + flows.moved
    share = f" ({flows.stayed / compared:.0%})" if compared else ""
    return (f"{flows.stayed:,} customers{share} stayed in their segment, {flows.moved:,} moved "
            f"to another; {flows.new:,} new customers arrived and {flows.gone:,} are gone.")


def biggest_moves(comparison: Comparison, limit: int = 5) -> list[str]:
    """The largest flows between two different segments, as sentences, largest first."""
    moves = comparison.movement
    flows = moves[(moves["from"] != moves["to"]) & (moves["from"] != NEW)
                  & (moves["to"] != GONE) & (moves["customers"] > 0)]
    flows = flows.sort_values(["customers", "from", "to"], ascending=[False, True, True])
    top = flows.head(limit)
    return [f"{count:,} {'customer' if count == 1 else 'customers'} moved from "
            f"*{comparison.name(origin, before=True)}* to *{comparison.name(target, before=False)}*"
            for origin, target, count in zip(top["from"], top["to"], top["customers"],
                                             strict=True)]


def size_lines(comparison: Comparison) -> list[str]:
    """Each segment's size and share, with its change since the previous run."""
    before = {s.segment_id: s.size for s in comparison.previous_segments}
    new_ids = {m.segment_id for m in comparison.matches if m.previous_id is None}
    lines = []
    for segment in comparison.segments:
        if comparison.previous is None:
            change = ""
        elif segment.segment_id in new_ids or segment.segment_id not in before:
            change = " · new segment"
        else:
            change = f" · {_signed(segment.size - before[segment.segment_id])} since last run"
        lines.append(f"*{segment.segment_id} · {segment.name}* — {segment.size:,} "
                     f"({segment.share:.0%}){change}")
    return lines


def _signed(delta: int) -> str:
    if delta == 0:
        return "unchanged"
    return f"+{delta:,}" if delta > 0 else f"−{-delta:,}"  # a true minus sign reads better


def new_segment_lines(comparison: Comparison) -> list[str]:
    """Segments that continue none of the previous run's."""
    if comparison.previous is None:
        return []
    new_ids = {m.segment_id for m in comparison.matches if m.previous_id is None}
    return [f"*{s.segment_id} · {s.name}* — {s.size:,} customers; no earlier segment was "
            "close enough to continue" for s in comparison.segments if s.segment_id in new_ids]


def retired_lines(comparison: Comparison) -> list[str]:
    """The previous run's segments that no segment of this run continues."""
    sizes = {s.segment_id: s.size for s in comparison.previous_segments}
    lines = []
    for retired in comparison.retired:
        size = sizes.get(retired.segment_id)
        had = f" (had {size:,} customers)" if size is not None else ""
        lines.append(f"*{retired.segment_id} · {retired.name}*{had}: its customers now belong "
                     "to other segments")
    return lines


def migration_matrix(comparison: Comparison) -> pd.DataFrame:
    """Customers from each previous segment (rows) to each current one (columns).

    Labels are "id · name"; a segment that continues keeps its label, so the chart can outline
    the customers who stayed. New customers are the last row, departures the last column.
    """
    moves = comparison.movement
    rows = {str(s.segment_id): _label(s) for s in comparison.previous_segments}
    cols = {str(s.segment_id): _label(s) for s in comparison.segments}
    if (moves["from"] == NEW).any():
        rows[NEW] = NEW_LABEL
    if (moves["to"] == GONE).any():
        cols[GONE] = GONE_LABEL
    wide = moves.pivot_table(index="from", columns="to", values="customers", aggfunc="sum",
                             fill_value=0)
    wide = wide.reindex(index=list(rows), columns=list(cols), fill_value=0).astype("int64")
    wide.index = [rows[key] for key in wide.index]
    wide.columns = [cols[key] for key in wide.columns]
    return wide


def _label(segment: SegmentProfile) -> str:
    return f"{segment.segment_id} · {segment.name}"
