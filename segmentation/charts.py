"""PNG charts of a stored segmentation, sized to be read on a phone in Slack.

Charts are drawn from stored results, never by re-fitting. Only matplotlib's object API and
the Agg canvas are used (no pyplot, no rcParams changes), so several threads can render at
once. Every segment keeps one colour, chosen by its id, in every chart.
"""

from __future__ import annotations

import io
import math
import numbers
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize, PowerNorm, TwoSlopeNorm, to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Annotation

from segmentation.result import FeatureStat, KSelection, SegmentProfile

DPI = 200  # 2x: Slack shows the image at about half its pixel width on a phone
WIDTH = 6.4
TITLE_SIZE = 16
SUBTITLE_SIZE = 12.5
BODY_SIZE = 12
LABEL_SIZE = 13
INK = "#222222"
MUTED = "#595959"
GRID = "#E3E3E3"
MISSING = "#EEEEEE"

# Okabe & Ito (2008), yellow and black last as they read worst as thin marks on white.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7",
             "#56B4E9", "#D55E00", "#F0E442", "#000000")
# Paul Tol's "muted" scheme, least Okabe-Ito-like first, for segments 9 and up.
TOL_MUTED = ("#332288", "#882255", "#999933", "#CC6677", "#44AA99",
             "#DDCC77", "#88CCEE", "#117733", "#AA4499")
PALETTE = OKABE_ITO + TOL_MUTED

_DIVERGING = colormaps["RdBu_r"]  # red above average, blue below; safe for common colour-blindness
_SEQUENTIAL = colormaps["Blues"]
ABOVE = to_hex(_DIVERGING(0.82))
BELOW = to_hex(_DIVERGING(0.18))
HIGHLIGHT = "#D55E00"
# bars stop at 6x the average (and at -2x, for features with negative means), or one outlier
# would squash all the others; the label still shows the true value
INDEX_RANGE = (-200.0, 600.0)


def segment_color(segment_id: int) -> str:
    """The hex colour of a segment, the same in every chart; ids 1..8 get Okabe-Ito colours."""
    return PALETTE[(int(segment_id) - 1) % len(PALETTE)]


def _new_figure(height: float, width: float = WIDTH) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained", facecolor="white")
    FigureCanvasAgg(fig)
    return fig


def _to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # zlib level 3 instead of 6: the same pixels, files 5-15% larger, and every chart 10-15%
    # faster (deflating 1-2 megapixels was a sixth of a chart's time)
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.2,
                facecolor="white", metadata={"Software": None},
                pil_kwargs={"compress_level": 3})
    return buffer.getvalue()


def _shorten(text: str, width: int, max_lines: int = 1) -> str:
    """Wrap to at most ``max_lines`` lines of ``width`` characters, ending in … when cut."""
    # a non-breaking space keeps "·" at the end of a line, never at the start of the next
    text = re.sub(r"\s+", " ", str(text)).strip().replace(" · ", "\u00a0· ")
    lines = textwrap.wrap(text, width=width)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], lines[max_lines - 1][: width - 1].rstrip() + "…"]
    return "\n".join(lines).replace("$", r"\$")  # "$5k-$10k" is a label, not mathtext


def _chars_per_line(width_in: float, font_size: float) -> int:
    return max(20, int(width_in * 72 / (font_size * 0.6)))


def _set_titles(fig: Figure, title: str, subtitle: str | None = None,
                colour: str | None = None) -> None:
    """Bold title and grey subtitle at the top left of the figure.

    ``colour`` puts a square in a segment's colour before the title, tying the chart to the
    same segment in every other chart.
    """
    width = fig.get_figwidth() - (0.3 if colour else 0.0)
    title = _shorten(title, _chars_per_line(width, TITLE_SIZE * 1.1), 2)
    subtitle = _shorten(subtitle or "", _chars_per_line(width, SUBTITLE_SIZE), 3)
    # constrained layout only makes room for the suptitle, so blank lines in it reserve the
    # space the subtitle is then drawn into
    reserve = "\n" * (subtitle.count("\n") + 1) if subtitle else ""
    head = fig.suptitle(title + reserve, x=0.02 + (0.3 if colour else 0.0) / fig.get_figwidth(),
                        ha="left", fontsize=TITLE_SIZE, weight="bold", color=INK,
                        linespacing=1.15)
    if subtitle:
        fig.add_artist(Annotation(subtitle, xy=(0, 0), xycoords=head, xytext=(0, 4),
                                  textcoords="offset points", va="bottom",
                                  fontsize=SUBTITLE_SIZE, color=MUTED))
    if colour:
        fig.add_artist(Annotation("\u25a0", xy=(0, 1), xycoords=head, xytext=(-5, 0),
                                  textcoords="offset points", ha="right", va="top",
                                  fontsize=TITLE_SIZE + 2, color=colour))


def _style_axes(ax: Axes, grid_axis: Literal["x", "y"] | None = "x") -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.tick_params(labelsize=BODY_SIZE, colors=INK, length=0 if grid_axis else 3.5)
    if grid_axis:
        ax.grid(axis=grid_axis, color=GRID, linewidth=0.8)
        ax.set_axisbelow(True)


def _require_segments(segments: Sequence[SegmentProfile]) -> list[SegmentProfile]:
    if not segments:
        raise ValueError("no segments to chart: the run has no segments")
    return sorted(segments, key=lambda s: s.segment_id)


def _finite(value: Any) -> float | None:
    """The value as a float when it is a real finite number (bools count as 0/1)."""
    if value is None or isinstance(value, str) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _segment_label(segment: SegmentProfile, width: int, max_lines: int = 3) -> str:
    return _shorten(f"{segment.segment_id} · {segment.name}", width, max_lines)


def _pct(share: float) -> str:
    percent = share * 100
    return f"{percent:.1f}%" if 0 < percent < 10 else f"{percent:.0f}%"


def _compact(count: float) -> str:
    count = int(round(count))
    if abs(count) < 10_000:
        return f"{count:,}"
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if abs(count) >= size * 0.9995:  # 999,999 reads "1M", not "1000k"
            value = count / size
            text = f"{value:.1f}" if abs(value) < 10 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return str(count)


def _text_colour_on(rgba: tuple[float, float, float, float]) -> str:
    red, green, blue = to_rgb(rgba)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return "white" if luminance < 0.5 else INK


def _message_axes(ax: Axes, message: str) -> None:
    ax.set_axis_off()
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center",
            fontsize=LABEL_SIZE, color=MUTED, wrap=True)


def _ranked_stats(segment: SegmentProfile, usable: Iterable[FeatureStat]) -> list[FeatureStat]:
    """Stats in the segment's distinguishing order, then the rest by |z|, largest first."""
    by_feature = {stat.feature: stat for stat in usable}
    ranked = [by_feature[f] for f in dict.fromkeys(segment.distinguishing) if f in by_feature]
    seen = {stat.feature for stat in ranked}
    rest = [stat for stat in by_feature.values() if stat.feature not in seen]
    rest.sort(key=lambda stat: -abs(_finite(stat.z) or 0.0))
    return ranked + rest


def render_elbow_chart(selection: KSelection) -> bytes:
    """Inertia and silhouette for each k tried, with the chosen k marked."""
    ks = [int(k) for k in selection.ks]
    if not ks:
        raise ValueError("no k values to chart: the k selection is empty")
    if len(selection.inertias) != len(ks):
        raise ValueError(f"{len(ks)} k values but {len(selection.inertias)} inertias")
    inertias = _floats(selection.inertias, len(ks))
    scores = _floats(selection.silhouettes, len(ks))
    fig = _new_figure(height=6.2)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    _plot_k_curve(top, ks, inertias, selection.chosen_k, "Inertia\n(lower = tighter)")
    _annotate_chosen(top, ks, inertias, selection.chosen_k)
    _plot_k_curve(bottom, ks, scores, selection.chosen_k, "Silhouette\n(higher = clearer)")
    if np.isnan(scores).all():
        bottom.text(0.5, 0.5, "Silhouette not computed", transform=bottom.transAxes,
                    ha="center", va="center", fontsize=BODY_SIZE, color=MUTED)
        bottom.set_yticks([])
    bottom.set_xlabel("Number of segments (k)", fontsize=LABEL_SIZE, color=INK)
    bottom.set_xticks(ks)
    who = "You" if selection.method == "override" else "We"
    _set_titles(fig, f"How many segments? {who} chose {selection.chosen_k}", selection.reason)
    return _to_png(fig)


def _floats(values: Sequence[float | None], length: int) -> np.ndarray:
    """``length`` floats, NaN where a value is missing, None or not finite."""
    padded = [*values[:length], *[None] * (length - len(values))]
    return np.array([np.nan if _finite(v) is None else _finite(v) for v in padded])


def _plot_k_curve(ax: Axes, ks: list[int], values: np.ndarray, chosen_k: int,
                  ylabel: str) -> None:
    _style_axes(ax, grid_axis="y")
    ax.plot(ks, values, color="#444444", linewidth=2.2, marker="o", markersize=6, zorder=2)
    ax.axvline(chosen_k, color=HIGHLIGHT, linestyle="--", linewidth=1.6, zorder=1)
    if chosen_k in ks and not np.isnan(values[ks.index(chosen_k)]):
        ax.plot([chosen_k], [values[ks.index(chosen_k)]], marker="o", markersize=13,
                color=HIGHLIGHT, markeredgecolor="white", markeredgewidth=2, zorder=3)
    ax.set_ylabel(ylabel, fontsize=LABEL_SIZE, color=INK)
    ax.yaxis.set_major_formatter(lambda value, _pos: _compact(value)
                                 if abs(value) >= 10 else f"{value:.2f}")
    ax.margins(x=0.06, y=0.15)


def _annotate_chosen(ax: Axes, ks: list[int], values: np.ndarray, chosen_k: int) -> None:
    if chosen_k not in ks or np.isnan(values[ks.index(chosen_k)]):
        return
    right_side = ks.index(chosen_k) < len(ks) * 0.6
    ax.annotate(f"chosen: k = {chosen_k}", xy=(chosen_k, values[ks.index(chosen_k)]),
                xytext=(28 if right_side else -28, 28), textcoords="offset points",
                ha="left" if right_side else "right", fontsize=LABEL_SIZE, weight="bold",
                color=HIGHLIGHT, arrowprops={"arrowstyle": "-", "color": HIGHLIGHT, "lw": 1.4})


def render_sizes_chart(segments: Sequence[SegmentProfile]) -> bytes:
    """Customers per segment as horizontal bars, labelled with count and share."""
    ordered = _require_segments(segments)
    fig = _new_figure(height=1.9 + 0.75 * len(ordered))
    ax = fig.subplots()
    _draw_size_bars(ax, ordered, label_width=24, with_counts=True)
    total = sum(s.size for s in ordered)
    noun = "segment" if len(ordered) == 1 else "segments"
    _set_titles(fig, "Customers per segment", f"{total:,} customers in {len(ordered)} {noun}")
    return _to_png(fig)


def _draw_size_bars(ax: Axes, ordered: list[SegmentProfile], label_width: int,
                    with_counts: bool) -> None:
    sizes = np.array([max(s.size, 0) for s in ordered], dtype=float)
    total = sizes.sum()
    y = np.arange(len(ordered))
    ax.barh(y, sizes, height=0.7, color=[segment_color(s.segment_id) for s in ordered])
    for row, size in enumerate(sizes):
        share = size / total if total else 0.0
        text = f"{int(size):,} · {_pct(share)}" if with_counts else _pct(share)
        ax.annotate(text, xy=(size, row), xytext=(5, 0), textcoords="offset points",
                    va="center", fontsize=BODY_SIZE, color=INK)
    ax.set_yticks(y, [_segment_label(s, label_width) for s in ordered])
    ax.set_ylim(len(ordered) - 0.5, -0.5)
    ax.set_xlim(0, max(sizes.max(), 1.0) * (1.45 if with_counts else 1.6))
    _style_axes(ax, grid_axis=None)
    ax.spines["bottom"].set_visible(False)
    ax.set_xticks([])
    ax.tick_params(axis="y", labelsize=BODY_SIZE, length=0)


def render_overview_chart(segments: Sequence[SegmentProfile], max_features: int = 8) -> bytes:
    """Segment sizes beside a heatmap of how each segment differs from the average customer."""
    ordered = _require_segments(segments)
    features, labels = _overview_features(ordered, max_features)
    n_rows, n_cols = len(ordered), max(len(features), 1)
    width = max(WIDTH, 3.6 + 0.78 * n_cols)
    fig = _new_figure(height=2.6 + 0.75 * n_rows, width=width)
    bars, heat = fig.subplots(1, 2, sharey=True, width_ratios=[1.7, 0.78 * n_cols])
    _draw_size_bars(bars, ordered, label_width=22, with_counts=False)
    bars.set_title("Share of customers", fontsize=BODY_SIZE, color=MUTED, loc="left")
    if features:
        _draw_index_heatmap(heat, ordered, features, labels)
    else:
        _message_axes(heat, "No feature statistics\nto compare")
    _set_titles(fig, "1 segment: its size and how it differs from the average customer"
                if n_rows == 1 else
                f"{n_rows} segments: their size and how each differs from the average customer")
    return _to_png(fig)


def _overview_features(ordered: list[SegmentProfile],
                       max_features: int) -> tuple[list[str], list[str]]:
    """Each segment's top features, taken in turn (rank 1 of all, then rank 2, ...)."""
    rankings = [[s.feature for s in _ranked_stats(seg, seg.stats) if _finite(s.index) is not None]
                for seg in ordered]
    features: list[str] = []
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and ranking[rank] not in features:
                features.append(ranking[rank])
    features = features[: max(max_features, 0)]
    labels = []
    for feature in features:
        stat = next(found for seg in ordered if (found := seg.stat(feature)) is not None)
        labels.append(stat.label or feature)
    return features, labels


def _draw_index_heatmap(ax: Axes, ordered: list[SegmentProfile], features: list[str],
                        labels: list[str]) -> None:
    values = np.array([[_index_of(seg, f) for f in features] for seg in ordered], dtype=float)
    finite = values[np.isfinite(values)]
    norm = TwoSlopeNorm(vcenter=100, vmin=min(50.0, finite.min()), vmax=max(200.0, finite.max()))
    cmap = _DIVERGING.with_extremes(bad=MISSING)
    _draw_cells(ax, np.ma.masked_invalid(values), cmap=cmap, norm=norm)
    for (row, col), value in np.ndenumerate(values):
        colour = _text_colour_on(cmap(norm(value))) if np.isfinite(value) else MUTED
        ax.text(col, row, f"{value:.0f}" if np.isfinite(value) else "–", ha="center",
                va="center", fontsize=BODY_SIZE, color=colour)
    ax.set_xticks(np.arange(len(features)), [_shorten(label, 13, 2) for label in labels],
                  rotation=40, ha="left", rotation_mode="anchor", fontsize=BODY_SIZE)
    ax.xaxis.tick_top()
    ax.tick_params(length=0, labelleft=False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("Index vs average customer: 100 = average, 200 = twice",
                  fontsize=BODY_SIZE, color=MUTED)


def _index_of(segment: SegmentProfile, feature: str) -> float:
    stat = segment.stat(feature)
    value = _finite(stat.index) if stat is not None else None
    return np.nan if value is None else value


def render_scatter_chart(projection: pd.DataFrame, segments: Sequence[SegmentProfile],
                         max_points: int = 5000) -> bytes:
    """Customers on the first two principal components, coloured by segment."""
    ordered = _require_segments(segments)
    missing = {"pc1", "pc2", "segment_id"} - set(projection.columns)
    if missing:
        raise ValueError(f"projection lacks column(s): {', '.join(sorted(missing))}")
    points = projection.dropna(subset=["pc1", "pc2", "segment_id"])
    if points.empty:
        raise ValueError("no customers to plot: the projection is empty")
    total = len(points)
    if total > max_points:
        points = points.sample(n=max_points, random_state=0)
    ids = points["segment_id"].astype("int64").to_numpy()
    legend = _legend_entries(ordered, set(ids.tolist()))
    rows = math.ceil(len(legend) / (1 if len(legend) <= 3 else 2))
    lines = max(label.count("\n") + 1 for _, label in legend)
    # the map keeps its size however tall the legend below it grows
    fig = _new_figure(height=5.4 + rows * (lines * 0.22 + 0.12))
    ax = fig.subplots()
    # one call in sample order, so no segment is painted over wholesale by the next one
    ax.scatter(points["pc1"], points["pc2"], c=[segment_color(i) for i in ids.tolist()],
               s=14 if len(points) <= 2000 else 7, alpha=0.55, linewidths=0)
    _label_segment_centres(ax, points, ids)
    _style_axes(ax, grid_axis=None)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("Main difference between customers (PC1)", fontsize=BODY_SIZE, color=INK)
    ax.set_ylabel("Second main difference (PC2)", fontsize=BODY_SIZE, color=INK)
    handles = [Line2D([], [], linestyle="", marker="o", markersize=10, color=segment_color(i),
                      label=label) for i, label in legend]
    fig.legend(handles=handles, loc="outside lower center", ncols=1 if rows == len(legend) else 2,
               fontsize=BODY_SIZE, frameon=False, handletextpad=0.3, columnspacing=1.2)
    shown = f"all {total:,} customers" if total <= max_points else \
        f"a sample of {len(points):,} of {total:,} customers"
    _set_titles(fig, "Customer map, coloured by segment",
                f"Each dot is a customer; similar customers sit close together. "
                f"Showing {shown}.")
    return _to_png(fig)


def _label_segment_centres(ax: Axes, points: pd.DataFrame, ids: np.ndarray) -> None:
    # the id in a circle at each segment's centre: readable without telling colours apart
    for segment_id in sorted(set(ids.tolist())):
        mine = points[ids == segment_id]
        ax.annotate(str(segment_id), xy=(mine["pc1"].median(), mine["pc2"].median()),
                    ha="center", va="center", fontsize=BODY_SIZE, weight="bold", color=INK,
                    bbox={"boxstyle": "circle,pad=0.3", "facecolor": "white",
                          "edgecolor": segment_color(segment_id), "linewidth": 2.5})


def _legend_entries(ordered: list[SegmentProfile], drawn: set[int]) -> list[tuple[int, str]]:
    """(segment id, label) for every segment listed or drawn; fewer lines when there are many."""
    lines = 3 if len(ordered) <= 6 else 2
    names = {s.segment_id: _segment_label(s, 27, lines) for s in ordered}
    return [(i, names.get(i, f"{i} · Segment {i}")) for i in sorted(set(names) | drawn)]


def render_profile_chart(segment: SegmentProfile, max_features: int = 10) -> bytes:
    """How one segment differs from the average customer, as index bars around 100."""
    stats = _ranked_stats(segment, (s for s in segment.stats if _finite(s.index) is not None))
    stats = stats[: max(max_features, 0)]
    fig = _new_figure(height=2.4 + 0.55 * max(len(stats), 2))
    ax = fig.subplots()
    if stats:
        _draw_profile_bars(ax, stats)
    else:
        _message_axes(ax, "No feature statistics to compare for this segment")
    _set_titles(fig, f"Segment {segment.segment_id} · {segment.name}",
                "How it differs from the average customer (100 = average)",
                colour=segment_color(segment.segment_id))
    return _to_png(fig)


def _draw_profile_bars(ax: Axes, stats: list[FeatureStat]) -> None:
    values = np.array([s.index for s in stats], dtype=float)  # the caller keeps finite ones
    shown = np.clip(values, *INDEX_RANGE)
    y = np.arange(len(stats))
    ax.barh(y, shown - 100, left=100, height=0.68,
            color=[ABOVE if v >= 100 else BELOW for v in values])
    _label_bar_ends(ax, y, values, shown, pivot=100, fontsize=BODY_SIZE, weight="bold")
    span = max(shown.max(), 100) - min(shown.min(), 100) or 50
    ax.set_xlim(min(shown.min(), 100) - 0.22 * span, max(shown.max(), 100) + 0.2 * span)
    _draw_average_line(ax, len(stats))
    ax.set_yticks(y, [_shorten(s.label or s.feature, 22, 2) for s in stats])
    _style_axes(ax, grid_axis="x")
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Index vs average customer", fontsize=BODY_SIZE, color=INK)


def _label_bar_ends(ax: Axes, ys: np.ndarray, values: np.ndarray, shown: np.ndarray,
                    pivot: float, **style: Any) -> None:
    """The true value at the end of each bar; › marks a bar cut short at the cap."""
    for y, value, end in zip(ys, values, shown, strict=True):
        number = f"{value:,.0f}".replace("-", "\u2212")  # the minus sign the ticks use
        right = end >= pivot
        cut = ("›" if right else "‹") if value != end else ""
        ax.annotate(f"{number} {cut}".strip() if right else f"{cut} {number}".strip(),
                    xy=(end, y), xytext=(5 if right else -5, 0), textcoords="offset points",
                    ha="left" if right else "right", va="center", color=INK, **style)


def _draw_average_line(ax: Axes, rows: int) -> None:
    ax.axvline(100, color=INK, linewidth=1.5, zorder=3)
    ax.set_ylim(rows - 0.5, -1.15)
    ax.text(100, -0.75, "average customer", ha="center", va="center", fontsize=BODY_SIZE,
            color=INK, bbox={"boxstyle": "round,pad=0.25", "facecolor": "white",
                             "edgecolor": "none"}, zorder=4)


def render_customer_chart(customer_id: str, attributes: Mapping[str, Any],
                          segment: SegmentProfile, max_features: int = 8) -> bytes:
    """One customer beside their segment's average, both as an index vs the population."""
    rows = _customer_rows(attributes, segment)[: max(max_features, 0)]
    fig = _new_figure(height=2.9 + 0.75 * max(len(rows), 2))
    ax = fig.subplots()
    customer_colour = "#999999" if segment_color(segment.segment_id) == "#000000" else "#3A3A3A"
    if rows:
        _draw_customer_bars(ax, rows, customer_colour, segment_color(segment.segment_id))
        handles = [Rectangle((0, 0), 1, 1, color=customer_colour,
                             label=f"Customer {_shorten(customer_id, 24)}"),
                   Rectangle((0, 0), 1, 1, color=segment_color(segment.segment_id),
                             label=f"Segment {segment.segment_id} average")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False,
                   fontsize=BODY_SIZE)
    else:
        _message_axes(ax, "No numeric attributes of this customer to compare")
    _set_titles(fig, f"Customer {_shorten(customer_id, 24)} vs segment {segment.segment_id}"
                    f" · {segment.name}", "Index vs the average customer (100 = average)",
                colour=segment_color(segment.segment_id))
    return _to_png(fig)


def _customer_rows(attributes: Mapping[str, Any],
                   segment: SegmentProfile) -> list[tuple[str, float, float]]:
    """(label, customer index, segment index) for comparable numeric features."""
    rows = []
    for stat in _ranked_stats(segment, segment.stats):
        population = _finite(stat.population_mean)
        segment_index = _finite(stat.index)
        value = _finite(attributes.get(stat.feature))
        if population and segment_index is not None and value is not None:
            rows.append((stat.label or stat.feature, value / population * 100, segment_index))
    return rows


def _draw_customer_bars(ax: Axes, rows: list[tuple[str, float, float]], customer_colour: str,
                        segment_colour: str) -> None:
    y = np.arange(len(rows))
    height = 0.38
    for offset, column, colour in ((-height / 2, 1, customer_colour),
                                   (height / 2, 2, segment_colour)):
        values = np.array([row[column] for row in rows])
        shown = np.clip(values, *INDEX_RANGE)
        ax.barh(y + offset, shown, height=height, color=colour)
        _label_bar_ends(ax, y + offset, values, shown, pivot=0, fontsize=BODY_SIZE - 1)
    ends = np.clip([v for row in rows for v in row[1:]] + [0.0, 100.0], *INDEX_RANGE)
    span = ends.max() - ends.min()
    ax.set_xlim(ends.min() - (0.2 * span if ends.min() < 0 else 0), ends.max() + 0.18 * span)
    _draw_average_line(ax, len(rows))
    ax.set_yticks(y, [_shorten(label, 22, 2) for label, _, _ in rows])
    _style_axes(ax, grid_axis="x")
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Index vs average customer", fontsize=BODY_SIZE, color=INK)


def render_migration_chart(matrix: pd.DataFrame,
                           title: str = "Where customers moved since the last run") -> bytes:
    """Counts of customers from each previous segment (rows) to each current one (columns)."""
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise ValueError("no migration to chart: the matrix has no rows or columns")
    counts = matrix.apply(pd.to_numeric, errors="coerce").fillna(0).clip(lower=0)
    counts = counts.to_numpy(dtype=float)
    rows = [str(label) for label in matrix.index]
    cols = [str(label) for label in matrix.columns]
    n_rows, n_cols = counts.shape
    fig = _new_figure(height=2.9 + 0.55 * n_rows, width=max(WIDTH, 2.9 + 0.62 * n_cols))
    ax = fig.subplots()
    norm = PowerNorm(gamma=0.5, vmin=0, vmax=max(counts.max(), 1.0))
    _draw_cells(ax, counts, cmap=_SEQUENTIAL, norm=norm)
    _annotate_counts(ax, counts, norm)
    for row, label in enumerate(rows):
        if label in cols:  # customers who stayed: outline the cell
            ax.add_patch(Rectangle((cols.index(label) - 0.5, row - 0.5), 1, 1, fill=False,
                                   edgecolor=INK, linewidth=1.6))
    tilt = 40 if max(len(c) for c in cols) > 5 else 0
    ax.set_xticks(np.arange(n_cols), [_shorten(c, 12, 2) for c in cols], rotation=tilt,
                  ha="right" if tilt else "center", rotation_mode="anchor", fontsize=BODY_SIZE)
    ax.set_yticks(np.arange(n_rows), [_shorten(r, 20, 2) for r in rows], fontsize=BODY_SIZE)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel("Segment now", fontsize=LABEL_SIZE, color=INK)
    ax.set_ylabel("Segment in the last run", fontsize=LABEL_SIZE, color=INK)
    _set_titles(fig, title, _migration_summary(counts, rows, cols))
    return _to_png(fig)


def _draw_cells(ax: Axes, values: np.ndarray, cmap: Any, norm: Normalize) -> None:
    """A heatmap with row 0 at the top, one cell per value, as imshow(aspect="auto") draws it.

    A mesh of a few dozen cells is drawn as vectors; imshow resamples the values to every
    pixel of the axes on each of savefig's two draws, a third of the chart's time.
    """
    n_rows, n_cols = values.shape
    ax.pcolormesh(np.arange(n_cols + 1) - 0.5, np.arange(n_rows + 1) - 0.5, values, cmap=cmap,
                  norm=norm)
    ax.set_xlim(-0.5, n_cols - 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)


def _annotate_counts(ax: Axes, counts: np.ndarray, norm: Normalize) -> None:
    for (row, col), count in np.ndenumerate(counts):
        colour = _text_colour_on(_SEQUENTIAL(norm(count))) if count else "#9A9A9A"
        ax.text(col, row, _compact(count), ha="center", va="center", fontsize=BODY_SIZE,
                color=colour)


def _migration_summary(counts: np.ndarray, rows: list[str], cols: list[str]) -> str:
    total = counts.sum()
    if not total:
        return "No customers in either run"
    stayed = sum(counts[r, cols.index(label)] for r, label in enumerate(rows) if label in cols)
    return f"{int(total):,} customers · {_pct(stayed / total)} stayed in their segment (outlined)"


def render_audience_chart(title: str,
                          features: Sequence[tuple[str, float | None, float | None]],
                          segments: Sequence[tuple[int, str, int, int]]) -> bytes:
    """A filtered audience: how many of each segment match (bars in segment colours), and
    how the matching customers compare with everyone (index bars, 100 = average), beside
    their segment's index when there is one segment.

    ``features``: (label, matching index, segment index or None); ``segments``: (segment
    id, name, matching customers, segment size).
    """
    rows = [(label, m, s) for label, m, s in features if _finite(m) is not None]
    panels = (1 if segments else 0) + (1 if rows else 0)
    fig = _new_figure(height=2.0 + 0.5 * (len(segments) + 1.6 * len(rows)) + 0.6 * panels)
    heights = [n + 1.0 for n in (len(segments), 1.6 * len(rows)) if n] or [1.0]
    axes = list(np.atleast_1d(fig.subplots(len(heights), 1,
                                           gridspec_kw={"height_ratios": heights})))
    if segments:
        _draw_matching_bars(axes.pop(0), segments)
    if rows:
        _draw_index_pairs(axes.pop(0), rows)
    if not panels:
        _message_axes(axes[0], "No customer matches")
    total = sum(count for _, _, count, _ in segments)
    _set_titles(fig, title, f"{total:,} matching customers")
    return _to_png(fig)


def _draw_matching_bars(ax: Axes, segments: Sequence[tuple[int, str, int, int]]) -> None:
    y = np.arange(len(segments))
    shares = np.array([count / size if size else 0.0 for _, _, count, size in segments])
    ax.barh(y, shares * 100, height=0.68, color=[segment_color(s[0]) for s in segments])
    for row, (_, _, count, _), share in zip(y, segments, shares, strict=True):
        ax.annotate(f"{_compact(count)} ({_pct(share)})", xy=(share * 100, row),
                    xytext=(5, 0), textcoords="offset points", va="center",
                    fontsize=BODY_SIZE, color=INK)
    ax.set_xlim(0, max(shares.max() * 100 * 1.35, 1))
    ax.set_ylim(len(segments) - 0.5, -0.5)
    ax.set_yticks(y, [_shorten(f"{sid} · {name}", 22, 2) for sid, name, _, _ in segments])
    ax.set_xlabel("% of the segment matching", fontsize=BODY_SIZE, color=INK)
    _style_axes(ax, grid_axis="x")


def _draw_index_pairs(ax: Axes, rows: Sequence[tuple[str, float | None, float | None]]) -> None:
    y = np.arange(len(rows))
    matching = np.clip(np.array([m for _, m, _ in rows], dtype=float), *INDEX_RANGE)
    segment = [_finite(s) for _, _, s in rows]
    height = 0.38 if any(s is not None for s in segment) else 0.68
    ax.barh(y - (height / 2 if height < 0.5 else 0), matching - 100, left=100, height=height,
            color=HIGHLIGHT, label="matching customers")
    if height < 0.5:
        values = np.clip(np.array([s if s is not None else 100.0 for s in segment]),
                         *INDEX_RANGE)
        ax.barh(y + height / 2, values - 100, left=100, height=height, color=MUTED,
                label="their segment")
        ax.legend(loc="lower right", fontsize=BODY_SIZE - 2, frameon=False)
    ax.axvline(100, color=INK, linewidth=1.5, zorder=3)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(y, [_shorten(label, 22, 2) for label, _, _ in rows])
    ax.set_xlabel("Index vs all customers (100 = average)", fontsize=BODY_SIZE, color=INK)
    _style_axes(ax, grid_axis="x")
