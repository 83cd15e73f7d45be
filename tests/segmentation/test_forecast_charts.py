"""The forecast's charts: each segment's expected value, and the tracking of repeat purchases."""

from __future__ import annotations

import numpy as np
import pytest

from segmentation.forecast_charts import render_forecast_chart, render_tracking_chart
from segmentation.order_fields import EXPECTED_PURCHASES, EXPECTED_VALUE, LIKELY_LOST, P_ACTIVE
from tests.segmentation.profiles import segment_with_means
from tests.segmentation.test_charts import assert_phone_ready


def test_the_value_chart_draws_every_segment_and_without_amounts_their_purchases() -> None:
    with_value = [segment_with_means(i, {P_ACTIVE: 0.8, EXPECTED_PURCHASES: 0.5 * i,
                                       EXPECTED_VALUE: 20.0 * i, LIKELY_LOST: 0.1})
                  for i in range(1, 6)]
    purchases_only = [segment_with_means(i, {P_ACTIVE: 0.8, EXPECTED_PURCHASES: 0.5 * i})
                      for i in range(1, 4)]
    tall = assert_phone_ready(render_forecast_chart(with_value, 90))
    short = assert_phone_ready(render_forecast_chart(purchases_only, 90))
    assert tall.shape[0] > short.shape[0]  # a bar per segment


def test_the_value_chart_refuses_a_run_without_segments() -> None:
    with pytest.raises(ValueError, match="no segments"):
        render_forecast_chart([], 90)


def test_the_tracking_chart_draws_both_curves_over_every_week() -> None:
    weeks = np.arange(1, 79, dtype=float)
    image = assert_phone_ready(render_tracking_chart(
        weeks.tolist(), (weeks * 55).tolist(), (weeks * 53).tolist(), 39))
    assert image.shape[1] > image.shape[0]
    with pytest.raises(ValueError, match="no weeks"):
        render_tracking_chart([], [], [], 39)
