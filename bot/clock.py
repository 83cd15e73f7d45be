"""The one clock: what time it is, passed in wherever a test needs to choose the answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, in UTC: the default `Clock`."""
    return datetime.now(UTC)
