"""What an answer is made of: sections of text, buttons, charts and files.

Answers hold text and lazily rendered charts: a Slack listener acknowledges first and only
then renders and uploads, so a slow chart never delays the 3-second ack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, assert_never


class ButtonAction(StrEnum):
    """What a button under an answer does; the value is the `action_id` Slack sends back."""

    PROFILE = "segment_profile"  # "Profile" under each segment of the overview
    EXPORT = "segment_export"  # "Export CSV" under a segment
    COMPARE = "segments_compare"  # the Home's "Compare with…" menu: the value is "A B"
    HISTORY = "segment_history"  # "History" of a segment over the stored runs
    SEGMENTS_HISTORY = "segments_history"  # the Home's "History of all segments"


@dataclass(frozen=True)
class Button:
    label: str
    action: ButtonAction
    value: str


@dataclass(frozen=True)
class Menu:
    """A menu whose choice acts as a button would: `options` are (label, value) pairs."""

    placeholder: str
    action: ButtonAction
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Section:
    """A paragraph of Slack mrkdwn (*bold*, `code`), optional short fields and a button."""

    text: str
    fields: tuple[str, ...] = ()
    button: Button | None = None


@dataclass(frozen=True)
class Attachment:
    """A file to show with the answer; `render` is called only when it is needed.

    Charts render through a `Chart`, which another process can draw; files (CSV exports)
    through a closure over the store, always in the bot's own process.
    """

    filename: str
    title: str
    render: Callable[[], bytes]


@dataclass(frozen=True)
class Answer:
    title: str
    sections: tuple[Section, ...] = ()
    context: str = ""
    charts: tuple[Attachment, ...] = ()
    files: tuple[Attachment, ...] = ()
    in_channel: bool = False  # customer-level answers are always private
    is_error: bool = False


class ChartKind(Enum):
    """The charts segbot draws, one `segmentation.charts` (or `.comparison_charts`,
    `.forecast_charts`) function each."""

    OVERVIEW = "overview"
    PROFILE = "profile"
    CUSTOMER = "customer"
    MIGRATION = "migration"
    SIZES = "sizes"
    ELBOW = "elbow"
    SCATTER = "scatter"
    AUDIENCE = "audience"
    COMPARE = "compare"
    HISTORY = "history"
    FORECAST = "forecast"
    TRACKING = "tracking"


@dataclass(frozen=True, eq=False)
class Chart:
    """A chart to draw: its kind and the arguments of its drawing function.

    Plain data rather than a closure, so that it pickles: `bot.jobs.chart_processes` draws it
    in a worker process.
    """

    kind: ChartKind
    args: tuple[Any, ...]

    def __call__(self) -> bytes:
        return chart_function(self.kind)(*self.args)


def chart_function(kind: ChartKind) -> Callable[..., bytes]:
    """The function that draws `kind`.

    segmentation.charts is imported on the first chart: matplotlib costs ~0.6 s of start-up
    that text-only answers (and `segbot customer` in a terminal) never need.
    """
    from segmentation import charts, comparison_charts, forecast_charts

    match kind:
        case ChartKind.OVERVIEW:
            return charts.render_overview_chart
        case ChartKind.PROFILE:
            return charts.render_profile_chart
        case ChartKind.CUSTOMER:
            return charts.render_customer_chart
        case ChartKind.MIGRATION:
            return charts.render_migration_chart
        case ChartKind.SIZES:
            return charts.render_sizes_chart
        case ChartKind.ELBOW:
            return charts.render_elbow_chart
        case ChartKind.SCATTER:
            return charts.render_scatter_chart
        case ChartKind.AUDIENCE:
            return charts.render_audience_chart
        case ChartKind.COMPARE:
            return comparison_charts.render_compare_chart
        case ChartKind.HISTORY:
            return comparison_charts.render_history_chart
        case ChartKind.FORECAST:
            return forecast_charts.render_forecast_chart
        case ChartKind.TRACKING:
            return forecast_charts.render_tracking_chart
        case _:
            assert_never(kind)
