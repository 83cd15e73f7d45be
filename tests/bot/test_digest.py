"""The digest: what changed since the last run, in words and charts, posted once per channel."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from slack_sdk import WebClient

from bot import answers
from bot.blocks import MAX_BLOCKS, MAX_HEADER, MAX_SECTION_TEXT, answer_message
from bot.cli import main
from bot.delivery import build_web_client
from bot.digest import DigestError, digest_answer, post_digest, retry_pending_digests
from bot.settings import load_settings
from segmentation.matching import movement_matrix
from segmentation.result import SegmentMatch
from storage.changes import RetiredSegment, RunChanges
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC
from tests.bot.fake_slack import FakeSlack
from tests.storage.conftest import T0, make_result

CHANNEL = "C0DIGEST"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


def client_for(fake: FakeSlack) -> WebClient:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL":
                              fake.api_url}, require_slack=False)
    return build_web_client(settings)


def two_runs(path: Path) -> Store:
    """Run 1: customers 1000-1059 in segments 1-3. Run 2: 1010-1069; segment 3 is retired and
    its 17 remaining customers form the new segment 4, "Bargain hunters"; 1000-1009 are gone and
    1060-1069 new."""
    store = Store(path)
    first = make_result(n_customers=60, excluded=("X1",))
    store.publish_run(first, started_at=T0, finished_at=T0 + timedelta(minutes=1),
                      changes=RunChanges(None, tuple(SegmentMatch(s.segment_id, None, None)
                                                     for s in first.segments)))
    second = make_result(n_customers=60, first_id=1010, shift=1, excluded=("X1", "X2"))
    second = second.with_segment_ids({1: 1, 2: 2, 3: 4})
    second = replace(second, segments=tuple(
        replace(s, name="Bargain hunters") if s.segment_id == 4 else s
        for s in second.segments))
    changes = RunChanges(1, (SegmentMatch(1, 1, 0.1), SegmentMatch(2, 2, 0.2),
                             SegmentMatch(4, None, None)), (RetiredSegment(3, "A segment 3"),),
                         movement_matrix(store.assignment_frame(1), second.assignments))
    store.publish_run(second, started_at=T0 + timedelta(days=7),
                      finished_at=T0 + timedelta(days=7, minutes=1), changes=changes)
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return two_runs(tmp_path / "segbot.db")


def all_text(answer: answers.Answer) -> str:
    return "\n".join(s.text for s in answer.sections)


def test_the_digest_says_what_changed_in_words(store: Store) -> None:
    digest = digest_answer(store)
    text = all_text(digest)

    assert digest.title == "Segments digest · Mon 09 Mar 2026"
    assert "*Run 2*, refreshed 2026-03-09 09:01 UTC from `customers.csv`: 62 rows read, " \
           "60 customers in 3 segments. Compared with run 1 of 2026-03-02." in text
    assert "*1 · A segment 1* — 20 (33%) · unchanged since last run" in text
    assert "*2 · A segment 2* — 20 (33%) · unchanged since last run" in text
    assert "*4 · Bargain hunters* — 20 (33%) · new segment" in text
    assert "33 customers (66%) stayed in their segment, 17 moved to another; 10 new " \
           "customers arrived and 10 are gone." in text
    assert "• 17 customers moved from *A segment 3* to *Bargain hunters*" in text
    assert "*Retired segments*\n• *3 · A segment 3* (had 20 customers)" in text
    assert "*New segments*\n• *4 · Bargain hunters* — 20 customers" in text
    assert "• 2 of 62 rows left out\n• dropped rows ×2 (Income): income missing" in text
    assert "k = 3 · silhouette 0.31" in text and "elbow bends" in text


def test_the_digest_carries_both_charts_and_the_movers(store: Store) -> None:
    digest = digest_answer(store)

    assert [c.filename for c in digest.charts] == ["migration-run1-to-run2.png", "sizes-run2.png"]
    assert all(chart.render().startswith(PNG_MAGIC) for chart in digest.charts)
    [movers] = digest.files
    frame = pd.read_csv(io.BytesIO(movers.render()), dtype={"customer_id": str})
    assert movers.filename == "movers-run2.csv"
    assert len(frame) == 17
    assert set(zip(frame["from_name"], frame["to_name"], strict=True)) == \
        {("A segment 3", "Bargain hunters")}


def test_a_run_where_nobody_moved_carries_no_movers_csv(tmp_path: Path) -> None:
    store = Store(tmp_path / "segbot.db")
    same = make_result(n_customers=60)
    unchanged = RunChanges(None, tuple(SegmentMatch(s.segment_id, None, None)
                                       for s in same.segments))
    store.publish_run(same, started_at=T0, finished_at=T0, changes=unchanged)
    store.publish_run(same, started_at=T0 + timedelta(days=7), finished_at=T0 + timedelta(days=7),
                      changes=RunChanges(1, tuple(SegmentMatch(s.segment_id, s.segment_id, 0.0)
                                                  for s in same.segments), (),
                                         movement_matrix(store.assignment_frame(1),
                                                         same.assignments)))

    digest = digest_answer(store)

    assert "60 customers (100%) stayed in their segment, 0 moved" in all_text(digest)
    assert [c.filename for c in digest.charts] == ["migration-run1-to-run2.png", "sizes-run2.png"]
    assert digest.files == ()


def test_the_first_run_digest_has_nothing_to_compare(tmp_path: Path) -> None:
    store = Store(tmp_path / "segbot.db")
    store.publish_run(make_result(), started_at=T0, finished_at=T0)

    digest = digest_answer(store)

    assert "This is the first run, so there is nothing to compare with yet." in all_text(digest)
    assert [c.filename for c in digest.charts] == ["sizes-run1.png"]
    assert digest.files == ()


def test_a_digest_of_many_long_named_segments_fits_block_kit(tmp_path: Path) -> None:
    store = Store(tmp_path / "segbot.db")
    result = make_result(n_customers=400, k=40)
    result = replace(result, segments=tuple(replace(s, name=f"{s.name} " + "very " * 40)
                                            for s in result.segments))
    store.publish_run(result, started_at=T0, finished_at=T0)

    message = answer_message(digest_answer(store))

    assert len(message["blocks"]) <= MAX_BLOCKS
    assert len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert all(len(text) <= MAX_SECTION_TEXT for text in texts)
    assert "40 ·" in "".join(texts)  # the last segment is still there


def test_segments_changes_shows_the_movement_with_the_chart(store: Store) -> None:
    answer = answers.answer(store, answers.parse_request("segments", "changes"))

    assert answer.title == "Changes from run 1 to run 2"
    assert "• 17 customers moved from *A segment 3* to *Bargain hunters*" in all_text(answer)
    [chart] = answer.charts
    assert chart.render().startswith(PNG_MAGIC)
    assert answer.files == ()  # customer-level data only through audited exports


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
    assert store.get_delivery(2, CHANNEL).status == "posted"


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


# -- acceptance: the reference data, through the command line --------------------------------


@pytest.fixture(scope="module")
def reference_db(tmp_path_factory: pytest.TempPathFactory, reference_csv: Path) -> Path:
    db = tmp_path_factory.mktemp("reference") / "segbot.db"
    for seed in ("1", "2"):
        assert main(["refresh", "--data", str(reference_csv), "--seed", seed, "--db",
                     str(db)], environ={}) == 0
    return db


def test_a_second_refresh_with_another_seed_keeps_ids_and_names(reference_db: Path) -> None:
    store = Store(reference_db)

    first = [(s.segment_id, s.name) for s in store.list_segments(1)]
    second = [(s.segment_id, s.name) for s in store.list_segments(2)]

    assert second == first
    assert [m.previous_id for m in store.segment_matches(2)] == [i for i, _ in first]


def test_segbot_digest_post_posts_once(reference_db: Path, tmp_path: Path, fake: FakeSlack,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    db.write_bytes(reference_db.read_bytes())
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


def test_segbot_digest_prints_without_posting(reference_db: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "--db", str(reference_db)], environ={}) == 0

    out = capsys.readouterr().out
    assert out.startswith("Segments digest · ")
    assert "Compared with run 1" in out and "Model quality" in out
    assert "attached when posted: movers-run2.csv" in out


def test_segbot_digest_post_without_a_channel_says_what_to_set(
        reference_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["digest", "--post", "--db", str(reference_db)],
                environ={"SLACK_BOT_TOKEN": "xoxb-test"})

    assert code == 2
    assert "SEGBOT_DIGEST_CHANNEL is not set" in capsys.readouterr().err
