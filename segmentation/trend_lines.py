"""What a chart of segments over the stored runs draws: plain data, so an answer builds it
without importing matplotlib and a worker process can unpickle it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrendLine:
    """One segment's value in each run drawn; None in the runs it was not part of."""

    segment_id: int
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class TrendPanel:
    """One measure over the runs: its axis label (with the unit), a line per segment, and
    everyone's value per run (empty: not drawn). ``feature`` says how values are written
    (`segmentation.naming.format_value`); shares are 0-1 and drawn as percentages."""

    label: str
    lines: tuple[TrendLine, ...]
    feature: str = ""
    everyone: tuple[float | None, ...] = ()
    share: bool = False
