"""`/segments compare A B` on a refresh of the real reference table: both segments' sizes, the
features where they differ most with both means and everyone's, their actions, and a chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers import Answer, ButtonAction, Chart, ChartKind, answer, parse_request
from bot.answers.compare import differing_features
from segmentation.naming import format_value
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC


def ask(store: Store, text: str) -> Answer:
    return answer(store, parse_request("/segments", text))


def said(reply: Answer) -> str:
    return "\n".join([reply.title, *(s.text for s in reply.sections),
                      *(f for s in reply.sections for f in s.fields)])


@pytest.fixture
def store(db_path: Path) -> Store:
    return Store(db_path)


def test_compare_sets_both_segments_side_by_side(store: Store) -> None:
    first, second = store.get_segment(1), store.get_segment(3)

    reply = ask(store, "compare 1 3")

    text = said(reply)
    assert reply.title == "Segment 1 vs segment 3" and reply.in_channel and not reply.is_error
    for segment in (first, second):
        assert (f"*{segment.segment_id} · {segment.name}* — {segment.share:.0%} of customers "
                f"({segment.size:,})") in text
        assert segment.action in text
    [differences] = [s for s in reply.sections if s.text.startswith("*Where they differ")]
    top, top_other = differing_features(first, second)[0]
    assert differences.fields[0] == (
        f"*{top.label}*\n{format_value(top.feature, top.mean)} (1) vs "
        f"{format_value(top.feature, top_other.mean)} (3) · "
        f"{format_value(top.feature, top.population_mean)} all")
    assert len(differences.fields) == 6


def test_the_features_that_differ_most_come_first(store: Store) -> None:
    first, second = store.get_segment(1), store.get_segment(2)

    gaps = [abs(a.z - b.z) for a, b in differing_features(first, second)]

    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 1
    assert {a.feature for a, _ in differing_features(first, second)} <= \
        {s.feature for s in first.stats}


def test_each_segment_has_a_profile_button(store: Store) -> None:
    reply = ask(store, "compare 2 1")

    buttons = [s.button for s in reply.sections if s.button is not None]
    assert [(b.action, b.value) for b in buttons] == [(ButtonAction.PROFILE, "2"),
                                                     (ButtonAction.PROFILE, "1")]


def test_the_chart_draws_both_profiles(store: Store) -> None:
    [chart] = ask(store, "compare 1 2").charts

    assert chart.filename == "compare-1-2-run1.png"
    assert isinstance(chart.render, Chart) and chart.render.kind is ChartKind.COMPARE
    assert chart.render().startswith(PNG_MAGIC)


@pytest.mark.parametrize("text", ["compare 1 99", "compare 99 1"])
def test_an_unknown_segment_says_which_exist(store: Store, text: str) -> None:
    reply = ask(store, text)

    ids = [s.segment_id for s in store.list_segments()]
    assert reply.is_error
    assert f"no segment 99 in run 1; segments are {min(ids)}-{max(ids)}" in said(reply)


def test_compare_before_any_run_says_there_are_no_segments_yet(tmp_path: Path) -> None:
    reply = ask(Store(tmp_path / "empty.db"), "compare 1 2")

    assert reply.is_error and "No segments yet" in said(reply)
