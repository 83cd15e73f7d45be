"""Charts that set segments beside each other: two profiles in one chart, segments over runs."""

from __future__ import annotations

from segmentation.charts import MUTED, segment_color
from segmentation.comparison_charts import render_compare_chart
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
