"""Charts render readable PNGs from stored results, whatever the shape of the run."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from segmentation import charts
from segmentation.charts import (
    render_customer_chart,
    render_elbow_chart,
    render_migration_chart,
    render_overview_chart,
    render_profile_chart,
    render_scatter_chart,
    render_sizes_chart,
    segment_color,
)
from segmentation.result import FeatureStat, KSelection, SegmentProfile

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEATURES = {"income": "Income", "spend": "Total spend", "kids": "Children at home",
            "web": "Web purchases", "recency": "Days since last purchase",
            "deals": "Deal purchases", "wines": "Wine spend", "age": "Age",
            "visits": "Web visits per month", "complaints": "Complaints"}
POPULATION = {"income": 52_000.0, "spend": 600.0, "kids": 0.44, "web": 4.1, "recency": 49.0,
              "deals": 2.3, "wines": 300.0, "age": 52.0, "visits": 5.3, "complaints": 0.01}


def make_stat(feature: str, index: float | None, z: float = 0.0) -> FeatureStat:
    population = POPULATION.get(feature, 10.0)
    mean = None if index is None else population * index / 100
    return FeatureStat(feature=feature, label=FEATURES.get(feature, feature), mean=mean,
                       median=mean, population_mean=population, index=index, z=z)


def make_segment(segment_id: int, name: str | None = None, size: int = 500,
                 indexes: dict[str, float | None] | None = None) -> SegmentProfile:
    rng = np.random.default_rng(segment_id)
    if indexes is None:
        indexes = {f: float(np.round(rng.uniform(30, 320))) for f in FEATURES}
    stats = tuple(make_stat(f, i, z=0.0 if i is None else (i - 100) / 60)
                  for f, i in indexes.items())
    ranked = sorted((s for s in stats if s.index is not None), key=lambda s: -abs(s.z))
    return SegmentProfile(
        segment_id=segment_id, name=name or f"Segment name {segment_id}",
        description="", action="", size=size, share=0.0, traits=(), stats=stats,
        distinguishing=tuple(s.feature for s in ranked[:5]), centroid=(0.0, 0.0))


def make_segments(count: int, name_length: int = 0) -> list[SegmentProfile]:
    segments = []
    for segment_id in range(1, count + 1):
        name = None
        if name_length:
            name = (f"Very long segment name {segment_id} " * 20)[:name_length]
        segments.append(make_segment(segment_id, name=name, size=100 * segment_id + 37))
    return segments


def make_selection(silhouettes: tuple[float | None, ...] | None = None) -> KSelection:
    ks = tuple(range(2, 11))
    inertias = tuple(10_000.0 / k ** 0.9 for k in ks)
    if silhouettes is None:
        silhouettes = (0.31, 0.36, 0.33, 0.29, 0.27, 0.25, 0.24, 0.22, 0.21)
    return KSelection(ks=ks, inertias=inertias, silhouettes=silhouettes, chosen_k=4,
                      reason="Inertia stops falling steeply after 4 segments.", method="elbow")


def make_projection(segments: list[SegmentProfile], rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ids = rng.choice([s.segment_id for s in segments], size=rows)
    return pd.DataFrame({"pc1": rng.normal(size=rows) + ids, "pc2": rng.normal(size=rows),
                         "segment_id": ids})


def make_migration(labels: list[str], scale: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    counts = rng.integers(0, scale, size=(len(labels) + 1, len(labels) + 1))
    np.fill_diagonal(counts, scale * 25)
    counts[-1, -1] = 0  # a customer new in this run cannot also be gone
    return pd.DataFrame(counts, index=labels + ["new"], columns=labels + ["gone"])


def decode(png: bytes) -> np.ndarray:
    assert png[:8] == PNG_MAGIC
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def assert_phone_ready(png: bytes) -> np.ndarray:
    image = decode(png)
    height, width = image.shape[:2]
    assert width >= 1000, f"only {width}px wide: not 2x resolution"
    assert height >= 500
    return image


def colour_pixels(image: np.ndarray, hex_colour: str) -> int:
    """How many pixels are (almost exactly) the given colour."""
    target = np.array([int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    return int((np.abs(image[..., :3] - target).max(axis=-1) < 0.02).sum())


# ----------------------------------------------------------------------------- colours


def test_segment_color_is_stable_and_distinct_for_the_first_eight_ids():
    first = [segment_color(i) for i in range(1, 9)]
    assert first == [segment_color(i) for i in range(1, 9)]
    assert len(set(first)) == 8
    assert set(first) == set(charts.OKABE_ITO)


def test_segment_color_is_distinct_for_twelve_segments_and_defined_beyond():
    assert len({segment_color(i) for i in range(1, 13)}) == 12
    assert segment_color(0).startswith("#") and segment_color(100).startswith("#")


def test_segment_colour_follows_the_id_not_the_position_in_the_list():
    three = make_segment(3)
    alone = decode(render_sizes_chart([three]))
    assert colour_pixels(alone, segment_color(3)) > 1000
    assert colour_pixels(alone, segment_color(1)) == 0


def test_same_segment_has_the_same_colour_in_sizes_and_scatter():
    segments = [make_segment(2), make_segment(5)]
    sizes = decode(render_sizes_chart(segments))
    scatter = decode(render_scatter_chart(make_projection(segments, 3000), segments))
    for segment_id in (2, 5):
        assert colour_pixels(sizes, segment_color(segment_id)) > 1000
        assert colour_pixels(scatter, segment_color(segment_id)) > 100
    assert colour_pixels(scatter, segment_color(1)) == 0


# ----------------------------------------------------------------------------- every chart


@pytest.mark.slow  # over a second: the fast tier stays under a minute
def test_every_renderer_returns_a_phone_ready_png():
    segments = make_segments(4)
    pngs = [
        render_elbow_chart(make_selection()),
        render_sizes_chart(segments),
        render_overview_chart(segments),
        render_scatter_chart(make_projection(segments, 2000), segments),
        render_profile_chart(segments[0]),
        render_customer_chart("C-1", {"income": 80_000, "spend": 1200, "kids": 0},
                              segments[0]),
        render_migration_chart(make_migration(["1", "2", "3", "4"])),
    ]
    for png in pngs:
        assert_phone_ready(png)


@pytest.mark.slow  # twelve segments in every chart: 1.7 s
def test_twelve_segments_with_very_long_names_render():
    segments = make_segments(12, name_length=200)
    labels = [f"{s.segment_id} · {s.name}" for s in segments]
    pngs = [
        render_sizes_chart(segments),
        render_overview_chart(segments),
        render_scatter_chart(make_projection(segments, 4000), segments),
        render_profile_chart(segments[-1]),
        render_customer_chart("C" * 120, {"income": 1.0}, segments[-1]),
        render_migration_chart(make_migration(labels)),
    ]
    for png in pngs:
        image = assert_phone_ready(png)
        # wrapped, not stretched: the picture stays a sensible shape for a phone
        assert image.shape[1] < 2600 and image.shape[0] < 3600


def test_a_single_segment_renders_everywhere():
    only = [make_segment(1, size=2240)]
    assert_phone_ready(render_sizes_chart(only))
    assert_phone_ready(render_overview_chart(only))
    assert_phone_ready(render_scatter_chart(make_projection(only, 50), only))
    assert_phone_ready(render_migration_chart(pd.DataFrame([[2240]], index=["1"],
                                                           columns=["1"])))


# ----------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("render", [
    render_sizes_chart,
    render_overview_chart,
    lambda segments: render_scatter_chart(make_projection([make_segment(1)], 10), segments),
])
def test_no_segments_is_a_clear_value_error(render):
    with pytest.raises(ValueError, match="no segments"):
        render([])


def test_empty_projection_and_empty_migration_are_value_errors():
    segments = [make_segment(1)]
    with pytest.raises(ValueError, match="projection"):
        render_scatter_chart(make_projection(segments, 0), segments)
    with pytest.raises(ValueError, match="lacks"):
        render_scatter_chart(pd.DataFrame({"pc1": [0.0]}), segments)
    with pytest.raises(ValueError, match="migration"):
        render_migration_chart(pd.DataFrame())


def test_stats_with_none_values_do_not_crash():
    holes = {"income": None, "spend": 250.0, "kids": None, "web": 80.0}
    segments = [make_segment(1, indexes=holes), make_segment(2, indexes={"income": None})]
    assert_phone_ready(render_overview_chart(segments))
    assert_phone_ready(render_profile_chart(segments[0]))
    # nothing to draw is still a chart that says so, not a crash
    assert_phone_ready(render_profile_chart(segments[1]))
    assert_phone_ready(render_customer_chart("C-9", {"income": 5.0}, segments[1]))


def test_elbow_chart_copes_with_missing_silhouettes():
    assert_phone_ready(render_elbow_chart(make_selection((None, 0.3, None, 0.2, 0.1,
                                                          None, None, 0.1, 0.1))))
    assert_phone_ready(render_elbow_chart(make_selection((None,) * 9)))


def test_all_zero_migration_matrix_renders():
    zeros = pd.DataFrame(np.zeros((3, 3), dtype=int), index=["1", "2", "new"],
                         columns=["1", "2", "gone"])
    assert_phone_ready(render_migration_chart(zeros))


def test_scatter_downsamples_a_large_projection():
    segments = make_segments(5)
    big = make_projection(segments, 200_000)
    png = render_scatter_chart(big, segments, max_points=5000)
    assert_phone_ready(png)
    assert png == render_scatter_chart(big, segments, max_points=5000)


def test_customer_chart_skips_missing_and_non_numeric_attributes():
    segment = make_segment(3)
    attributes = {"income": float("nan"), "spend": None, "kids": "two", "web": 7,
                  "recency": np.int64(12)}
    rows = charts._customer_rows(attributes, segment)
    assert [label for label, _, _ in rows] == sorted(
        ["Web purchases", "Days since last purchase"],
        key=[s.label for s in charts._ranked_stats(segment, segment.stats)].index)
    web = next(row for row in rows if row[0] == "Web purchases")
    assert web[1] == pytest.approx(7 / POPULATION["web"] * 100)
    assert_phone_ready(render_customer_chart("C-3", attributes, segment))


def test_profile_shows_distinguishing_features_first_then_by_z():
    segment = make_segment(1, indexes={"income": 150.0, "spend": 400.0, "kids": 20.0,
                                       "web": 110.0})
    segment = SegmentProfile(**{**segment.__dict__, "distinguishing": ("kids",)})
    ranked = charts._ranked_stats(segment, segment.stats)
    assert [s.feature for s in ranked] == ["kids", "spend", "income", "web"]


def test_overview_takes_each_segments_top_features_in_turn():
    first = make_segment(1, indexes={"income": 300.0, "spend": 250.0, "kids": 105.0})
    second = make_segment(2, indexes={"web": 20.0, "deals": 40.0, "kids": 98.0})
    features, labels = charts._overview_features([first, second], max_features=3)
    assert features == ["income", "web", "spend"]
    assert labels == ["Income", "Web purchases", "Total spend"]


def test_dollar_signs_in_names_are_shown_as_text_not_maths():
    segment = make_segment(1, name="Income $50k–$100k · spend > $1,000")
    assert_phone_ready(render_profile_chart(segment))
    assert_phone_ready(render_sizes_chart([segment]))


def test_charts_render_the_same_from_several_threads_at_once():
    segments = make_segments(3)
    expected = render_sizes_chart(segments)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: render_sizes_chart(segments), range(4)))
    assert all(png == expected for png in results)


@pytest.mark.parametrize("features, segments", [
    ([("Income", 140.0, 120.0), ("Total spend", 900.0, None), ("Age", None, 100.0)],
     [(1, "Big spenders", 300, 1000), (4, "Lapsed", 0, 500)]),
    ([], []),
])
def test_audience_chart_renders_whichever_panels_it_has(features, segments):
    png = charts.render_audience_chart("Segment 1 where income > 50k", features, segments)
    assert png.startswith(PNG_MAGIC)
    assert matplotlib.image.imread(io.BytesIO(png)).shape[1] >= 1000
