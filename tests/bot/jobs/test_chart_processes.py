"""Charts drawn in worker processes: the same PNGs, files kept at home, and crashes contained."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pandas as pd
import pytest

from bot.answers.parts import Attachment, Chart, ChartKind, chart_function
from bot.answers.rendering import render, render_all
from bot.jobs.chart_processes import ChartProcessError, ChartProcesses

MOVES = pd.DataFrame([[40, 3], [5, 52]], index=["1", "2"], columns=["1", "2"])


class KillsItsProcess:
    """An argument whose unpickling ends the worker process, as the OOM killer would."""

    def __reduce__(self) -> tuple:
        return os._exit, (9,)


def chart(args: tuple = (MOVES,), name: str = "moves.png") -> Attachment:
    return Attachment(name, "Where customers moved", Chart(ChartKind.MIGRATION, args))


@pytest.fixture(scope="module")
def processes() -> Iterator[ChartProcesses]:
    charts = ChartProcesses(2)
    charts.start()
    yield charts
    charts.close()


def test_a_chart_drawn_in_a_worker_is_the_same_png(processes: ChartProcesses) -> None:
    assert processes(chart()) == render(chart())


def test_files_are_written_in_the_calling_process(processes: ChartProcesses) -> None:
    here = os.getpid()
    # a closure cannot be pickled, so this only works if it runs here
    csv = Attachment("movers.csv", "Movers", lambda: f"pid,{os.getpid()}".encode())

    assert processes(csv) == f"pid,{here}".encode()


def test_render_all_keeps_the_order_of_the_attachments(processes: ChartProcesses) -> None:
    other = MOVES.iloc[::-1, ::-1]
    attachments = [chart(), Attachment("a.csv", "A", lambda: b"a,b"), chart((other,))]

    assert render_all(processes, attachments) == [render(chart()), b"a,b",
                                                  render(chart((other,)))]
    assert render_all(render, attachments) == render_all(processes, attachments)


def test_a_charts_own_error_reaches_the_caller_as_itself(processes: ChartProcesses) -> None:
    with pytest.raises(ValueError, match="no migration to chart"):
        processes(chart((pd.DataFrame(),)))


def test_a_worker_that_dies_fails_its_chart_and_the_next_one_is_drawn() -> None:
    charts = ChartProcesses(1)
    try:
        with pytest.raises(ChartProcessError, match="dying.png .*stopped before it finished"):
            charts(chart((KillsItsProcess(),), name="dying.png"))
        assert charts(chart()) == render(chart())
    finally:
        charts.close()


def test_every_kind_of_chart_has_its_own_drawing_function_and_a_pool_needs_a_worker() -> None:
    assert {kind: chart_function(kind).__name__ for kind in ChartKind} == {
        kind: f"render_{kind.value}_chart" for kind in ChartKind}
    with pytest.raises(ValueError, match="at least 1"):
        ChartProcesses(0)
