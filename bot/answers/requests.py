"""What a user may ask: the text after /segments, /cluster or /customer, parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

MAX_TEXT = 200
_SEGMENT_ID = re.compile(r"^[0-9]{1,6}$")
_CUSTOMER_ID = re.compile(r"^[\w.\-:@]{1,64}$")  # ids may be non-ASCII

HELP_TEXT = (
    "*segbot* answers questions about customer segments:\n"
    "• `/segments` — the segments of the latest run, with sizes and what sets them apart\n"
    "• `/segments changes` — who moved between segments since the previous run\n"
    "• `/cluster N` — segment N in detail: description, action, profile chart\n"
    "• `/cluster N export` — a CSV of segment N's customers for a campaign tool\n"
    "• `/customer ID` — one customer's segment and how they compare (only you see it)\n"
    "• `/segments help` — this message"
)


class UsageError(Exception):
    """The text after a command cannot be understood; the message says what is expected."""


class RequestKind(StrEnum):
    """What was asked; the value is what the audit log records for customer-level requests."""

    HELP = "help"
    OVERVIEW = "overview"
    CHANGES = "changes"
    SEGMENT = "segment"
    EXPORT = "export"
    CUSTOMER = "customer"

    @property
    def audited(self) -> bool:
        """Customer-level data: access-checked and written to the audit log first."""
        return self in (RequestKind.EXPORT, RequestKind.CUSTOMER)


@dataclass(frozen=True)
class Request:
    kind: RequestKind
    argument: str = ""

    @property
    def audited(self) -> bool:
        return self.kind.audited


def parse_request(command: str, text: str) -> Request:
    """Validate what a user typed after /segments, /cluster or /customer."""
    command = command.strip().lower().lstrip("/")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise UsageError(f"That is {len(text):,} characters; {_usage(command)}")
    words = text.split()
    if command == "segments":
        return _parse_segments(words)
    if command == "cluster":
        return _parse_cluster(words)
    if command == "customer":
        return _parse_customer(words)
    raise UsageError(f"Unknown command /{command}. Try `/segments help`.")


def _parse_segments(words: list[str]) -> Request:
    if not words:
        return Request(RequestKind.OVERVIEW)
    if len(words) == 1 and words[0].lower() == "help":
        return Request(RequestKind.HELP)
    if len(words) == 1 and words[0].lower() == "changes":
        return Request(RequestKind.CHANGES)
    raise UsageError(_usage("segments"))


def _parse_cluster(words: list[str]) -> Request:
    if not words or len(words) > 2 or not _SEGMENT_ID.match(words[0]) or int(words[0]) < 1:
        raise UsageError(_usage("cluster"))
    if len(words) == 2:
        if words[1].lower() != "export":
            raise UsageError(_usage("cluster"))
        return Request(RequestKind.EXPORT, str(int(words[0])))
    return Request(RequestKind.SEGMENT, str(int(words[0])))


def _parse_customer(words: list[str]) -> Request:
    if len(words) != 1 or not _CUSTOMER_ID.match(words[0]):
        raise UsageError(_usage("customer"))
    return Request(RequestKind.CUSTOMER, words[0])


def _usage(command: str) -> str:
    return {
        "segments": "Usage: `/segments`, `/segments changes` or `/segments help`.",
        "cluster": "Usage: `/cluster N` or `/cluster N export`, where N is a segment number "
                   "from `/segments` (e.g. `/cluster 2`).",
        "customer": "Usage: `/customer ID` with one customer id (letters, digits, `-_.:@`; "
                    "e.g. `/customer 5524`).",
    }.get(command, "Try `/segments help`.")
