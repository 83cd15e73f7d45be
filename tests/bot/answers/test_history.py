"""`/segments history` and `/cluster N history` over three weekly runs: run 1 has segments 1-3,
run 2 retires 3 and starts 4, run 3 continues 1, 2 and 4. Pruning the oldest run changes
nothing the history says."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import Answer, ButtonAction, Chart, ChartKind, answer, parse_request
from segmentation.trend_lines import TrendPanel
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC, three_runs
from tests.storage.conftest import make_result, publish


def ask(store: Store, command: str, text: str) -> Answer:
    return answer(store, parse_request(command, text))


def said(reply: Answer) -> str:
    return "\n".join([reply.title, *(s.text for s in reply.sections)])


def panels(reply: Answer) -> tuple[TrendPanel, ...]:
    [chart] = reply.charts
    assert isinstance(chart.render, Chart) and chart.render.kind is ChartKind.HISTORY
    return chart.render.args[3]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return three_runs(tmp_path / "segbot.db")


def test_segments_history_gives_each_segment_then_and_now(store: Store) -> None:
    reply = ask(store, "/segments", "history")

    text = said(reply)
    first, last = store.list_segments(1), store.list_segments(3)
    assert "*3 refreshes* from run 1 (2026-03-02) to run 3 (2026-03-16)" in text
    one_then, one_now = first[0], last[0]
    assert (f"*1 · {one_now.name}* — {one_then.share:.0%} ({one_then.size:,}) → "
            f"{one_now.share:.0%} ({one_now.size:,})") in text
    assert "*4 · Bargain hunters*" not in text  # run 3 named it again
    assert f"*4 · {last[2].name}* — " in text
    assert "· *new* in run 2 (2026-03-09)" in text
    assert "*Retired segments*\n• *3 · A segment 3* — retired in run 2 (2026-03-09); last " \
           f"{first[2].share:.0%} ({first[2].size:,}) in run 1" in text
    assert "Yearly income" in text
    assert reply.in_channel and not reply.is_error


def test_every_current_segment_has_a_history_button(store: Store) -> None:
    reply = ask(store, "/segments", "history")

    buttons = [s.button for s in reply.sections if s.button is not None]
    assert [(b.action, b.value) for b in buttons] == [(ButtonAction.HISTORY, str(i))
                                                     for i in (1, 2, 4)]


def test_the_chart_has_a_point_per_run_and_gaps_where_a_segment_was_not(store: Store) -> None:
    reply = ask(store, "/segments", "history")

    shares, income = panels(reply)
    sizes = {s.segment_id: [seg.share for run in (1, 2, 3)
                            for seg in store.list_segments(run) if seg.segment_id == s.segment_id]
             for s in store.list_segments(1) + store.list_segments(3)}
    values = {line.segment_id: line.values for line in shares.lines}
    assert values[1] == tuple(sizes[1]) and values[3] == (sizes[3][0], None, None)
    assert values[4] == (None, *sizes[4])
    assert shares.share and income.feature == "Income" and income.everyone == (50_000.0,) * 3
    [chart] = reply.charts
    assert chart.render().startswith(PNG_MAGIC)


def test_pruned_runs_stay_in_the_history(store: Store) -> None:
    before = ask(store, "/segments", "history")

    store.prune_runs(keep=2)

    after = ask(store, "/segments", "history")
    assert [run.id for run in store.list_runs()] == [3, 2]
    assert said(after) == said(before) and panels(after) == panels(before)
    assert "retired in run 2" in said(after)


def test_cluster_history_lists_each_run_newest_first(store: Store) -> None:
    reply = ask(store, "/cluster", "4 history")

    text = said(reply)
    segment = store.get_segment(4)
    assert reply.title == f"Segment 4 · {segment.name} over time"
    assert "in 2 of the 3 refreshes shown; *new* in run 2 (2026-03-09). Now " in text
    lines = [line for line in text.splitlines() if line.startswith("• run ")]
    assert [line.split(" · ")[0] for line in lines] == ["• run 3", "• run 2"]
    assert lines[0].startswith(f"• run 3 · 2026-03-16 (data as of 2026-03-01): "
                               f"{segment.share:.0%} ({segment.size:,}) · Yearly income ")
    button = reply.sections[0].button
    assert button is not None and (button.action, button.value) == (ButtonAction.PROFILE, "4")
    [share, income] = panels(reply)
    assert [line.segment_id for line in share.lines] == [4] and income.everyone


def test_a_retired_segment_still_has_its_history(store: Store) -> None:
    store.prune_runs(keep=2)  # its only run is gone; its summary is not

    reply = ask(store, "/cluster", "3 history")

    assert "*retired* in run 2 (2026-03-09): its customers now belong to other segments" \
        in said(reply)
    assert reply.sections[0].button is None  # no profile: it is not in the current run
    assert not reply.is_error


def test_an_unknown_segment_names_the_segments_history_knows(store: Store) -> None:
    reply = ask(store, "/cluster", "9 history")

    assert reply.is_error
    assert "segment 9 is in none of the last 3 refreshes; segments in them: 1-4" in said(reply)


def test_one_run_is_a_history_of_one_point(tmp_path: Path) -> None:
    store = Store(tmp_path / "one.db")
    publish(store, make_result())

    reply = ask(store, "/segments", "history")

    assert "*1 refresh* so far: run 1, 2026-03-02. The history grows" in said(reply)
    assert reply.charts[0].render().startswith(PNG_MAGIC)


def test_history_before_any_run_says_there_are_no_segments_yet(tmp_path: Path) -> None:
    for command, text in (("/segments", "history"), ("/cluster", "1 history")):
        reply = ask(Store(tmp_path / "empty.db"), command, text)
        assert reply.is_error and "No segments yet" in said(reply)
