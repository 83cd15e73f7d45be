"""Digest deliveries: one row per (run, channel), claimed before anything is posted.

A claim is a single UPSERT, so two processes (or a restarted job) racing for the same digest
cannot both win. Posting is at most once: a claim whose post never finished (the process died
mid-post) stays "posting" and is not retried, since nobody can tell whether Slack got it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from storage.codec import utc_iso


class DeliveryStatus(StrEnum):
    """Where one digest delivery stands; the value is what the status column holds."""

    POSTING = "posting"  # claimed; the post is under way, or died without confirmation
    POSTED = "posted"
    FAILED = "failed"  # claimed again at the next attempt


_COLUMNS = "run_id, channel, status, attempts, claimed_at, message_ts, posted_at, error"

# A new claim inserts; a failed one is claimed again; a posting or posted one is left alone
# (the WHERE makes the upsert change nothing, so rowcount tells who won).
# One statement, so it takes the write lock before reading anything: a read first would make
# a racing writer's commit fail this transaction instead of making it wait.
_CLAIM = f"""
    INSERT INTO digest_deliveries (run_id, channel, status, attempts, claimed_at)
    SELECT id, ?, '{DeliveryStatus.POSTING}', 1, ? FROM runs WHERE id = ?
    ON CONFLICT (run_id, channel) DO UPDATE SET
        status = '{DeliveryStatus.POSTING}', attempts = attempts + 1,
        claimed_at = excluded.claimed_at, error = NULL
    WHERE digest_deliveries.status = '{DeliveryStatus.FAILED}'
"""


@dataclass(frozen=True)
class Delivery:
    """Where one run's digest stands in one channel."""

    run_id: int
    channel: str
    status: DeliveryStatus
    attempts: int
    claimed_at: datetime | None
    message_ts: str | None  # set once the message is in the channel, even if files failed
    posted_at: datetime | None
    error: str | None


def claim(conn: sqlite3.Connection, run_id: int, channel: str, at: datetime) -> bool:
    """Claim the digest of ``run_id`` for ``channel``; False if posted, being posted, or
    there is no such run."""
    return conn.execute(_CLAIM, [channel, utc_iso(at, "at"), run_id]).rowcount == 1


def record_message(conn: sqlite3.Connection, run_id: int, channel: str, ts: str) -> None:
    """Remember that the digest message itself is in the channel (its files may follow)."""
    conn.execute("UPDATE digest_deliveries SET message_ts = ? WHERE run_id = ? AND channel = ?",
                 [ts, run_id, channel])


def mark_posted(conn: sqlite3.Connection, run_id: int, channel: str, at: datetime) -> None:
    """Record that the digest and its files are in the channel."""
    conn.execute(f"UPDATE digest_deliveries SET status = '{DeliveryStatus.POSTED}', "
                 "posted_at = ?, error = NULL WHERE run_id = ? AND channel = ?",
                 [utc_iso(at, "at"), run_id, channel])


def mark_failed(conn: sqlite3.Connection, run_id: int, channel: str, error: str) -> None:
    """Record that the post failed with ``error``, so the next attempt may claim it again."""
    conn.execute(f"UPDATE digest_deliveries SET status = '{DeliveryStatus.FAILED}', error = ? "
                 "WHERE run_id = ? AND channel = ?", [error, run_id, channel])


def mark_unconfirmed(conn: sqlite3.Connection, run_id: int, channel: str, error: str) -> None:
    """Leave the claim "posting" with why: Slack may have posted, so it is never retried."""
    conn.execute("UPDATE digest_deliveries SET error = ? WHERE run_id = ? AND channel = ?",
                 [error, run_id, channel])


def get(conn: sqlite3.Connection, run_id: int, channel: str) -> Delivery | None:
    """Where run ``run_id``'s digest stands in ``channel``, or None if never claimed."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM digest_deliveries WHERE run_id = ? AND "
                       "channel = ?", [run_id, channel]).fetchone()
    return None if row is None else _delivery(row)


def failed(conn: sqlite3.Connection) -> list[Delivery]:
    """Deliveries whose last attempt failed, oldest run first: to retry."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM digest_deliveries WHERE status = ? "
                        "ORDER BY run_id, channel", [DeliveryStatus.FAILED]).fetchall()
    return [_delivery(row) for row in rows]


def _delivery(row: tuple) -> Delivery:
    run_id, channel, status, attempts, claimed_at, message_ts, posted_at, error = row
    return Delivery(run_id, channel, DeliveryStatus(status), attempts, _moment(claimed_at),
                    message_ts, _moment(posted_at), error)


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
