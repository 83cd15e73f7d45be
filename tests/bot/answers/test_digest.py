"""The digest's content: what changed since the last run, in words, charts and a CSV."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from bot import answers
from bot.answers.digest import digest_answer
from bot.cli import main
from bot.slack.blocks import MAX_BLOCKS, MAX_HEADER, MAX_SECTION_TEXT, answer_message
from segmentation.matching import movement_matrix
from segmentation.result import SegmentMatch
from storage.changes import RunChanges
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC, two_runs
from tests.storage.conftest import T0, make_result

CHANNEL = "C0DIGEST"


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


def test_segbot_digest_prints_without_posting(two_run_db: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest", "--db", str(two_run_db)], environ={}) == 0

    out = capsys.readouterr().out
    assert out.startswith("Segments digest · ")
    assert "Compared with run 1" in out and "Model quality" in out
    assert "attached when posted: movers-run2.csv" in out
