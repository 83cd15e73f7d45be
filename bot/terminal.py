"""Render an Answer as plain terminal text."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from bot.answers import Answer, Attachment

_BOLD = re.compile(r"\*([^*\n]+)\*")
_CODE = re.compile(r"`([^`\n]+)`")


def plain(text: str) -> str:
    """Slack mrkdwn to plain text: *bold* and `code` lose their marks."""
    return _CODE.sub(r"\1", _BOLD.sub(r"\1", text))


def render_text(answer: Answer) -> str:
    """The answer as it reads in a terminal: title, paragraphs, fields in columns."""
    lines = [answer.title, "=" * min(len(answer.title), 78)]
    for section in answer.sections:
        lines.append(plain(section.text))
        for field in section.fields:
            label, _, value = plain(field).partition("\n")
            lines.append(f"  {label:<28} {value}")
        lines.append("")
    if answer.context:
        lines.extend(textwrap.wrap(answer.context, 100))
    return "\n".join(lines).rstrip() + "\n"


def write_attachments(attachments: tuple[Attachment, ...], folder: Path) -> list[Path]:
    """Render each attachment into `folder`; return the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for attachment in attachments:
        path = folder / attachment.filename
        path.write_bytes(attachment.render())
        written.append(path)
    return written
