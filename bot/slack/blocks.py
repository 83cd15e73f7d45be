"""An Answer as a Slack Block Kit message that Slack accepts, however long the answer.

Slack rejects a whole message when one limit is broken, and the user then sees nothing, so every
limit is enforced here rather than hoped for: long text is split or clipped, extra fields move
to another section, and when an answer has more parts than a message may hold, the last ones are
packed into a few text sections (their buttons dropped) before anything is cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.answers.parts import Answer, Section

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER = 150
MAX_CONTEXT_TEXT = 2000
MAX_BUTTON_LABEL = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_FALLBACK_TEXT = 3000  # Slack allows 40,000; the fallback only feeds notifications
ELLIPSIS = "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What the user typed: Slack sends a slash command's `&`, `<` and `>` escaped, so
    `income > 50k` arrives as `income &gt; 50k`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marked with an ellipsis when cut (never
    inside an escape such as `&amp;`)."""
    if len(text) <= limit:
        return text
    return text[: safe_cut(text, limit - 1)].rstrip() + ELLIPSIS


ESCAPES = ("&amp;", "&lt;", "&gt;")


def safe_cut(text: str, at: int) -> int:
    """The last index ≤ `at` where `text` can be cut without halving an escape like `&lt;`."""
    start = text.rfind("&", max(0, at - 4), at)
    if start != -1 and any(text.startswith(escape, start) and start + len(escape) > at
                           for escape in ESCAPES):
        return start
    return at


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """`text` in chunks of at most `limit` characters, cut at line ends where possible."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single line longer than a section: cut it hard
            if current:
                chunks.append(current)
                current = ""
            cut = safe_cut(line, limit) or limit
            chunks.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            candidate = line
        current = candidate
    if current.strip():
        chunks.append(current)
    return [chunk.strip("\n") for chunk in chunks if chunk.strip()]


def answer_message(answer: Answer) -> dict[str, Any]:
    """The message payload for `respond()` / `chat.postMessage`: text, blocks, response type."""
    return {
        "text": fallback_text(answer),
        "blocks": [block.to_dict() for block in answer_blocks(answer)],
        "response_type": "in_channel" if answer.in_channel else "ephemeral",
    }


def fallback_text(answer: Answer) -> str:
    """What notifications and screen readers show: the title, or an error's text."""
    text = answer.sections[0].text if answer.is_error and answer.sections else answer.title
    return clip(escape(text or "segbot"), MAX_FALLBACK_TEXT)


def answer_blocks(answer: Answer) -> list[Block]:
    """The answer as at most 50 blocks, each within Block Kit's limits."""
    head: list[Block] = []
    if not answer.is_error:  # an error reads as one plain paragraph, without a banner
        head.append(HeaderBlock(text=PlainTextObject(
            text=clip(answer.title.strip() or "segbot", MAX_HEADER), emoji=False)))
    tail: list[Block] = []
    if answer.context.strip():
        tail.append(ContextBlock(elements=[MarkdownTextObject(
            text=clip(escape(answer.context), MAX_CONTEXT_TEXT))]))
    budget = MAX_BLOCKS - len(head) - len(tail)
    return head + fit_sections(answer.sections, budget) + tail


def fit_sections(sections: Sequence[Section], budget: int) -> list[Block]:
    """Blocks for `sections`, at most `budget` of them.

    Sections keep their own blocks (and buttons) for as long as the rest, packed as plain text,
    still fits; only when even packing everything is too long is the end cut.
    """
    per_section = [section_blocks(section) for section in sections]
    for kept in range(len(per_section), -1, -1):
        blocks = [block for blocks in per_section[:kept] for block in blocks]
        packed = [SectionBlock(text=MarkdownTextObject(text=chunk))
                  for chunk in split_text("\n\n".join(
                      _as_text(section) for section in sections[kept:]))]
        if len(blocks) + len(packed) <= budget:
            return blocks + packed
    # More text than 50 full sections hold: keep what fits, say how much was left out.
    blocks = [block for blocks in per_section for block in blocks]
    left_out = len(blocks) - (budget - 1)
    note = SectionBlock(text=MarkdownTextObject(
        text=f"{ELLIPSIS} {left_out} more part(s) of this answer did not fit in one message."))
    return blocks[: budget - 1] + [note]


def section_blocks(section: Section) -> list[Block]:
    """One section as blocks: long text split, fields in groups of ten, button on the first."""
    texts = split_text(escape(section.text))
    fields = [clip(escape(field), MAX_FIELD_TEXT) for field in section.fields if field.strip()]
    blocks: list[SectionBlock] = [SectionBlock(text=MarkdownTextObject(text=text))
                                  for text in texts]
    for start in range(0, len(fields), MAX_FIELDS):
        group = [MarkdownTextObject(text=field) for field in fields[start:start + MAX_FIELDS]]
        if start == 0 and len(blocks) == 1:
            blocks[0] = SectionBlock(text=blocks[0].text, fields=group)
        else:
            blocks.append(SectionBlock(fields=group))
    if section.button is not None and blocks:
        button = section.button
        first = blocks[0]
        blocks[0] = SectionBlock(text=first.text, fields=first.fields, accessory=ButtonElement(
            text=PlainTextObject(text=clip(button.label, MAX_BUTTON_LABEL), emoji=False),
            action_id=button.action.value[:MAX_ACTION_ID],
            value=button.value[:MAX_BUTTON_VALUE]))
    return list(blocks)


def _as_text(section: Section) -> str:
    """A section as plain mrkdwn lines, for packing many sections into few blocks."""
    lines = [section.text] + [field.replace("\n", ": ", 1) for field in section.fields]
    return escape("\n".join(line for line in lines if line.strip()))
