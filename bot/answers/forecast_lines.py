"""The forecast of an order history's run in words: per segment, what it will buy in the next
90 days and how many of its customers are likely lost; per run, why there is none.

Every number is read from the segments' stored profiles (a segment's mean of each customer's
prediction), so these lines cost no query over customers.
"""

from __future__ import annotations

from collections.abc import Sequence

from segmentation.order_fields import (
    EXPECTED_PURCHASES,
    EXPECTED_VALUE,
    LIKELY_LOST,
    LIKELY_LOST_BELOW,
)
from segmentation.result import ForecastReport, SegmentProfile
from storage.records import RunRecord


def segment_total(segment: SegmentProfile, feature: str) -> float | None:
    """A segment's sum of a per-customer prediction (its mean × its size)."""
    stat = segment.stat(feature)
    return None if stat is None or stat.mean is None else stat.mean * segment.size


def segment_forecast(segment: SegmentProfile, horizon_days: int) -> str | None:
    """'Next 90 days: 412 purchases (0.8 each), worth 14,210 (27.4 each); 12% likely lost
    (P(active) < 30%)', or None for a segment of a run without predictions."""
    purchases = segment.stat(EXPECTED_PURCHASES)
    if purchases is None or purchases.mean is None:
        return None
    text = (f"Next {horizon_days} days: {purchases.mean * segment.size:,.0f} purchases "
            f"({purchases.mean:.2f} each)")
    value = segment.stat(EXPECTED_VALUE)
    if value is not None and value.mean is not None:
        text += f", worth {value.mean * segment.size:,.0f} ({value.mean:,.1f} each)"
    lost = segment.stat(LIKELY_LOST)
    if lost is not None and lost.mean is not None:
        text += (f"; {lost.mean:.0%} likely lost ({round(lost.mean * segment.size):,} with "
                 f"P(active) < {LIKELY_LOST_BELOW:.0%})")
    return text


def no_forecast(run: RunRecord) -> str | None:
    """Why an order history's run has no predictions; None when it has them, or is not one."""
    if run.forecast is None or run.forecast.fitted:
        return None
    return f"No predictions in this run: {run.forecast.reason}."


def digest_value_lines(forecast: ForecastReport | None, segments: Sequence[SegmentProfile],
                       previous_run: int | None,
                       previous_segments: Sequence[SegmentProfile]) -> list[str]:
    """Per segment, the value expected in the next 90 days (a quarter) and its change since
    the previous run's segment of the same id; empty when this run predicts no value."""
    if forecast is None or not forecast.fitted:
        return []
    before = {s.segment_id: s for s in previous_segments}
    lines = []
    for segment in segments:
        value = segment_total(segment, EXPECTED_VALUE)
        if value is None:
            return []
        lines.append(f"{segment.segment_id} · {segment.name}: {value:,.0f}"
                     + _change(value, before.get(segment.segment_id), previous_run))
    total = sum(segment_total(s, EXPECTED_VALUE) or 0.0 for s in segments)
    return [*lines, f"All customers: {total:,.0f}"]


def _change(value: float, old: SegmentProfile | None, previous_run: int | None) -> str:
    if previous_run is None:
        return ""
    if old is None:
        return " (new segment)"
    old_value = segment_total(old, EXPECTED_VALUE)
    if old_value is None:
        return f" (run {previous_run} had no value forecast)"
    change = value - old_value
    share = f", {change / old_value:+.0%}" if old_value else ""
    return f" ({change:+,.0f}{share} since run {previous_run})".replace("-", "\u2212")
