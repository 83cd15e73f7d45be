"""The digest posted once per run and channel: retries, files, and who may get the movers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.cli import main
from bot.settings import load_settings
from bot.slack.digest_posts import DigestError, post_digest, retry_pending_digests
from bot.slack.replies import build_web_client
from storage.deliveries import DeliveryStatus
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC, two_runs
from tests.bot.fake_slack import FakeSlack
from tests.storage.conftest import T0

CHANNEL = "C0DIGEST"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def client_for(fake: FakeSlack) -> WebClient:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL":
                              fake.api_url}, require_slack=False)
    return build_web_client(settings)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return two_runs(tmp_path / "segbot.db")


def test_the_digest_is_posted_once_with_its_files(store: Store, fake: FakeSlack) -> None:
    client = client_for(fake)

    outcome = post_digest(store, client, CHANNEL, now=lambda: T0 + timedelta(days=7))
    again = post_digest(store, client, CHANNEL, now=lambda: T0 + timedelta(days=8))

    assert outcome.posted and not again.posted
    assert "already posted to C0DIGEST at 2026-03-09 09:00 UTC; nothing posted" in again.detail
    [message] = fake.named("api", "chat.postMessage")
    assert message.params["channel"] == CHANNEL
    assert message.params["blocks"][0]["text"]["text"] == "Segments digest · Mon 09 Mar 2026"
    [complete] = fake.named("api", "files.completeUploadExternal")
    assert complete.params["channel_id"] == CHANNEL
    assert [f["title"] for f in json.loads(complete.params["files"])] == [
        "Where customers moved between run 1 and run 2", "Customers per segment, run 2",
        "Customers who changed segment since run 1"]
    bodies = [call.body for call in fake.named("upload")]
    assert [b.startswith(PNG_MAGIC) for b in bodies] == [True, True, False]
    assert bodies[2].startswith(b'"customer_id","from_segment","from_name","to_segment","to_name"')


def test_a_failed_post_is_retried_once_and_only_once(store: Store, fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.fail("chat.postMessage", "not_in_channel")

    with pytest.raises(DigestError,
                       match="not a member of C0DIGEST.*invite me with `/invite @segbot` there"):
        post_digest(store, client, CHANNEL)
    [pending] = store.pending_deliveries()
    assert pending.error == "slack: not_in_channel"

    retried = retry_pending_digests(Store(store.path), client)  # the next start

    assert [o.posted for o in retried] == [True]
    assert retry_pending_digests(store, client) == []
    posted = [c for c in fake.named("api", "chat.postMessage") if c.failed_with is None]
    assert len(posted) == 1
    assert len(fake.named("api", "files.completeUploadExternal")) == 1


def test_when_only_the_files_failed_the_retry_sends_only_the_files(
        store: Store, fake: FakeSlack) -> None:
    client = client_for(fake)
    fake.fail("files.getUploadURLExternal", "internal_error")

    with pytest.raises(DigestError):
        post_digest(store, client, CHANNEL)
    retry_pending_digests(store, client)

    assert len(fake.named("api", "chat.postMessage")) == 1
    assert len(fake.named("upload")) == 3
    assert store.get_delivery(2, CHANNEL).status == DeliveryStatus.POSTED


@pytest.mark.parametrize("allowed", [None, "C0PRIVATE"], ids=["nothing listed", "others"])
def test_the_movers_csv_goes_only_to_a_channel_listed_for_customer_files(
        store: Store, fake: FakeSlack, allowed: str | None) -> None:
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL": fake.api_url,
               "SEGBOT_DIGEST_CHANNEL": CHANNEL}
    if allowed is not None:
        environ["SEGBOT_ALLOWED_CHANNELS"] = allowed

    assert main(["digest", "--post", "--db", str(store.path)], environ=environ) == 0

    [complete] = fake.named("api", "files.completeUploadExternal")
    assert [f["title"] for f in json.loads(complete.params["files"])] == [
        "Where customers moved between run 1 and run 2", "Customers per segment, run 2"]
    [message] = fake.named("api", "chat.postMessage")
    assert "SEGBOT_ALLOWED_CHANNELS" in json.dumps(message.params["blocks"])  # how to enable
    assert "segment sizes" in json.dumps(message.params["blocks"]).lower()  # counts stay


def test_segbot_digest_post_posts_once(two_run_db: Path, tmp_path: Path, fake: FakeSlack,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    db.write_bytes(two_run_db.read_bytes())
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL": fake.api_url,
               "SEGBOT_DIGEST_CHANNEL": CHANNEL, "SEGBOT_ALLOWED_CHANNELS": CHANNEL}

    assert main(["digest", "--post", "--db", str(db)], environ=environ) == 0
    assert capsys.readouterr().out == "digest of run 2 posted to C0DIGEST\n"
    assert main(["digest", "--post", "--db", str(db)], environ=environ) == 0

    assert "already posted to C0DIGEST" in capsys.readouterr().out
    assert len(fake.named("api", "chat.postMessage")) == 1
    [complete] = fake.named("api", "files.completeUploadExternal")
    assert [f["title"] for f in json.loads(complete.params["files"])] == [
        "Where customers moved between run 1 and run 2", "Customers per segment, run 2",
        "Customers who changed segment since run 1"]
    pngs, csvs = fake.named("upload")[:2], fake.named("upload")[2:]
    assert all(call.body.startswith(PNG_MAGIC) for call in pngs)
    assert [call.body.split(b"\n")[0] for call in csvs] == [
        b'"customer_id","from_segment","from_name","to_segment","to_name"']


def test_segbot_digest_post_also_publishes_the_run_to_the_home_tabs_once(
        two_run_db: Path, tmp_path: Path, fake: FakeSlack,
        capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    db.write_bytes(two_run_db.read_bytes())
    Store(db).record_home_opened("U0ALICE", "D0ALICE", at=T0)
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL": fake.api_url,
               "SEGBOT_DIGEST_CHANNEL": CHANNEL}

    assert main(["digest", "--post", "--db", str(db)], environ=environ) == 0
    assert main(["digest", "--post", "--db", str(db)], environ=environ) == 0  # already posted

    out = capsys.readouterr().out
    assert out.count("Home tab published to 1 of 1 people") == 1
    [home] = fake.homes("U0ALICE")
    assert home["blocks"][0]["text"]["text"] == "Customer segments — run 2"


def test_segbot_digest_post_without_a_channel_says_what_to_set(
        two_run_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["digest", "--post", "--db", str(two_run_db)],
                environ={"SLACK_BOT_TOKEN": "xoxb-test"})

    assert code == 2
    assert "SEGBOT_DIGEST_CHANNEL is not set" in capsys.readouterr().err
