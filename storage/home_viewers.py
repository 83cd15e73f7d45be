"""Who has opened segbot's Home tab: the people whose Home is published again with each run.

One row per user, written when they open the Home. The channel is their direct-message
conversation with the bot, where Slack shows the Home tab and where a click on it is answered.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from storage.codec import utc_iso

_UPSERT = """
    INSERT INTO home_viewers (user_id, channel_id, opened_at) VALUES (?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET
        channel_id = coalesce(excluded.channel_id, home_viewers.channel_id),
        opened_at = excluded.opened_at
"""


@dataclass(frozen=True)
class HomeViewer:
    """Someone who has opened the Home tab, and when they last did."""

    user_id: str
    channel_id: str | None  # their DM with the bot, when Slack said which
    opened_at: datetime


def record_opened(conn: sqlite3.Connection, user_id: str, channel_id: str | None,
                  at: datetime) -> None:
    """Remember that ``user_id`` opened the Home at ``at`` (keeping a known channel)."""
    conn.execute(_UPSERT, [user_id, channel_id or None, utc_iso(at, "at")])


def viewers(conn: sqlite3.Connection) -> list[HomeViewer]:
    """Everyone who has opened the Home, most recent first."""
    rows = conn.execute("SELECT user_id, channel_id, opened_at FROM home_viewers "
                        "ORDER BY opened_at DESC, user_id").fetchall()
    return [HomeViewer(user_id, channel_id, datetime.fromisoformat(opened_at))
            for user_id, channel_id, opened_at in rows]


def forget(conn: sqlite3.Connection, user_id: str) -> bool:
    """Stop publishing the Home to ``user_id``; False if they were not listed."""
    return conn.execute("DELETE FROM home_viewers WHERE user_id = ?", [user_id]).rowcount == 1
