"""What a user may ask: the text after /segments, /cluster or /customer, parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from storage.conditions import ConditionError, parse_condition

MAX_TEXT = 200
_SEGMENT_ID = re.compile(r"^[0-9]{1,6}$")
_CUSTOMER_ID = re.compile(r"^[\w.\-:@]{1,64}$")  # ids may be non-ASCII
# "… where <condition>", with "export" last for the audience's CSV
_WHERE = re.compile(r"^(?P<head>.*?)\s*\bwhere\b(?P<condition>.*?)(?P<export>\s+export)?\s*$",
                    re.IGNORECASE | re.DOTALL)

HELP_TEXT = (
    "*segbot* answers questions about customer segments (each form, then an example):\n"
    "• `/segments` — the segments of the latest run, with sizes and what sets them apart\n"
    "• `/segments changes` — who moved between segments since the previous run\n"
    "• `/segments history` — each segment's share and key metrics over the refreshes, new "
    "and retired segments marked\n"
    "• `/segments compare A B` — two segments side by side, where they differ most and "
    "their actions: `/segments compare 1 2`\n"
    "• `/cluster N` — segment N in detail: description, action, profile chart: `/cluster 2`\n"
    "• `/cluster N history` — segment N over the refreshes, with what sets it apart: "
    "`/cluster 2 history`\n"
    "• `/cluster N export` — a CSV of segment N's customers for a campaign tool: "
    "`/cluster 2 export`\n"
    "• `/cluster N where …` — how many of segment N match a condition, and their profile: "
    "`/cluster 2 where income > 50k and education = PhD`\n"
    "• `/segments where …` — the same across all segments, by segment: "
    "`/segments where days since last purchase >= 60`\n"
    "• `… where … export` — a CSV of exactly that audience: "
    "`/cluster 2 where age between 30 and 45 export`\n"
    "• `/customer ID` — one customer's segment and how they compare (only you see it): "
    "`/customer 5524`\n"
    "• `/segments help` — this message"
)
CONDITION_HELP = (
    "*Conditions* combine `and`, `or`, `not` and parentheses: `income > 50000`, "
    "`age between 30 and 45`, `marital status in (Married, Together)`, `not complain`, "
    "`online share < 20%`, `income is missing`. Fields by the names answers show (or the "
    "column name), any case; numbers may be written `50,000`, `50k` or `20%`."
)


class UsageError(Exception):
    """The text after a command cannot be understood; the message says what is expected."""


class RequestKind(StrEnum):
    """What was asked; the value is what the audit log records for customer-level requests."""

    HELP = "help"
    OVERVIEW = "overview"
    CHANGES = "changes"
    SEGMENT = "segment"
    AUDIENCE = "audience"  # counts and means of customers matching a condition
    COMPARE = "compare"  # two segments side by side
    HISTORY = "history"  # every segment, or one, over the stored runs
    EXPORT = "export"
    CUSTOMER = "customer"

    @property
    def audited(self) -> bool:
        """Customer-level data: access-checked and written to the audit log first."""
        return self in (RequestKind.EXPORT, RequestKind.CUSTOMER)


@dataclass(frozen=True)
class Request:
    kind: RequestKind
    argument: str = ""  # a segment or customer id; empty for all segments
    condition: str = ""  # the text after `where`, already parsed once (checked)
    other: str = ""  # the second segment id of a comparison

    @property
    def audited(self) -> bool:
        return self.kind.audited

    @property
    def subject(self) -> str:
        """What the request is about, for the audit log: the segment and any condition."""
        if not self.condition:
            return self.argument
        return f"{self.argument or 'all segments'} where {self.condition}"


def parse_request(command: str, text: str) -> Request:
    """Validate what a user typed after /segments, /cluster or /customer."""
    command = command.strip().lower().lstrip("/")
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise UsageError(f"That is {len(text):,} characters; {_usage(command)}")
    where = _WHERE.match(text) if command in ("segments", "cluster") else None
    if where is not None:
        return _parse_where(command, where)
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
    if len(words) == 1 and words[0].lower() == "history":
        return Request(RequestKind.HISTORY)
    if words[0].lower() == "compare":
        return _parse_compare(words[1:])
    raise UsageError(_usage("segments"))


def _parse_compare(ids: list[str]) -> Request:
    """`/segments compare A B`: two different segment numbers."""
    if len(ids) != 2 or not all(_SEGMENT_ID.match(i) and int(i) >= 1 for i in ids):
        raise UsageError(_usage("compare"))
    first, second = (str(int(i)) for i in ids)
    if first == second:
        raise UsageError(f"Segment {first} compared with itself is the same segment: name two "
                         "different ones (e.g. `/segments compare 1 2`), or ask "
                         f"`/cluster {first}` about one.")
    return Request(RequestKind.COMPARE, first, other=second)


def _parse_cluster(words: list[str]) -> Request:
    if not words or len(words) > 2 or not _SEGMENT_ID.match(words[0]) or int(words[0]) < 1:
        raise UsageError(_usage("cluster"))
    if len(words) == 2:
        kind = _CLUSTER_ACTIONS.get(words[1].lower())
        if kind is None:
            raise UsageError(_usage("cluster"))
        return Request(kind, str(int(words[0])))
    return Request(RequestKind.SEGMENT, str(int(words[0])))


_CLUSTER_ACTIONS = {"export": RequestKind.EXPORT, "history": RequestKind.HISTORY}


def _parse_where(command: str, where: re.Match[str]) -> Request:
    """`/segments where …` or `/cluster N where …`, with `export` last for the CSV."""
    head, condition = where["head"].split(), where["condition"].strip()
    if command == "cluster":
        if len(head) != 1 or not _SEGMENT_ID.match(head[0]) or int(head[0]) < 1:
            raise UsageError(_usage("cluster"))
        segment = str(int(head[0]))
    elif head:
        raise UsageError(_usage("segments"))
    else:
        segment = ""
    try:
        parse_condition(condition)
    except ConditionError as error:
        raise UsageError(f"{error}. {CONDITION_HELP}") from None
    kind = RequestKind.EXPORT if where["export"] else RequestKind.AUDIENCE
    return Request(kind, segment, condition)


def _parse_customer(words: list[str]) -> Request:
    if len(words) != 1 or not _CUSTOMER_ID.match(words[0]):
        raise UsageError(_usage("customer"))
    return Request(RequestKind.CUSTOMER, words[0])


def _usage(command: str) -> str:
    return {
        "segments": "Usage: `/segments`, `/segments changes`, `/segments history`, "
                    "`/segments compare A B`, `/segments where CONDITION` or "
                    "`/segments help`.",
        "compare": "Usage: `/segments compare A B` with two different segment numbers from "
                   "`/segments` (e.g. `/segments compare 1 2`).",
        "cluster": "Usage: `/cluster N`, `/cluster N export`, `/cluster N history` or "
                   "`/cluster N where CONDITION`, where N is a segment number from `/segments` "
                   "(e.g. `/cluster 2`).",
        "customer": "Usage: `/customer ID` with one customer id (letters, digits, `-_.:@`; "
                    "e.g. `/customer 5524`).",
    }.get(command, "Try `/segments help`.")
