"""End to end over real HTTP: `/segments compare A B` and `/segments history`, signed as Slack
sends them, answered in the channel with their buttons and the chart uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bot.conftest import MARKETING, PNG_MAGIC, BotFactory, RunningBot, three_runs
from tests.bot.slack.test_http import requested_names, text_of, uploads

pytestmark = pytest.mark.timeout(60)


def test_compare_answers_in_channel_with_both_profiles_and_a_chart(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    first, second = bot.store.get_segment(2), bot.store.get_segment(1)

    reply = bot.command("/segments", "compare 2 1")

    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "in_channel"
    assert message["blocks"][0]["text"]["text"] == "Segment 2 vs segment 1"
    assert first.action in text_of(message) and second.action in text_of(message)
    buttons = [b["accessory"] for b in message["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("segment_profile", "2"),
                                                              ("segment_profile", "1")]
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    assert upload["channel"] == MARKETING and upload["bytes"].startswith(PNG_MAGIC)
    assert requested_names(bot.slack) == ["compare-2-1-run1.png"]


@pytest.mark.parametrize("text, expected", [
    ("compare 1 99", "no segment 99 in run 1; segments are 1-"),
    ("compare 2 2", "compared with itself"),
    ("compare 1", "Usage: `/segments compare A B`"),
])
def test_a_compare_that_cannot_be_answered_is_explained_privately(
        shared_bot: RunningBot, text: str, expected: str) -> None:
    [message] = shared_bot.answers(shared_bot.command("/segments", text))

    assert message["response_type"] == "ephemeral" and expected in text_of(message)


def test_history_of_a_pruned_store_answers_with_its_chart_and_buttons(
        serve_bot: BotFactory, tmp_path: Path) -> None:
    db = tmp_path / "weeks.db"
    three_runs(db).prune_runs(keep=2)  # run 1's customers are gone; its summary is not
    bot = serve_bot(db=db)

    reply = bot.command("/segments", "history")

    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "in_channel"
    said = text_of(message)
    assert "*3 refreshes* from run 1 (2026-03-02) to run 3" in said
    assert "retired in run 2" in said
    buttons = [b["accessory"] for b in message["blocks"] if "accessory" in b]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("segment_history", "1"), ("segment_history", "2"), ("segment_history", "4")]
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert uploads(bot.slack)[0]["bytes"].startswith(PNG_MAGIC)
    assert requested_names(bot.slack) == ["history-run3.png"]


def test_the_history_button_answers_like_cluster_n_history(serve_bot: BotFactory,
                                                           tmp_path: Path) -> None:
    db = tmp_path / "weeks.db"
    three_runs(db)
    bot = serve_bot(db=db)

    click = bot.click("segment_history", "4")

    assert click.status == 200 and click.seconds < 3
    [message] = bot.answers(click)
    assert message["blocks"][0]["text"]["text"].startswith("Segment 4 · ")
    assert "*new* in run 2" in text_of(message) and message["replace_original"] is False
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert requested_names(bot.slack) == ["history-segment-4-run3.png"]
