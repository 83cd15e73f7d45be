"""Answers and runs as plain terminal text."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from bot.answers.parts import Answer, Attachment
from segmentation.result import ORDER_ROLE_PREFIX, order_roles
from storage.records import RunRecord
from storage.store import Store

_BOLD = re.compile(r"\*([^*\n]+)\*")
_CODE_SPAN = re.compile(r"(`[^`\n]+`)")
# how segmentation.schema words a column of numbers it reads as codes: "… (1/2/3)"
_CODES_REASON = re.compile(r"^numbers used as codes \((?P<values>[^)]*)\)$")


def plain(text: str) -> str:
    """Slack mrkdwn to plain text: *bold* and `code` lose their marks; code keeps its *s."""
    parts = _CODE_SPAN.split(text)  # odd items are the code spans
    return "".join(part[1:-1] if odd else _BOLD.sub(r"\1", part)
                   for part, odd in zip(parts, [i % 2 == 1 for i in range(len(parts))],
                                        strict=True))


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


def refresh_summary(run: RunRecord, store: Store) -> str:
    """What a refresh did: rows kept and dropped and why, k and why, the segments."""
    lines = [f"Run {run.id} published from {run.source}"]
    if order_roles(run.columns):
        lines.extend(orders_summary(run))
    else:
        lines.append(f"  rows: {run.rows_in:,} read, {run.rows_kept:,} kept, "
                     f"{run.rows_dropped:,} dropped")
    lines.extend(schema_summary(run))
    if run.cleaning.steps:
        lines.append("  cleaning:")
    for step in run.cleaning.steps:
        where = f"{step.column}: " if step.column else ""
        lines.append(f"    - {where}{step.action} ×{step.count:,} — {step.reason}")
    if run.forecast is not None:
        from segmentation.forecast import describe_forecast  # the engine: after a refresh only

        lines.append("  forecast:")
        lines.extend(f"    - {line}" for line in describe_forecast(run.forecast))
    quality = f" (silhouette {run.silhouette:.2f})" if run.silhouette is not None else ""
    lines.append(f"  k = {run.k}{quality}: {run.k_reason}")
    lines.append("  segments:")
    for segment in store.list_segments(run.id):
        lines.append(f"    {segment.segment_id:>2} · {segment.name} — {segment.size:,} "
                     f"({segment.share:.0%})")
    return "\n".join(lines)


def orders_summary(run: RunRecord) -> list[str]:
    """How an order history was read: rows to customers, as of when, which column was what."""
    used = run.rows_in - run.rows_dropped
    lines = [f"  read as orders: {run.rows_in:,} rows → {run.rows_kept:,} customers, "
             f"as of {run.as_of}",
             f"  rows: {run.rows_in:,} read, {used:,} used, {run.rows_dropped:,} dropped",
             "  order columns:"]
    lines += [f"    {d.role.removeprefix(ORDER_ROLE_PREFIX):<9} {d.column} — {d.reason}"
              for d in run.columns if d.role.startswith(ORDER_ROLE_PREFIX)]
    return lines


def schema_summary(run: RunRecord) -> list[str]:
    """The column decisions a user should check: id, what was clustered on, what was dropped."""
    by_role: dict[str, list[str]] = {}
    for decision in run.columns:
        by_role.setdefault(decision.role, []).append(decision.column)
    dropped = [f"{d.column} ({d.reason})" for d in run.columns if d.role == "dropped"]
    lines = [] if order_roles(run.columns) else [f"  id: {', '.join(by_role.get('id', ['?']))}"]
    lines.append(f"  clustered on: {', '.join(run.features)}")
    if by_role.get("categorical"):
        lines.append(f"  categories: {', '.join(by_role['categorical'])}")
    codes = [f"{d.column} ({match['values']})" for d in run.columns
             if d.role == "categorical" and (match := _CODES_REASON.match(d.reason))]
    if codes:
        lines.append(f"  read as codes, not amounts: {', '.join(codes)}")
    if by_role.get("date"):
        lines.append(f"  dates (as days before {run.as_of}): {', '.join(by_role['date'])}")
    if dropped:
        lines.append(f"  columns not used: {'; '.join(dropped)}")
    return lines
