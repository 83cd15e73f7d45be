"""Charts that set segments beside each other: two profiles in one chart, segments over runs."""

from __future__ import annotations

import pytest

from segmentation.charts import MUTED, segment_color
from segmentation.comparison_charts import render_compare_chart, render_history_chart
from segmentation.trend_lines import TrendLine, TrendPanel
from tests.segmentation.test_charts import assert_phone_ready, colour_pixels, make_segment


def test_compare_chart_draws_each_segment_in_its_own_colour() -> None:
    first = make_segment(1, indexes={"income": 60.0, "spend": 30.0, "kids": 180.0})
    second = make_segment(2, indexes={"income": 150.0, "spend": 240.0, "kids": 40.0})

    image = assert_phone_ready(render_compare_chart(first, second, ["spend", "income", "kids"]))

    assert colour_pixels(image, segment_color(1)) > 2000
    assert colour_pixels(image, segment_color(2)) > 2000


def test_two_segments_the_palette_colours_alike_are_told_apart() -> None:
    first, second = make_segment(1), make_segment(18)  # the palette has 17 colours
    assert segment_color(1) == segment_color(18)

    image = assert_phone_ready(render_compare_chart(first, second, ["income", "spend"]))

    assert colour_pixels(image, MUTED) > 2000


def test_compare_chart_without_shared_features_says_so() -> None:
    first = make_segment(1, indexes={"income": None})
    second = make_segment(2, indexes={"spend": 120.0})

    image = assert_phone_ready(render_compare_chart(first, second, ["income", "spend"]))

    assert colour_pixels(image, segment_color(1)) < 50  # no bars, only the message


RUNS = ("02 Mar\nrun 1", "09 Mar\nrun 2", "16 Mar\nrun 3")


def test_history_chart_draws_each_segment_over_the_runs_in_its_colour() -> None:
    shares = TrendPanel("Share of customers (%)", (
        TrendLine(1, "Loyal big spenders", (0.4, 0.42, 0.45)),
        TrendLine(3, "Bargain hunters", (0.6, None, None)),  # retired in run 2
        TrendLine(4, "Newcomers", (None, 0.58, 0.55))), share=True)  # new in run 2
    income = TrendPanel("Income (segment mean)", (
        TrendLine(1, "Loyal big spenders", (70_000.0, 71_000.0, 72_500.0)),),
        feature="Income", everyone=(50_000.0, 50_500.0, 51_000.0))

    image = assert_phone_ready(render_history_chart("Segments over time", "3 refreshes", RUNS,
                                                    [shares, income]))

    for segment_id in (1, 3, 4):
        assert colour_pixels(image, segment_color(segment_id)) > 300
    assert colour_pixels(image, MUTED) > 300  # everyone's income, dashed


def test_history_chart_of_many_runs_labels_some_and_stays_readable() -> None:
    runs = tuple(f"{day:02d} Jan\nrun {day}" for day in range(1, 27))
    line = TrendLine(2, "Steady", tuple(0.2 + day / 1000 for day in range(26)))

    assert_phone_ready(render_history_chart("Segment 2 over time", "26 refreshes", runs,
                                            [TrendPanel("Share (%)", (line,), share=True)]))


@pytest.mark.parametrize("runs, panels", [((), "one"), (RUNS, "none")])
def test_history_chart_needs_runs_and_a_measure(runs: tuple[str, ...], panels: str) -> None:
    measures = [TrendPanel("Share (%)", (TrendLine(1, "A", (0.5,) * len(runs)),))] \
        if panels == "one" else []
    with pytest.raises(ValueError, match="no runs|no measures"):
        render_history_chart("Title", "", runs, measures)
