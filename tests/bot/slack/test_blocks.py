"""Answers become Block Kit messages Slack accepts, however many segments and however long."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.answers import Answer, Button, ButtonAction, Section
from bot.answers.build import overview_answer
from bot.slack.blocks import answer_blocks, answer_message, section_blocks, split_text
from segmentation.result import SegmentProfile
from storage.records import RunRecord
from storage.store import Store

LONG_NAME = "Affluent wine-loving catalogue buyers " * 8  # ~300 characters


def segment_section(segment_id: int, name: str = LONG_NAME) -> Section:
    return Section(f"*{segment_id} · {name[:300]}* — 2% (45)\nIncome $81,000 · Wine $610",
                   button=Button("Profile", ButtonAction.PROFILE, str(segment_id)))


def assert_within_limits(message: dict[str, Any]) -> None:
    """What Slack checks before accepting a message (and slack-sdk's own to_dict checks)."""
    blocks = message["blocks"]
    assert len(blocks) <= 50
    assert len(message["text"]) <= 40_000
    for block in blocks:
        if block["type"] == "header":
            assert 0 < len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert 0 < len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(0 < len(f["text"]) <= 2000 for f in block.get("fields", []))
            if "accessory" in block:
                assert len(block["accessory"]["text"]["text"]) <= 75
        if block["type"] == "context":
            assert len(block["elements"]) <= 10


def all_text(message: dict[str, Any]) -> str:
    parts = []
    for block in message["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts.extend(f["text"] for f in block.get("fields", []))
        parts.extend(e["text"] for e in block.get("elements", []))
    return "\n".join(parts)


def test_sixty_segments_with_long_names_fit_and_none_is_lost() -> None:
    answer = Answer("Customer segments — run 7 " + "x" * 300,
                    (Section("*60 segments* from 2,205 customers."),)
                    + tuple(segment_section(i) for i in range(1, 61)),
                    context="Run 7 · refreshed 2024-05-06 06:00 UTC", in_channel=True)
    message = answer_message(answer)
    assert_within_limits(message)
    text = all_text(message)
    assert all(f"*{i} · " in text for i in range(1, 61))  # every segment is still listed
    buttons = [b["accessory"]["value"] for b in message["blocks"] if "accessory" in b]
    assert buttons[:10] == [str(i) for i in range(1, 11)]  # the first keep their buttons
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][-1]["type"] == "context"
    assert message["response_type"] == "in_channel"


def test_few_segments_keep_one_block_and_button_each() -> None:
    answer = Answer("Customer segments", tuple(segment_section(i, "Loyal") for i in (1, 2, 3)))
    blocks = answer_message(answer)["blocks"]
    assert [b["accessory"]["action_id"] for b in blocks[1:]] == ["segment_profile"] * 3
    assert [b["accessory"]["value"] for b in blocks[1:]] == ["1", "2", "3"]


def test_a_very_long_section_is_split_not_rejected() -> None:
    lines = [f"line {i}: " + "y" * 90 for i in range(200)]  # ~20,000 characters
    message = answer_message(Answer("Long", (Section("\n".join(lines)),)))
    assert_within_limits(message)
    assert all(f"line {i}:" in all_text(message) for i in range(200))


def test_more_than_ten_fields_go_to_further_sections() -> None:
    fields = tuple(f"*Feature {i}*\n" + "v" * 2500 for i in range(25))
    message = answer_message(Answer("Fields", (Section("Profile", fields=fields),)))
    assert_within_limits(message)
    assert sum(len(b.get("fields", [])) for b in message["blocks"]) == 25


def test_more_than_fifty_full_sections_says_what_was_left_out() -> None:
    answer = Answer("Huge", tuple(Section(f"part {i} " + "z" * 2900) for i in range(120)))
    message = answer_message(answer)
    assert_within_limits(message)
    assert "did not fit in one message" in message["blocks"][-1]["text"]["text"]


def test_slack_control_characters_are_escaped() -> None:
    answer = Answer("<!channel> & co", (Section("Segment <!channel> & <@U123>",
                                                fields=("*a < b*\nc > d",)),))
    message = answer_message(answer)
    header, *rest = message["blocks"]
    assert header["text"] == {"type": "plain_text", "text": "<!channel> & co", "emoji": False}
    text = all_text({"blocks": rest}) + message["text"]  # mrkdwn: mentions would ping
    assert "<!channel>" not in text and "<@U123>" not in text
    assert "&lt;!channel&gt; &amp; &lt;@U123&gt;" in text
    assert "a &lt; b" in text


def test_an_error_is_one_ephemeral_paragraph() -> None:
    message = answer_message(Answer("segbot", (Section("Usage: `/cluster N`"),), is_error=True))
    assert message["response_type"] == "ephemeral"
    assert [b["type"] for b in message["blocks"]] == ["section"]
    assert message["text"] == "Usage: `/cluster N`"


def test_blank_parts_make_no_empty_blocks() -> None:
    blocks = answer_blocks(Answer("  ", (Section(""), Section("ok", fields=("", "x")))))
    assert [b.to_dict()["type"] for b in blocks] == ["header", "section"]
    assert blocks[0].to_dict()["text"]["text"] == "segbot"


def test_split_text_cuts_at_line_ends() -> None:
    assert split_text("aaa\nbbb\nccc", limit=7) == ["aaa\nbbb", "ccc"]
    assert split_text("x" * 10, limit=4) == ["xxxx", "xxxx", "xx"]
    assert split_text("\n\n") == []


class SixtySegments:
    """The published store, seen as if its run had 60 segments with 300-character names."""

    def __init__(self, store: Store):
        self.store = store
        base = store.list_segments()
        self.segments = [replace(base[i % len(base)], segment_id=i + 1,
                                 name=f"Segment {i + 1} {LONG_NAME}"[:300]) for i in range(60)]

    def current_run(self) -> RunRecord | None:
        return self.store.current_run()

    def list_segments(self, run_id: int | None = None) -> list[SegmentProfile]:
        return self.segments


def test_the_real_overview_answer_fits_with_sixty_long_named_segments(
        published_db: Path) -> None:
    answer = overview_answer(SixtySegments(Store(published_db)))
    message = answer_message(answer)
    assert_within_limits(message)
    for block in answer_blocks(answer):
        block.to_dict()  # slack-sdk's own validation of each block
    text = all_text(message)
    assert all(f"*{i} · Segment {i} " in text for i in range(1, 61))


@pytest.mark.parametrize("escape", ["&amp;", "&lt;", "&gt;"])
@pytest.mark.parametrize("offset", range(5))
def test_long_text_is_never_cut_inside_an_escape(escape: str, offset: int) -> None:
    text = "x" * (10 - offset) + escape * 8
    for chunk in split_text(text, limit=10):
        assert len(chunk) <= 10
        assert chunk.count("&") == sum(chunk.count(e) for e in ("&amp;", "&lt;", "&gt;"))
    assert "".join(split_text(text, limit=10)) == text  # nothing lost, nothing doubled


def test_a_clipped_field_ends_before_a_halved_escape() -> None:
    [block] = section_blocks(Section("title", fields=("R&D " * 1000,)))
    field = block.fields[0].text
    assert field.endswith("…") and len(field) <= 2000
    assert field[:-1].rstrip().endswith(("&amp;", "R", "D"))


def test_a_message_with_many_escapes_is_accepted_whole() -> None:
    answer = Answer("t", (Section("<b> & <i> " * 600),))
    for block in answer_blocks(answer):
        text = block.to_dict().get("text", {}).get("text", "")
        assert not text.rstrip("…").endswith(("&", "&a", "&am", "&l", "&lt", "&g", "&gt"))
