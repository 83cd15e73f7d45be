"""The forecast in words: a segment's next 90 days, and the digest's value per segment with
its change since the last run."""

from __future__ import annotations

from bot.answers.forecast_lines import digest_value_lines, segment_forecast
from segmentation.order_fields import EXPECTED_PURCHASES, EXPECTED_VALUE, LIKELY_LOST
from segmentation.result import ForecastReport, SegmentProfile
from tests.segmentation.profiles import segment_with_means

FITTED = ForecastReport(fitted=True, reason="", customers=1000, repeat_buyers=400,
                        horizon_days=90, actual_repeats=900)


def segment(segment_id: int, size: int, **means: float) -> SegmentProfile:
    return segment_with_means(segment_id, means, size=size, share=0.5)


def test_a_segments_next_90_days_are_totals_and_means_with_the_share_likely_lost() -> None:
    champions = segment(3, 400, **{EXPECTED_PURCHASES: 1.25, EXPECTED_VALUE: 30.5,
                                   LIKELY_LOST: 0.1})
    assert segment_forecast(champions, 90) == (
        "Next 90 days: 500 purchases (1.25 each), worth 12,200 (30.5 each); 10% likely lost "
        "(40 with P(active) < 30%)")
    no_amounts = segment(1, 10, **{EXPECTED_PURCHASES: 0.5})
    assert segment_forecast(no_amounts, 90) == "Next 90 days: 5 purchases (0.50 each)"
    assert segment_forecast(segment(2, 10, frequency=2.0), 90) is None


def test_the_digest_gives_each_segments_value_and_its_change_since_the_last_run() -> None:
    now = [segment(1, 100, **{EXPECTED_VALUE: 12.0}), segment(2, 50, **{EXPECTED_VALUE: 4.0}),
           segment(5, 10, **{EXPECTED_VALUE: 1.0})]
    before = [segment(1, 100, **{EXPECTED_VALUE: 10.0}), segment(2, 60, **{EXPECTED_VALUE: 5.0})]
    assert digest_value_lines(FITTED, now, 7, before) == [
        "1 · Segment 1: 1,200 (+200, +20% since run 7)",
        "2 · Segment 2: 200 (\u2212100, \u221233% since run 7)",
        "5 · Segment 5: 10 (new segment)",
        "All customers: 1,410",
    ]
    assert digest_value_lines(FITTED, now[:1], None, ()) == ["1 · Segment 1: 1,200",
                                                             "All customers: 1,200"]
    assert digest_value_lines(FITTED, now[:1], 7, [segment(1, 100, frequency=1.0)]) == [
        "1 · Segment 1: 1,200 (run 7 had no value forecast)", "All customers: 1,200"]
    assert digest_value_lines(FITTED.not_fitted("too few"), now, 7, before) == []
    assert digest_value_lines(None, now, 7, before) == []
