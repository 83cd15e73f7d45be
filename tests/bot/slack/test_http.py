"""End to end over real HTTP: signed requests in, acks out, answers to response_url, uploads.

Nothing here is mocked: the bot runs under uvicorn on a loopback port, slack-sdk talks to a
fake Slack Web API on another, and the store holds a refresh of the real reference table.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from bot.answers import Attachment
from storage.store import Store
from tests.bot.conftest import (
    ALICE,
    GENERAL,
    MARKETING,
    PNG_MAGIC,
    BotFactory,
    RunningBot,
    home_opened,
)
from tests.bot.fake_slack import FakeSlack

pytestmark = pytest.mark.timeout(60)



def uploads(slack: FakeSlack) -> list[dict]:
    """Each completed upload: its channel, title and bytes, as Slack would have them."""
    data = {call.name: call.body for call in slack.named("upload")}
    done = []
    for call in slack.named("api", "files.completeUploadExternal"):
        if call.failed_with is not None:
            continue
        for file in json.loads(call.params["files"]):
            done.append({"channel": call.params.get("channel_id"), "title": file["title"],
                         "bytes": data[file["id"]]})
    return done


def requested_names(slack: FakeSlack) -> list[str]:
    return [call.params["filename"]
            for call in slack.named("api", "files.getUploadURLExternal")]


def text_of(message: dict) -> str:
    parts = [message.get("text", "")]
    for block in message.get("blocks", []):
        if isinstance(block.get("text"), dict):
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        for element in block.get("elements", []):  # context texts, and buttons' labels
            text = element.get("text", "")
            parts.append(text if isinstance(text, str) else text.get("text", ""))
    return "\n".join(parts)


def test_segments_acks_then_answers_in_channel_with_a_chart(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    reply = bot.command("/segments")
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "in_channel"
    assert message["blocks"][0]["text"]["text"].startswith("Customer segments — run 1")
    segments = bot.store.list_segments()
    buttons = [b["accessory"] for b in message["blocks"] if "accessory" in b]
    assert [b["value"] for b in buttons] == [str(s.segment_id) for s in segments]
    assert {b["action_id"] for b in buttons} == {"segment_profile"}
    assert all(s.name in text_of(message) for s in segments)
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    assert upload["channel"] == MARKETING
    assert upload["bytes"].startswith(PNG_MAGIC)
    assert bot.slack.named("api", "auth.test"), "the token is checked when the app starts"


def test_the_events_url_answers_slacks_url_verification_challenge(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    challenge = {"token": "deprecated", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkv"
                 "FXO7tYXAYM8P", "type": "url_verification"}

    status, body, seconds = bot.post(json.dumps(challenge))
    forged, _, _ = bot.post(json.dumps(challenge), secret="not-the-secret")

    assert (status, json.loads(body)) == (200, {"challenge": challenge["challenge"]})
    assert seconds < 3
    assert forged == 401


def test_opening_the_home_tab_publishes_the_overview_to_that_person(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    status, _, seconds = bot.event(home_opened(ALICE))
    assert status == 200 and seconds < 3
    bot.slack.wait_for(lambda: len(bot.slack.named("api", "views.publish")) == 1)

    [call] = bot.slack.named("api", "views.publish")
    assert call.params["user_id"] == ALICE
    [view] = bot.slack.homes(ALICE)  # accepted: type home, at most 100 blocks, within limits
    run = bot.store.current_run()
    text = text_of(view)
    assert view["blocks"][0]["text"]["text"] == f"Customer segments — run {run.id}"
    assert f"{run.finished_at:%Y-%m-%d %H:%M} UTC" in text and f"as of *{run.as_of}*" in text
    for segment in bot.store.list_segments():
        assert f"{segment.segment_id} · {segment.name}* — {segment.share:.0%}" in text
        assert segment.action in text
    segments = bot.store.list_segments()
    controls = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(c["action_id"], c["value"]) for c in controls if c["type"] == "button"} == {
        (action, str(s.segment_id)) for s in segments
        for action in ("segment_profile", "segment_history", "segment_export")
    } | {("segments_history", "all")}
    menus = [c for c in controls if c["type"] == "static_select"]
    assert {c["action_id"] for c in menus} == {"segments_compare"}
    assert [[o["value"] for o in c["options"]] for c in menus] == [
        [f"{s.segment_id} {o.segment_id}" for o in segments if o is not s] for s in segments]
    assert [(v.user_id, v.channel_id) for v in bot.store.home_viewers()] == [
        (ALICE, home_opened(ALICE)["channel"])]


def test_cluster_answers_the_segment_with_its_profile_chart(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    segment = bot.store.get_segment(1)
    reply = bot.command("/cluster", "1")
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["blocks"][0]["text"]["text"] == f"Segment 1 · {segment.name}"
    assert segment.action in text_of(message)
    assert "segment_export" in [b["accessory"]["action_id"] for b in message["blocks"]
                                if "accessory" in b]
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert uploads(bot.slack)[0]["bytes"].startswith(PNG_MAGIC)
    assert requested_names(bot.slack) == ["segment-1-run1.png"]


def test_an_export_goes_to_the_askers_direct_messages_by_default(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    segment = bot.store.get_segment(2)
    reply = bot.command("/cluster", "2 export", channel=GENERAL)
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "ephemeral"
    assert "coming to your direct messages" in json.dumps(message["blocks"])
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    [opened] = bot.slack.named("api", "conversations.open")
    assert opened.params["users"] == ALICE
    assert upload["channel"].startswith("D") and upload["channel"] != GENERAL
    rows = list(csv.reader(io.StringIO(upload["bytes"].decode("utf-8"))))
    assert rows[0][0] == "customer_id"
    assert len(rows) - 1 == segment.size
    bot.slack.settle(quiet=0.2)
    [entry] = bot.store.audit_entries()
    assert (entry.actor, entry.channel, entry.action, entry.subject, entry.allowed,
            entry.destination) == (ALICE, GENERAL, "export", "2", True, upload["channel"])


@pytest.mark.parametrize("listed", [MARKETING, f"{GENERAL},{MARKETING}"])
def test_an_export_goes_to_the_channel_only_when_it_is_listed(
        serve_bot: BotFactory, listed: str) -> None:
    bot = serve_bot(SEGBOT_ALLOWED_CHANNELS=listed)
    reply = bot.command("/cluster", "2 export", channel=MARKETING)
    [message] = bot.answers(reply)
    assert "posted in this channel" in json.dumps(message["blocks"])
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert uploads(bot.slack)[0]["channel"] == MARKETING
    assert not bot.slack.named("api", "conversations.open")
    bot.slack.settle(quiet=0.2)
    assert bot.store.audit_entries()[0].destination == MARKETING


def test_the_export_button_follows_the_same_rule(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.answers(bot.click("segment_export", "2", channel=GENERAL))
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert uploads(bot.slack)[0]["channel"].startswith("D")


def test_a_where_answers_the_audience_in_channel_with_its_chart(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    # as Slack sends it: a slash command's <, > and & arrive escaped
    reply = bot.command("/segments", "where income &gt; 50k and education = PhD")
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "in_channel"
    members = pd.concat([bot.store.segment_members(s.segment_id)
                         for s in bot.store.list_segments()])
    count = ((members["Income"] > 50_000) & (members["Education"] == "PhD")).sum()
    assert f"{count:,} customers match" in text_of(message)
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    assert upload["channel"] == MARKETING and upload["bytes"].startswith(PNG_MAGIC)
    assert requested_names(bot.slack) == ["audience-all-run1.png"]
    assert bot.store.audit_entries() == []  # counts and means: not customer-level


def test_a_where_export_is_that_audience_in_a_dm_and_audited_with_its_condition(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    reply = bot.command("/cluster", "2 where days since last purchase &gt;= 60 export",
                        channel=GENERAL)
    [message] = bot.answers(reply)
    assert message["response_type"] == "ephemeral"
    assert "coming to your direct messages" in json.dumps(message["blocks"])
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    assert upload["channel"].startswith("D")
    exported = pd.read_csv(io.BytesIO(upload["bytes"]), dtype={"customer_id": str})
    members = bot.store.segment_members(2)
    assert sorted(exported["customer_id"]) == sorted(
        members.loc[members["Recency"] >= 60, "customer_id"])
    bot.slack.settle(quiet=0.2)
    [entry] = bot.store.audit_entries()
    assert (entry.action, entry.subject, entry.allowed, entry.destination) == (
        "export", "2 where days since last purchase >= 60", True, upload["channel"])


CONDITION_WORDS = ("income", "education", "age", "days since last purchase", "complain",
                   "marital status", "online share", "and", "or", "not", "in", "between",
                   "is", "missing", "(", ")", ",", "=", "!=", "<", ">=", "50k", "20%",
                   "1,000", "-3", "PhD", "married", "'", '"', "“", ";", "--", "DROP", "export")


@pytest.mark.slow  # a thousand round trips: about 15 s
def test_a_thousand_generated_conditions_each_get_an_answer_never_a_crash(
        serve_bot: BotFactory) -> None:
    bot = serve_bot(renderer=lambda attachment: PNG_MAGIC)  # the charts are not the point
    rng = random.Random(15)
    valid = 0
    for _ in range(1000):
        if rng.random() < 0.5:  # word salad
            text = " ".join(rng.choice(CONDITION_WORDS) for _ in range(rng.randint(1, 9)))
        else:  # comparisons that mostly make sense, joined
            text = f" {rng.choice(['and', 'or'])} ".join(
                f"{rng.choice(['income', 'age', 'days since last purchase', 'education'])} "
                f"{rng.choice(['>', '<=', '=', '!='])} {rng.choice(['50k', '40', 'PhD', '60'])}"
                for _ in range(rng.randint(1, 3)))
        reply = bot.command("/segments", f"where {text}", channel=GENERAL)
        assert reply.status == 200
        messages = bot.answers(reply)
        said = text_of(messages[0])
        assert "something went wrong" not in said, text
        valid += "match" in said and messages[0]["response_type"] == "in_channel"
    assert valid > 0
    assert bot.store.segment_members(1).shape[0] > 0


def test_customer_is_private_and_its_chart_goes_to_a_direct_message(
        serve_bot: BotFactory) -> None:
    bot = serve_bot()
    customer = bot.store.get_customer("5524")
    reply = bot.command("/customer", "5524")
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "ephemeral"
    assert f"segment {customer.segment_id}" in message["blocks"][0]["text"]["text"]
    assert "direct messages" in text_of(message)
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    [upload] = uploads(bot.slack)
    [opened] = bot.slack.named("api", "conversations.open")
    assert opened.params["users"] == ALICE
    assert upload["channel"].startswith("D")  # never the channel the command was typed in
    assert upload["bytes"].startswith(PNG_MAGIC)
    [entry] = bot.store.audit_entries()
    assert (entry.actor, entry.action, entry.subject, entry.allowed) == (
        ALICE, "customer", "5524", True)


@pytest.mark.slow
def test_ack_is_immediate_even_when_charts_are_slow(serve_bot: BotFactory) -> None:
    first = threading.Lock()

    def slow_first(attachment: Attachment) -> bytes:
        if first.acquire(blocking=False):  # the first chart takes longer than Slack waits
            time.sleep(3.5)
        return PNG_MAGIC + attachment.filename.encode()

    bot = serve_bot(renderer=slow_first)
    # A burst larger than Bolt's default pool of 10 threads, all queued behind the slow chart.
    replies = [bot.command("/cluster", str(1 + i % 4)) for i in range(12)]
    assert all(r.status == 200 for r in replies)
    assert max(r.seconds for r in replies) < 1.0, [round(r.seconds, 3) for r in replies]
    for reply in replies:
        assert len(bot.answers(reply, timeout=3)) == 1  # the text does not wait for charts
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 12, timeout=30)


@pytest.mark.parametrize("forge", ["wrong secret", "stale timestamp", "tampered body"])
def test_forged_requests_get_401_and_no_answer(serve_bot: BotFactory, forge: str) -> None:
    bot = serve_bot()
    bot.slack.reset()
    if forge == "wrong secret":
        reply = bot.command("/segments", secret="not-the-secret")
    elif forge == "stale timestamp":
        reply = bot.command("/segments", timestamp=int(time.time()) - 6 * 60)
    else:
        reply = bot.command("/cluster", "", tamper=True)
    assert reply.status == 401
    time.sleep(0.2)  # Bolt refuses before any listener runs: nothing may follow
    assert bot.slack.calls == []


SEGMENT_IDS = "valid segment numbers"


@pytest.mark.slow  # twenty round trips; requests.py's unit tests cover the parsing fast
@pytest.mark.parametrize(("command", "text", "expected"), [
    ("/cluster", "", "Usage: `/cluster N`"),
    ("/cluster", "   \t  ", "Usage: `/cluster N`"),
    ("/cluster", "7" * 10_000, "10,000 characters"),
    ("/cluster", "①", "Usage: `/cluster N`"),
    ("/cluster", "ñandú 🐧", "Usage: `/cluster N`"),
    ("/cluster", "-1", "Usage: `/cluster N`"),
    ("/cluster", "0", "Usage: `/cluster N`"),
    ("/cluster", "1.5", "Usage: `/cluster N`"),
    ("/cluster", "1; DROP TABLE segments", "Usage: `/cluster N`"),
    ("/cluster", "2 exports", "Usage: `/cluster N`"),
    ("/cluster", "99", SEGMENT_IDS),
    ("/cluster", "99 export", SEGMENT_IDS),
    ("/segments", "please", "Usage: `/segments`"),
    ("/segments", "x" * 10_000, "10,000 characters"),
    ("/customer", "", "Usage: `/customer ID`"),
    ("/customer", "5524 5525", "Usage: `/customer ID`"),
    ("/customer", "1; DROP TABLE assignments", "Usage: `/customer ID`"),
    ("/customer", "<script>", "Usage: `/customer ID`"),
    ("/customer", "顧客", "顧客"),  # a plausible id, just not a customer
    ("/customer", "999999999", "999999999"),
])
def test_bad_input_gets_an_ephemeral_usage_answer(shared_bot: RunningBot, command: str,
                                                  text: str, expected: str) -> None:
    bot = shared_bot
    bot.slack.reset()
    reply = bot.command(command, text)
    assert reply.status == 200 and reply.seconds < 3
    [message] = bot.answers(reply)
    assert message["response_type"] == "ephemeral"
    said = text_of(message)
    if expected == SEGMENT_IDS:
        ids = [s.segment_id for s in bot.store.list_segments()]
        listed = f"{min(ids)}-{max(ids)}" in said or all(str(i) in said for i in ids)
        assert "99" in said and listed, said
    else:
        assert expected in said, said
    bot.slack.settle(quiet=0.15)  # a private chart would open the DM at once
    assert uploads(bot.slack) == []
    assert bot.store.segment_members(1).shape[0] > 0  # nothing was dropped


def test_missing_customer_says_so(shared_bot: RunningBot) -> None:
    bot = shared_bot
    [message] = bot.answers(bot.command("/customer", "NOPE-42"))
    said = text_of(message)
    assert "NOPE-42" in said and message["response_type"] == "ephemeral"


def test_help_lists_every_command(shared_bot: RunningBot) -> None:
    bot = shared_bot
    said = text_of(bot.answers(bot.command("/segments", "help"))[0])
    for command in ("/segments", "/cluster N", "/cluster N export", "/customer ID"):
        assert command in said


def test_no_published_run_says_no_segments_yet(serve_bot: BotFactory, tmp_path: Path) -> None:
    bot = serve_bot(db=tmp_path / "empty.db")
    for command, text in (("/segments", ""), ("/cluster", "1"), ("/customer", "5524")):
        [message] = bot.answers(bot.command(command, text))
        assert "No segments yet" in text_of(message) and "segbot refresh" in text_of(message)
        assert message["response_type"] == "ephemeral"
    assert bot.get("/health")[0] == 200  # alive while it waits for the first run


def test_health_reports_the_published_run(shared_bot: RunningBot) -> None:
    bot = shared_bot
    assert bot.get("/health") == (200, {"status": "ok", "run_id": 1})


def test_refused_customer_lookups_are_explained_and_audited(serve_bot: BotFactory) -> None:
    bot = serve_bot(SEGBOT_ALLOWED_USERS=ALICE, SEGBOT_ALLOWED_CHANNELS=MARKETING)
    refused = [bot.command("/customer", "5524", user="U0MALLORY"),
               bot.command("/cluster", "1 export", channel=GENERAL)]
    for reply in refused:
        [message] = bot.answers(reply)
        assert message["response_type"] == "ephemeral"
        assert "This request was logged" in text_of(message)
        assert "5524" not in text_of(message).replace("`5524`", "")
    assert "SEGBOT_ALLOWED_USERS" in text_of(bot.answers(refused[0])[0])
    assert "SEGBOT_ALLOWED_CHANNELS" in text_of(bot.answers(refused[1])[0])
    allowed = bot.command("/customer", "5524")
    assert "segment" in text_of(bot.answers(allowed)[0])
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)  # the allowed lookup's chart
    bot.slack.settle()
    assert len(uploads(bot.slack)) == 1
    # Listeners run on concurrent threads, so the two refused requests may be logged in
    # either order.
    entries = bot.store.audit_entries()
    assert sorted((e.actor, e.channel, e.action, e.subject, e.allowed) for e in entries) == \
        sorted([("U0MALLORY", MARKETING, "customer", "5524", False),
                (ALICE, GENERAL, "export", "1", False),
                (ALICE, MARKETING, "customer", "5524", True)])
    assert all(e.at.tzinfo is not None for e in entries)


def test_overview_is_not_restricted(serve_bot: BotFactory) -> None:
    bot = serve_bot(SEGBOT_ALLOWED_USERS=ALICE)
    [message] = bot.answers(bot.command("/segments", user="U0MALLORY"))
    assert message["response_type"] == "in_channel"


def test_buttons_answer_like_the_commands_they_save_typing(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    profile = bot.click("segment_profile", "3")
    export = bot.click("segment_export", "3")
    assert profile.status == export.status == 200
    assert max(profile.seconds, export.seconds) < 3
    [shown] = bot.answers(profile)
    assert shown["blocks"][0]["text"]["text"].startswith("Segment 3 · ")
    assert shown["replace_original"] is False  # the overview stays where it was
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 2)
    csv_upload = next(u for u in uploads(bot.slack) if not u["bytes"].startswith(PNG_MAGIC))
    assert len(csv_upload["bytes"].decode().splitlines()) - 1 == bot.store.get_segment(3).size
    [entry] = bot.store.audit_entries()
    assert (entry.action, entry.subject, entry.allowed) == ("export", "3", True)


def test_a_forged_button_value_gets_usage_not_a_crash(shared_bot: RunningBot) -> None:
    bot = shared_bot
    [message] = bot.answers(bot.click("segment_profile", "1 OR 1=1"))
    assert "Usage" in text_of(message) and message["response_type"] == "ephemeral"


@pytest.mark.slow
def test_rate_limited_upload_is_retried_after_retry_after(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.slack.fail("files.completeUploadExternal", "429")
    reply = bot.command("/cluster", "1")
    bot.answers(reply)
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1, timeout=20)
    completes = bot.slack.named("api", "files.completeUploadExternal")
    assert len(completes) == 2 and completes[1].at - completes[0].at >= 1.0  # Retry-After: 1
    bot.slack.settle()
    assert len(bot.answers(reply)) == 1  # nothing to report: it worked


@pytest.mark.slow
def test_server_errors_are_retried_then_reported(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.slack.fail("files.getUploadURLExternal", "500")  # one 500: the retry succeeds
    first = bot.command("/cluster", "1")
    bot.slack.wait_for(lambda: len(uploads(bot.slack)) == 1)
    assert len(bot.answers(first)) == 1
    bot.slack.fail("files.getUploadURLExternal", "500", "500", "500")  # more than retried
    second = bot.command("/cluster", "2")
    answer, problem = bot.answers(second, count=2)
    assert answer["blocks"][0]["text"]["text"].startswith("Segment 2")
    assert "internal_error" in problem["text"] and problem["response_type"] == "ephemeral"
    third = bot.command("/segments")  # and the bot is still up
    assert third.status == 200 and len(bot.answers(third)) == 1


def test_not_in_channel_still_answers_and_says_how_to_invite(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.slack.fail("files.completeUploadExternal", "not_in_channel")
    reply = bot.command("/segments")
    answer, invite = bot.answers(reply, count=2)
    assert answer["blocks"][0]["text"]["text"].startswith("Customer segments")
    assert "/invite @segbot" in invite["text"]
    assert invite["response_type"] == "ephemeral"
    again = bot.command("/cluster", "1")
    assert again.status == 200 and len(bot.answers(again)) == 1


@pytest.mark.slow
def test_rate_limited_response_url_is_retried(serve_bot: BotFactory) -> None:
    bot = serve_bot()
    bot.slack.fail("response", "429")
    reply = bot.command("/segments", "help")
    bot.slack.wait_for(lambda: len(bot.slack.named("response", reply.response_name)) == 2)
    assert "/cluster N" in text_of(bot.slack.responses(reply.response_name)[1])


def test_an_unexpected_failure_is_reported_and_the_bot_keeps_serving(
        serve_bot: BotFactory) -> None:
    def broken(attachment: Attachment) -> bytes:
        raise RuntimeError("renderer exploded")

    bot = serve_bot(renderer=broken)
    reply = bot.command("/cluster", "1")
    answer, sorry = bot.answers(reply, count=2)
    assert "something went wrong" in sorry["text"]
    assert bot.command("/segments", "help").status == 200


def test_store_is_read_not_refitted(serve_bot: BotFactory, db_path: Path) -> None:
    bot = serve_bot()
    bot.answers(bot.command("/segments"))
    bot.slack.settle(quiet=0.2)
    assert [run.id for run in Store(db_path).list_runs()] == [1]


def test_segments_changes_is_answered(shared_bot: RunningBot) -> None:
    [message] = shared_bot.answers(shared_bot.command("/segments", "changes"))
    assert "Sorry" not in text_of(message) and "Usage" not in text_of(message)


def test_a_store_damaged_while_serving_is_one_clear_answer_in_slack(
        serve_bot: BotFactory, db_path: Path, tmp_path: Path) -> None:
    bot = serve_bot()
    with db_path.open("r+b") as file:  # the header page overwritten under the running bot
        file.write(b"this is not a SQLite file" * 160)
    for command, text in (("/segments", ""), ("/customer", "5524")):
        [message] = bot.answers(bot.command(command, text))
        assert "cannot" in text_of(message) and "something went wrong" not in text_of(message)
        assert str(tmp_path) not in json.dumps(message)  # the path is for the operator's log
