"""PNG charts that set segments beside each other: two segments' profiles in one chart, and
segments over the stored runs.

Drawn with the same figure, title, colour and axis helpers as `segmentation.charts`, so a
segment has the same colour here as everywhere else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from segmentation.charts import (
    BODY_SIZE,
    INDEX_RANGE,
    INK,
    LABEL_SIZE,
    MUTED,
    _draw_average_line,
    _finite,
    _message_axes,
    _new_figure,
    _set_titles,
    _shorten,
    _style_axes,
    _to_png,
    segment_color,
)
from segmentation.naming import format_value
from segmentation.result import SegmentProfile
from segmentation.trend_lines import TrendLine, TrendPanel

MAX_RUN_LABELS = 7  # dates under the x axis; more would overlap on a phone


def render_compare_chart(first: SegmentProfile, second: SegmentProfile,
                         features: Sequence[str]) -> bytes:
    """Both segments' index against the average customer (100), feature by feature: a bar
    for each in its segment's colour, the features in the order given (largest gap first)."""
    rows = [(first.stat(f), second.stat(f)) for f in features]
    usable = [(a.label or a.feature, _finite(a.index), _finite(b.index))
              for a, b in rows if a is not None and b is not None
              and (_finite(a.index) is not None or _finite(b.index) is not None)]
    fig = _new_figure(height=2.8 + 0.8 * max(len(usable), 2))
    ax = fig.subplots()
    colours = _pair_colours(first.segment_id, second.segment_id)
    if usable:
        _draw_paired_bars(ax, usable, colours,
                          [_legend_label(first), _legend_label(second)])
    else:
        _message_axes(ax, "No feature statistics to compare for these segments")
    _set_titles(fig, f"Segment {first.segment_id} vs segment {second.segment_id}",
                "Where they differ most, each against the average customer (100 = average)")
    return _to_png(fig)


def _pair_colours(first_id: int, second_id: int) -> tuple[str, str]:
    """Each segment's own colour; the second grey if the palette gives both the same."""
    first, second = segment_color(first_id), segment_color(second_id)
    return (first, MUTED if second == first else second)


def _legend_label(segment: SegmentProfile) -> str:
    return _shorten(f"{segment.segment_id} · {segment.name} ({segment.share:.0%} of "
                    "customers)", 48, 2)


def _draw_paired_bars(ax: Axes, rows: Sequence[tuple[str, float | None, float | None]],
                      colours: tuple[str, str], labels: list[str]) -> None:
    y = np.arange(len(rows))
    height = 0.38
    for offset, column, colour, label in ((-height / 2, 1, colours[0], labels[0]),
                                          (height / 2, 2, colours[1], labels[1])):
        values = np.array([np.nan if row[column] is None else row[column] for row in rows],
                          dtype=float)
        shown = np.clip(np.nan_to_num(values, nan=100.0), *INDEX_RANGE)
        ax.barh(y + offset, shown - 100, left=100, height=height, color=colour, label=label)
        for row, value, end in zip(y, values, shown, strict=True):
            text = "n/a" if np.isnan(value) else f"{value:,.0f}".replace("-", "\u2212")
            right = end >= 100
            ax.annotate(text, xy=(end, row + offset), xytext=(4 if right else -4, 0),
                        textcoords="offset points", ha="left" if right else "right",
                        va="center", fontsize=BODY_SIZE - 2, color=INK)
    ends = np.clip(np.array([v for _, a, b in rows for v in (a, b) if v is not None]
                            + [100.0]), *INDEX_RANGE)
    low, high = min(ends.min(), 100), max(ends.max(), 100)
    span = high - low or 50
    # room for the labels at the bar ends, but no negative axis when no index is negative
    ax.set_xlim(low - (0.25 if low < 0 else min(0.25, 0.1 + low / span)) * span,
                high + 0.25 * span)
    _draw_average_line(ax, len(rows))
    ax.set_yticks(y, [_shorten(label, 22, 2) for label, _, _ in rows])
    _style_axes(ax, grid_axis="x")
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Index vs average customer (100 = average)", fontsize=BODY_SIZE, color=INK)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1, frameon=False,
              fontsize=BODY_SIZE - 1)


def render_history_chart(title: str, subtitle: str, runs: Sequence[str],
                         panels: Sequence[TrendPanel]) -> bytes:
    """Segments over the stored runs: a panel per measure, a line per segment in its colour,
    one point per run (``runs`` are their labels, oldest first). A segment new after the first
    run starts with a hollow circle; one retired before the last run ends with a cross."""
    if not runs:
        raise ValueError("no runs to chart")
    if not panels:
        raise ValueError("no measures to chart")
    lines = {line.segment_id: line for panel in panels for line in panel.lines}
    legend = _history_legend(list(lines.values()), panels, len(runs))
    rows = math.ceil(len(legend) / (1 if len(legend) <= 4 else 2))
    fig = _new_figure(height=1.6 + 2.3 * len(panels) + 0.3 * rows)
    axes = np.atleast_1d(fig.subplots(len(panels), 1, sharex=True))
    x = np.arange(len(runs))
    for ax, panel in zip(axes, panels, strict=True):
        _draw_trend_panel(ax, x, panel)
    step = max(1, math.ceil(len(runs) / MAX_RUN_LABELS))
    shown = [i for i in range(len(runs)) if (len(runs) - 1 - i) % step == 0]  # the last always
    axes[-1].set_xticks(shown, [runs[i] for i in shown])
    axes[-1].set_xlim(-0.4, len(runs) - 0.6)
    axes[-1].set_xlabel("Refresh (date, run)", fontsize=BODY_SIZE, color=INK)
    fig.legend(handles=legend, loc="outside lower center", ncols=1 if rows == len(legend) else 2,
               fontsize=BODY_SIZE - 1, frameon=False, handletextpad=0.4, columnspacing=1.2)
    _set_titles(fig, title, subtitle)
    return _to_png(fig)


def _draw_trend_panel(ax: Axes, x: np.ndarray, panel: TrendPanel) -> None:
    _style_axes(ax, grid_axis="y")
    last = len(x) - 1
    if panel.everyone and any(_finite(v) is not None for v in panel.everyone):
        ax.plot(x, _values(panel.everyone, len(x)), color=MUTED, linestyle="--", linewidth=1.6,
                zorder=1)
    for line in panel.lines:
        y = _values(line.values, len(x))
        colour = segment_color(line.segment_id)
        ax.plot(x, y, color=colour, linewidth=2.4, marker="o", markersize=5, zorder=2)
        present = np.flatnonzero(~np.isnan(y))
        if present.size and present[0] > 0:  # new: first seen after the first run
            ax.plot(x[present[0]], y[present[0]], marker="o", markersize=11, color=colour,
                    markerfacecolor="white", markeredgewidth=2.2, zorder=3)
        if present.size and present[-1] < last:  # retired: gone in the next run
            ax.plot(x[present[-1]], y[present[-1]], marker="X", markersize=12, color=colour,
                    markeredgecolor="white", zorder=3)
    if panel.share:
        highest = max((v for line in panel.lines for v in _values(line.values, len(x))
                       if not np.isnan(v)), default=0.0)
        ax.set_ylim(0, max(highest * 1.15, 0.05))
        ax.yaxis.set_major_formatter(lambda value, _pos: f"{value:.0%}")
    else:
        ax.yaxis.set_major_formatter(lambda value, _pos: format_value(panel.feature, value))
    ax.set_ylabel(_shorten(panel.label, 18, 3), fontsize=LABEL_SIZE - 1, color=INK)


def _values(values: Sequence[float | None], length: int) -> np.ndarray:
    padded = [*values[:length], *[None] * (length - len(values))]
    return np.array([np.nan if _finite(v) is None else _finite(v) for v in padded])


def _history_legend(lines: list[TrendLine], panels: Sequence[TrendPanel],
                    runs: int) -> list[Line2D]:
    """A line per segment, then what the marks mean, only those drawn."""
    handles = [Line2D([], [], color=segment_color(line.segment_id), linewidth=2.4, marker="o",
                      markersize=5, label=_shorten(f"{line.segment_id} · {line.name}", 34, 2))
               for line in sorted(lines, key=lambda line: line.segment_id)]
    spans = [np.flatnonzero(~np.isnan(_values(line.values, runs))) for line in lines]
    if any(span.size and span[0] > 0 for span in spans):
        handles.append(Line2D([], [], linestyle="", marker="o", markersize=10, color=INK,
                              markerfacecolor="white", markeredgewidth=2,
                              label="new segment: first refresh it appears in"))
    if any(span.size and span[-1] < runs - 1 for span in spans):
        handles.append(Line2D([], [], linestyle="", marker="X", markersize=11, color=INK,
                              label="retired after this refresh"))
    if any(panel.everyone for panel in panels):
        handles.append(Line2D([], [], color=MUTED, linestyle="--", linewidth=1.6,
                              label="all customers"))
    return handles
