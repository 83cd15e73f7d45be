"""The Home tab end to end: who sees which buttons, clicks on it, the view's limits, and the
Home published again to everyone after a run, with failures reported, never raised."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.answers.home import HomePage, HomeSegment, home_page
from bot.answers.parts import Button, ButtonAction, Menu
from bot.settings import load_settings
from bot.slack.home import home_view, refresh_homes
from bot.slack.replies import build_web_client
from storage.store import Store
from tests.bot.conftest import ALICE, BOB, PNG_MAGIC, BotFactory, copy_store, home_opened
from tests.bot.fake_slack import Call, FakeSlack, home_view_problems
from tests.bot.slack.test_http import text_of
from tests.storage.conftest import T0

pytestmark = pytest.mark.timeout(60)

CAROL = "U0CAROL"
# what every Home with segments offers: Profile, History, Compare with…, History of all segments
EVERYONES = {"segment_profile", "segment_history", "segments_compare", "segments_history"}


def opened_home(bot, user: str = ALICE, *, count: int = 1) -> dict:
    """Open the Home as `user` and return the view Slack accepted for them."""
    status, _, _ = bot.event(home_opened(user))
    assert status == 200
    bot.slack.wait_for(lambda: len(bot.slack.homes(user)) >= count)
    return bot.slack.homes(user)[-1]


def blocks_of(post: Call) -> list[dict]:
    """The blocks of a chat.postMessage, however slack-sdk encoded them."""
    blocks = post.params["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def actions_of(view: dict) -> set[str]:
    return {e["action_id"] for b in view["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


def test_the_messages_tab_publishes_no_home_and_is_not_remembered(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    status, _, _ = bot.event(home_opened(ALICE, tab="messages"))
    opened_home(bot, BOB)  # a Home opened after it is published: the first was handled

    assert status == 200
    assert bot.slack.homes(ALICE) == []
    assert [viewer.user_id for viewer in bot.store.home_viewers()] == [BOB]


def test_before_any_run_the_home_says_so_and_how_to_get_one(
        serve_bot: BotFactory, tmp_path: Path) -> None:
    bot = serve_bot(db=tmp_path / "empty.db")
    view = opened_home(bot)

    assert "No segments yet" in text_of(view)
    assert "segbot refresh --data" in text_of(view)
    assert actions_of(view) == set()


def test_export_buttons_only_for_people_allowed_to_see_customers(
        serve_bot: BotFactory) -> None:
    bot = serve_bot(SEGBOT_ALLOWED_USERS=BOB)

    alice, bob = opened_home(bot, ALICE), opened_home(bot, BOB)

    assert actions_of(alice) == EVERYONES
    assert actions_of(bob) == EVERYONES | {"segment_export"}


def test_approved_channels_keep_exports_off_the_home(serve_bot: BotFactory) -> None:
    # With SEGBOT_ALLOWED_CHANNELS set, exports are asked for only there: not in the DM the
    # Home belongs to, so no Export button is shown there either.
    bot = serve_bot(SEGBOT_ALLOWED_CHANNELS="C0MARKET")

    assert actions_of(opened_home(bot)) == EVERYONES


def test_a_profile_click_on_the_home_is_answered_in_the_clickers_dm(
        serve_bot: BotFactory) -> None:
    bot = serve_bot(renderer=lambda attachment: PNG_MAGIC)  # the chart is not the point
    segment = bot.store.get_segment(2)
    bot.home_click("segment_profile", "2")

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "chat.postMessage")
                       and bot.slack.delivered("api", "files.completeUploadExternal"))
    [opened] = bot.slack.named("api", "conversations.open")
    [post] = bot.slack.delivered("api", "chat.postMessage")
    dm = post.params["channel"]
    assert opened.params["users"] == ALICE and dm.startswith("D")
    assert blocks_of(post)[0]["text"]["text"] == f"Segment 2 · {segment.name}"
    [shared] = bot.slack.delivered("api", "files.completeUploadExternal")
    assert shared.params["channel_id"] == dm
    assert [u.body for u in bot.slack.named("upload")] == [PNG_MAGIC]


def test_choosing_a_segment_to_compare_with_answers_the_comparison_in_the_dm(
        serve_bot: BotFactory) -> None:
    bot = serve_bot(renderer=lambda attachment: PNG_MAGIC)
    bot.home_click("segments_compare", "2 1", menu=True)

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "chat.postMessage")
                       and bot.slack.delivered("api", "files.completeUploadExternal"))
    [post] = bot.slack.delivered("api", "chat.postMessage")
    assert post.params["channel"].startswith("D")
    assert blocks_of(post)[0]["text"]["text"] == "Segment 2 vs segment 1"
    [shared] = bot.slack.delivered("api", "files.completeUploadExternal")
    assert shared.params["channel_id"] == post.params["channel"]
    assert [c.params["filename"] for c in bot.slack.named(
        "api", "files.getUploadURLExternal")] == ["compare-2-1-run1.png"]


def test_a_home_click_that_fails_unexpectedly_is_told_in_the_dm(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.slack.fail("conversations.open", "fatal_error")  # the DM cannot be found
    bot.home_click("segment_profile", "1")

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "chat.postMessage"))
    [post] = bot.slack.delivered("api", "chat.postMessage")
    assert post.params["channel"] == ALICE  # a user ID: Slack posts in their DM with segbot
    assert "something went wrong" in post.params["text"]


@pytest.mark.parametrize("action, value, title", [
    ("segment_history", "2", "Segment 2 · {name} over time"),
    ("segments_history", "all", "Segment history"),
])
def test_history_clicks_on_the_home_answer_the_history_in_the_dm(
        serve_bot: BotFactory, action: str, value: str, title: str) -> None:
    bot = serve_bot(renderer=lambda attachment: PNG_MAGIC)
    bot.home_click(action, value)

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "chat.postMessage")
                       and bot.slack.delivered("api", "files.completeUploadExternal"))
    [post] = bot.slack.delivered("api", "chat.postMessage")
    assert post.params["channel"].startswith("D")
    name = bot.store.get_segment(2).name
    assert blocks_of(post)[0]["text"]["text"] == title.format(name=name)


def test_an_export_click_from_a_stale_home_is_checked_again_and_audited(
        serve_bot: BotFactory) -> None:
    bot = serve_bot(SEGBOT_ALLOWED_USERS=BOB)  # Alice's Home was published before this
    bot.home_click("segment_export", "1", user=ALICE)

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "chat.postMessage"))
    bot.slack.settle(quiet=0.2)
    [post] = bot.slack.delivered("api", "chat.postMessage")
    assert "SEGBOT_ALLOWED_USERS" in post.params["text"]
    assert bot.slack.named("api", "files.getUploadURLExternal") == []
    [entry] = bot.store.audit_entries()
    assert (entry.actor, entry.action, entry.subject, entry.allowed) == (
        ALICE, "export", "1", False)


def test_an_allowed_export_click_sends_the_csv_to_the_dm_and_audits_it(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.home_click("segment_export", "1")

    bot.slack.wait_for(lambda: bot.slack.delivered("api", "files.completeUploadExternal"))
    bot.slack.settle(quiet=0.2)
    [shared] = bot.slack.delivered("api", "files.completeUploadExternal")
    [entry] = bot.store.audit_entries()
    assert shared.params["channel_id"].startswith("D")
    assert (entry.action, entry.allowed, entry.destination) == (
        "export", True, shared.params["channel_id"])


def test_the_home_shows_the_digests_movements_since_the_previous_run(
        serve_bot: BotFactory, two_run_db: Path, tmp_path: Path) -> None:
    bot = serve_bot(db=copy_store(two_run_db, tmp_path / "two.db"))
    text = text_of(opened_home(bot))

    assert "What changed since run 1" in text
    assert "stayed in their segment" in text and "moved from" in text


# -- the view's limits ---------------------------------------------------------------------


def many_segments(count: int, text: str = "") -> HomePage:
    return HomePage(title="Customer segments — run 9", summary="*summary*", segments=tuple(
        HomeSegment(i, text or f"*{i} · Segment {i}* — 1% (10)\nDo something.",
                    (Button("Profile", ButtonAction.PROFILE, str(i)),
                     Button("Export CSV", ButtonAction.EXPORT, str(i))))
        for i in range(1, count + 1)), movements="*What changed*\n" + "• a move\n" * 400,
        context=("run context", "help"))


def test_a_home_with_more_segments_than_blocks_lists_the_rest_as_lines() -> None:
    view = home_view(many_segments(80))

    assert home_view_problems(view) == []
    assert len(view["blocks"]) <= 100
    text = text_of(view)
    assert all(f"*{i} · Segment {i}*" in text for i in range(1, 81))
    buttons = [b for b in view["blocks"] if b["type"] == "actions"]
    assert 40 <= len(buttons) < 80  # the first ones keep their buttons


def test_overlong_texts_are_clipped_to_block_kits_limits() -> None:
    menu = Menu("C" * 200, ButtonAction.COMPARE,
                tuple((f"{i} · " + "n" * 100, f"1 {i}") for i in range(2, 152)))
    page = replace(many_segments(3, text="<b>" + "x" * 5000), title="T" * 400)
    page = replace(page, segments=tuple(replace(s, buttons=(*s.buttons, menu))
                                        for s in page.segments))

    view = home_view(page)

    assert home_view_problems(view) == []
    assert "&lt;b&gt;" in text_of(view)  # user text cannot open links or mentions


def test_the_fake_refuses_what_slack_refuses() -> None:
    assert home_view_problems({"type": "home", "blocks": [{"type": "divider"}] * 101})
    assert home_view_problems({"type": "modal", "blocks": [{"type": "divider"}]})
    assert home_view_problems({"type": "home", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]})


# -- the Home after a run ------------------------------------------------------------------


@pytest.fixture
def viewers(db_path: Path) -> Store:
    """A store on which Alice, Bob and Carol opened the Home (Carol last)."""
    store = Store(db_path)
    for minutes, user in enumerate((ALICE, BOB, CAROL)):
        store.record_home_opened(user, "D0" + user[-5:], at=T0 + timedelta(minutes=minutes))
    return store


def settings_for(slack: FakeSlack, **env: str):
    return load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL": slack.api_url,
                          **env}, require_slack=False)


def test_after_a_run_everyone_who_opened_the_home_gets_it_again(
        slack: FakeSlack, viewers: Store) -> None:
    settings = settings_for(slack, SEGBOT_ALLOWED_USERS=BOB)

    outcome = refresh_homes(settings, viewers, build_web_client(settings))

    assert outcome.published == (CAROL, BOB, ALICE) and not outcome.failed
    run = viewers.current_run()
    for user in (ALICE, BOB, CAROL):
        [view] = slack.homes(user)
        assert view["blocks"][0]["text"]["text"] == f"Customer segments — run {run.id}"
    assert "segment_export" in actions_of(slack.homes(BOB)[0])
    assert "segment_export" not in actions_of(slack.homes(ALICE)[0])


def test_someone_slack_no_longer_knows_is_dropped_and_the_rest_still_published(
        slack: FakeSlack, viewers: Store) -> None:
    settings = settings_for(slack)
    slack.fail("views.publish", "user_not_found", "internal_error")  # Carol, then Bob

    outcome = refresh_homes(settings, viewers, build_web_client(settings))

    assert outcome.published == (ALICE,)
    assert outcome.dropped == (CAROL,)
    assert outcome.failed == ((BOB, "slack: internal_error"),)
    assert [viewer.user_id for viewer in viewers.home_viewers()] == [BOB, ALICE]
    assert "published to 1 of 3 people" in outcome.detail
    assert "U0BOB (slack: internal_error)" in outcome.detail


def test_a_home_tab_turned_off_stops_after_the_first_refusal(
        slack: FakeSlack, viewers: Store) -> None:
    settings = settings_for(slack)
    slack.fail("views.publish", "not_enabled")

    outcome = refresh_homes(settings, viewers, build_web_client(settings))

    assert outcome.published == () and len(outcome.failed) == 3
    assert len(slack.named("api", "views.publish")) == 1
    assert [viewer.user_id for viewer in viewers.home_viewers()] == [CAROL, BOB, ALICE]


def test_the_home_content_reads_the_run_from_the_store(viewers: Store) -> None:
    page = home_page(viewers, may_export=False)
    run = viewers.current_run()

    assert page.title == f"Customer segments — run {run.id}"
    assert [s.segment_id for s in page.segments] == [
        s.segment_id for s in viewers.list_segments()]
    assert [[b.action for b in s.buttons] for s in page.segments] == [
        [ButtonAction.PROFILE, ButtonAction.HISTORY, ButtonAction.COMPARE]] * len(page.segments)
    assert [(b.action, b.label) for b in page.buttons] == [
        (ButtonAction.SEGMENTS_HISTORY, "History of all segments")]
    assert run.as_of and run.as_of in page.summary


def test_when_nobody_opened_the_home_nothing_is_published(
        slack: FakeSlack, db_path: Path) -> None:
    settings = settings_for(slack)
    outcome = refresh_homes(settings, Store(db_path), build_web_client(settings))

    assert outcome.detail == "Home tab published to 0 of 0 people"
    assert slack.named("api", "views.publish") == []
