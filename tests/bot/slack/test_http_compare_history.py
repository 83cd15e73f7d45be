"""End to end over real HTTP: `/segments compare A B`, signed as Slack sends it, answered in
the channel with a Profile button per segment and the chart uploaded."""

from __future__ import annotations

import pytest

from tests.bot.conftest import MARKETING, PNG_MAGIC, BotFactory, RunningBot
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
