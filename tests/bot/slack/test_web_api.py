"""Only what is safe to repeat is repeated, and Slack's errors are explained to who can fix them.

Against the fake Slack on 127.0.0.1: a post that may have reached Slack (a 5xx, a timeout, a
dropped connection) is never sent again; everything that changes nothing visible is.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from urllib.error import URLError

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.replies import upload_problem
from bot.slack.web_api import (
    Posted,
    ResponseUrl,
    Unconfirmed,
    Upload,
    build_web_client,
    explain,
    never_reached_slack,
    post_once,
    upload_files,
)
from tests.bot.fake_slack import FakeSlack

CHANNEL = "C0MARKET"
TIMED_OUT = pytest.param("timeout", marks=pytest.mark.slow)  # waits out the client's timeout
FILE = Upload(b"a,b\n1,2\n", "export.csv", "Segment 2", "Segment 2")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        slack.stall = 1.5
        yield slack


def client_for(fake: FakeSlack):
    return build_web_client("xoxb-test", fake.api_url, timeout=1)


@pytest.mark.parametrize("mode", ["500", "503", TIMED_OUT, "reset"])
def test_a_message_that_may_have_been_posted_is_never_posted_again(
        fake: FakeSlack, mode: str) -> None:
    fake.fail("chat.postMessage", mode)
    client = client_for(fake)
    with pytest.raises(Unconfirmed):
        post_once("the digest", lambda: client.chat_postMessage(channel=CHANNEL, text="hi"))
    assert len(fake.named("api", "chat.postMessage")) == 1


@pytest.mark.slow  # waits out Retry-After, a timeout or the retry back-off
def test_a_rate_limited_message_is_posted_after_retry_after(fake: FakeSlack) -> None:
    fake.fail("chat.postMessage", "429")
    client_for(fake).chat_postMessage(channel=CHANNEL, text="hi")
    first, second = fake.named("api", "chat.postMessage")
    assert second.at - first.at >= 1.0 and len(fake.delivered("api", "chat.postMessage")) == 1


@pytest.mark.slow  # waits out the client's back-off between attempts
@pytest.mark.parametrize("mode", ["500", "503", "reset"])
def test_calls_that_change_nothing_visible_are_repeated(fake: FakeSlack, mode: str) -> None:
    fake.fail("files.getUploadURLExternal", mode)
    fake.fail("upload", mode)  # the file's bytes: slack_sdk itself never repeats these
    upload_files(client_for(fake), CHANNEL, [FILE], sleep=lambda seconds: None)
    assert len(fake.named("api", "files.getUploadURLExternal")) == 2
    assert len(fake.named("upload")) == 2
    [complete] = fake.delivered("api", "files.completeUploadExternal")
    assert complete.params["channel_id"] == CHANNEL


def test_bytes_refused_for_good_are_not_sent_again_and_nothing_is_shared(
        fake: FakeSlack) -> None:
    fake.fail("upload", "500", "500", "500", "500")
    with pytest.raises(Exception, match="could not send export.csv"):
        upload_files(client_for(fake), CHANNEL, [FILE], sleep=lambda seconds: None)
    assert len(fake.named("upload")) == 3
    assert not fake.named("api", "files.completeUploadExternal")


@pytest.mark.parametrize("mode", ["500", TIMED_OUT, "reset"])
def test_sharing_the_files_is_not_repeated_once_slack_may_have_done_it(
        fake: FakeSlack, mode: str) -> None:
    fake.fail("files.completeUploadExternal", mode)
    with pytest.raises(Unconfirmed, match="export.csv"):
        upload_files(client_for(fake), CHANNEL, [FILE])
    assert len(fake.named("api", "files.completeUploadExternal")) == 1


@pytest.mark.parametrize(("mode", "outcome"), [
    (None, Posted.DELIVERED), ("500", Posted.UNKNOWN),
    pytest.param("timeout", Posted.UNKNOWN, marks=pytest.mark.slow), ("reset", Posted.UNKNOWN)])
def test_a_response_url_post_is_sent_once(fake: FakeSlack, mode: str | None,
                                          outcome: Posted) -> None:
    if mode:
        fake.fail("response", mode)
    assert ResponseUrl(fake.response_url("r1"), timeout=1).post({"text": "hi"}) is outcome
    assert len(fake.named("response", "r1")) == 1


@pytest.mark.slow  # waits out Retry-After, a timeout or the retry back-off
def test_a_rate_limited_response_url_post_is_repeated(fake: FakeSlack) -> None:
    fake.fail("response", "429")
    assert ResponseUrl(fake.response_url("r1"), timeout=1).post({"text": "hi"}) is \
        Posted.DELIVERED
    assert len(fake.named("response", "r1")) == 2


@pytest.mark.slow  # waits out Retry-After, a timeout or the retry back-off
def test_a_connection_never_opened_is_known_not_to_have_posted() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{unused.getsockname()[1]}/response/r1"
        assert ResponseUrl(url, timeout=1).post({"text": "hi"}) is Posted.NOT_DELIVERED
    assert never_reached_slack(URLError(ConnectionRefusedError()))
    assert never_reached_slack(URLError(TimeoutError("timed out")))  # while connecting
    assert not never_reached_slack(TimeoutError("timed out"))  # while awaiting the answer


def api_error(code: str, status: int = 200, **extra: str) -> SlackApiError:
    from slack_sdk.web import SlackResponse

    response = SlackResponse(client=None, http_verb="POST", api_url="x", req_args={},
                             data={"ok": False, "error": code, **extra}, headers={},
                             status_code=status)
    return SlackApiError("refused", response)


@pytest.mark.parametrize(("code", "who"), [
    ("missing_scope", "workspace admin"), ("posting_to_channel_denied", "channel manager"),
    ("file_type_not_allowed", "workspace admin"), ("invalid_auth", "SLACK_BOT_TOKEN"),
    ("account_inactive", "SLACK_BOT_TOKEN")])
def test_errors_that_waiting_cannot_fix_say_who_must_change_what(code: str, who: str) -> None:
    line = upload_problem("chart.png", explain(api_error(code, needed="files:write")))
    assert who in line and "try again" not in line


def test_a_missing_scope_names_the_scope() -> None:
    assert "(files:write)" in explain(api_error("missing_scope", needed="files:write")).text


@pytest.mark.parametrize("error", [api_error("internal_error", 500), api_error("ratelimited"),
                                   TimeoutError("timed out")])
def test_passing_errors_say_try_again(error: Exception) -> None:
    assert "try again in a minute" in upload_problem("chart.png", explain(error))


def test_a_direct_message_never_suggests_invite() -> None:
    in_dm = explain(api_error("channel_not_found"), in_conversation=True).text
    in_channel = explain(api_error("not_in_channel")).text
    assert "/invite" not in in_dm and "/invite @segbot" in in_channel
