"""PNG charts of an order history's forecast (`segmentation.forecast`): what each segment is
expected to be worth in the next 90 days, and the model's repeat purchases against what
customers actually bought, week by week (the validation chart of the BG/NBD paper).

Drawn with the figure, title, colour and axis helpers of `segmentation.charts`, so a segment
has the same colour here as everywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from segmentation.charts import (
    BODY_SIZE,
    INK,
    MUTED,
    _compact,
    _new_figure,
    _require_segments,
    _segment_label,
    _set_titles,
    _style_axes,
    _to_png,
    segment_color,
)
from segmentation.order_fields import EXPECTED_PURCHASES, EXPECTED_VALUE, LIKELY_LOST
from segmentation.result import SegmentProfile


def render_forecast_chart(segments: Sequence[SegmentProfile], horizon_days: int) -> bytes:
    """Each segment's expected value in the next ``horizon_days`` (its purchases when the
    history has no amounts) as bars, labelled with the value per customer and the share
    likely lost."""
    ordered = _require_segments(segments)
    feature = EXPECTED_VALUE if any(s.stat(EXPECTED_VALUE) for s in ordered) \
        else EXPECTED_PURCHASES
    means = np.array([_mean(s, feature) for s in ordered])
    totals = means * np.array([s.size for s in ordered], dtype=float)
    fig = _new_figure(height=1.9 + 0.75 * len(ordered))
    ax = fig.subplots()
    rows = np.arange(len(ordered))
    ax.barh(rows, totals, height=0.7, color=[segment_color(s.segment_id) for s in ordered])
    for row, (segment, total, mean) in enumerate(zip(ordered, totals, means, strict=True)):
        lost = segment.stat(LIKELY_LOST)
        text = f"{_compact(total)} · {mean:,.1f} each"
        if lost is not None and lost.mean is not None:
            text += f" · {lost.mean:.0%} likely lost"
        ax.annotate(text, xy=(total, row), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=BODY_SIZE, color=INK)
    ax.set_yticks(rows, [_segment_label(s, 24) for s in ordered])
    ax.set_ylim(len(ordered) - 0.5, -0.5)
    ax.set_xlim(0, max(float(totals.max()), 1.0) * 1.9)
    _style_axes(ax, grid_axis=None)
    ax.spines["bottom"].set_visible(False)
    ax.set_xticks([])
    what = "value" if feature == EXPECTED_VALUE else "purchases"
    _set_titles(fig, f"Expected {what} in the next {horizon_days} days, per segment",
                f"{_compact(float(totals.sum()))} in all, from BG/NBD"
                f"{' and Gamma-Gamma' if feature == EXPECTED_VALUE else ''}; likely lost: "
                "P(active) under 30%")
    return _to_png(fig)


def render_tracking_chart(weeks: Sequence[float], actual: Sequence[float],
                          expected: Sequence[float], calibration_weeks: float) -> bytes:
    """Cumulative repeat purchases, actual against the model's, week by week; the line marks
    the end of the calibration period the model was fitted on."""
    if not len(weeks):
        raise ValueError("no weeks to chart")
    fig = _new_figure(height=4.6)
    ax = fig.subplots()
    ax.plot(weeks, actual, color=INK, linewidth=2.2, label="Actual")
    ax.plot(weeks, expected, color=segment_color(2), linewidth=2.2, linestyle="--",
            label="Model (BG/NBD)")
    ax.axvline(calibration_weeks, color=MUTED, linewidth=1, linestyle=":")
    ax.annotate("end of calibration", xy=(calibration_weeks, 0.03), xycoords=("data",
                "axes fraction"), xytext=(4, 0), textcoords="offset points",
                fontsize=BODY_SIZE - 2, color=MUTED)
    ax.set_xlabel("Week", fontsize=BODY_SIZE, color=INK)
    ax.set_ylabel("Cumulative repeat purchases", fontsize=BODY_SIZE, color=INK)
    ax.set_xlim(0, float(max(weeks)))
    ax.set_ylim(0, max(float(max(actual)), float(max(expected))) * 1.05)
    ax.legend(frameon=False, fontsize=BODY_SIZE, loc="upper left")
    _style_axes(ax, grid_axis="y")
    _set_titles(fig, "Repeat purchases: actual vs predicted",
                f"fitted on the first {calibration_weeks:g} weeks, then predicted")
    return _to_png(fig)


def _mean(segment: SegmentProfile, feature: str) -> float:
    stat = segment.stat(feature)
    return 0.0 if stat is None or stat.mean is None else stat.mean
