"""PNG charts that set segments beside each other: two segments' profiles in one chart, and
segments over the stored runs.

Drawn with the same figure, title, colour and axis helpers as `segmentation.charts`, so a
segment has the same colour here as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes

from segmentation.charts import (
    BODY_SIZE,
    INDEX_RANGE,
    INK,
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
from segmentation.result import SegmentProfile


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
