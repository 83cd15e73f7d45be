"""The digest of a run: what changed since the last one, posted once to the digest channel.

`segbot digest` prints it; `segbot digest --post` and the scheduled refresh post it. Every
post is claimed in the store first (one per run and channel), so a restart, a retried job or
a second process never posts the same digest twice; a post that failed is retried later.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot import comparison as compare
from bot import terminal
from bot.answers import Answer, Attachment, Chart, Section, error_answer, run_context
from bot.blocks import answer_message
from bot.csv_files import csv_bytes
from bot.delivery import Renderer, build_web_client, render, render_all
from bot.settings import Settings, load_settings
from bot.slack_api import Unconfirmed, Upload, describe, explain, post_once, upload_files
from storage.errors import StoreError
from storage.records import RunRecord
from storage.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_MOVES = 5
MAX_QUALITY_NOTES = 8
MOVERS_WITHHELD = ("The list of customers who moved is not attached here, since it names "
                   "customers: add this channel's ID to SEGBOT_ALLOWED_CHANNELS to have it "
                   "attached, or export a segment with `/cluster N export`.")


class DigestError(Exception):
    """The digest could not be posted; the message says why and what to do."""


def utc_now() -> datetime:
    return datetime.now(UTC)


# -- building ------------------------------------------------------------------------------


def digest_answer(store: Store, run_id: int | None = None, *,
                  include_movers: bool = True) -> Answer:
    """The digest of run `run_id` (default: current) with its charts and the movers CSV.

    Without `include_movers` (a channel not approved for customer files) the CSV is left out
    and one line says how to have it attached.
    """
    cmp = compare.load_comparison(store, run_id)
    run = cmp.run
    sections = [Section(_opening(cmp)), Section("*Segment sizes*\n" + _bullets(
        compare.size_lines(cmp)))]
    if cmp.previous is not None:
        sections.append(Section(_movement_text(cmp)))
    for heading, lines in (("New segments", compare.new_segment_lines(cmp)),
                           ("Retired segments", compare.retired_lines(cmp))):
        if lines:
            sections.append(Section(f"*{heading}*\n" + _bullets(lines)))
    sections.append(Section("*Data quality*\n" + _bullets(quality_notes(run))))
    sections.append(Section(_model_text(run)))
    movers = _movers_file(store, cmp)
    if movers and not include_movers:
        sections.append(Section(MOVERS_WITHHELD))
    return Answer(f"Segments digest · {run.finished_at:%a %d %b %Y}", tuple(sections),
                  run_context(run), charts=digest_charts(cmp),
                  files=movers if include_movers else (), in_channel=True)


def _opening(cmp: compare.Comparison) -> str:
    run = cmp.run
    text = (f"*Run {run.id}*, refreshed {run.finished_at:%Y-%m-%d %H:%M} UTC from "
            f"`{Path(run.source).name}`: {run.rows_in:,} rows read, {run.rows_kept:,} customers "
            f"in {run.k} segments.")
    if cmp.previous is None:
        return text + " This is the first run, so there is nothing to compare with yet."
    return text + (f" Compared with run {cmp.previous.id} of "
                   f"{cmp.previous.finished_at:%Y-%m-%d}.")


def _movement_text(cmp: compare.Comparison) -> str:
    moves = compare.biggest_moves(cmp, MAX_MOVES)
    lines = ["*What changed*", compare.flow_summary(cmp)]
    lines += [f"• {move}" for move in moves] or ["• Nobody changed segment."]
    return "\n".join(lines)


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"• {line}" for line in lines) if lines else "• none"


def quality_notes(run: RunRecord) -> list[str]:
    """Rows dropped and why first, then the other cleaning steps, as short lines."""
    steps = sorted(run.cleaning.steps, key=lambda s: s.action != "dropped rows")
    notes = [f"{run.rows_dropped:,} of {run.rows_in:,} rows left out"
             if run.rows_dropped else f"All {run.rows_in:,} rows kept"]
    for step in steps[:MAX_QUALITY_NOTES]:
        where = f" ({step.column})" if step.column else ""
        notes.append(f"{step.action} ×{step.count:,}{where}: {step.reason}")
    if len(steps) > MAX_QUALITY_NOTES:
        notes.append(f"and {len(steps) - MAX_QUALITY_NOTES} more cleaning steps "
                     "(`segbot refresh` prints them all)")
    return notes


def _model_text(run: RunRecord) -> str:
    quality = (f" · silhouette {run.silhouette:.2f} (0 = segments overlap, 1 = cleanly "
               "separated)" if run.silhouette is not None else "")
    return f"*Model quality*\nk = {run.k}{quality}\n{run.k_reason}"


def digest_charts(cmp: compare.Comparison) -> tuple[Attachment, ...]:
    """The migration heatmap (when there is a previous run) and the segment sizes."""
    run, segments = cmp.run, cmp.segments
    sizes = Attachment(f"sizes-run{run.id}.png", f"Customers per segment, run {run.id}",
                       Chart("render_sizes_chart", (segments,)))
    if not cmp.has_movement:
        return (sizes,)
    migration = Attachment(
        f"migration-run{cmp.previous.id}-to-run{run.id}.png",
        f"Where customers moved between run {cmp.previous.id} and run {run.id}",
        Chart("render_migration_chart", (compare.migration_matrix(cmp),)))
    return (migration, sizes)


def _movers_file(store: Store, cmp: compare.Comparison) -> tuple[Attachment, ...]:
    if not cmp.has_movement or not cmp.flows().moved:  # no CSV of nobody
        return ()
    run_id = cmp.run.id
    return (Attachment(f"movers-run{run_id}.csv",
                       f"Customers who changed segment since run {cmp.previous.id}",
                       lambda: csv_bytes(store.movers(run_id))),)


# -- posting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostOutcome:
    """What `post_digest` did: posted now, or found it posted (or being posted) already."""

    run_id: int
    channel: str
    posted: bool
    detail: str


def post_digest(store: Store, client: WebClient, channel: str, *, run_id: int | None = None,
                include_movers: bool = True, now: Clock = utc_now,
                renderer: Renderer = render) -> PostOutcome:
    """Post run `run_id`'s digest (default: current) to `channel`, unless already posted.

    The message and its files are two parts; a retry sends only the part still missing. Raises
    `DigestError` when Slack refuses or cannot be reached: the delivery is then pending and is
    retried at the next start or scheduled refresh. A post Slack may have carried out without
    confirming it is left unconfirmed and never repeated, so that it cannot appear twice.
    """
    run = store.get_run(run_id) if run_id is not None else store.current_run()
    if run is None:
        raise DigestError("no published run yet: nothing to post")
    if not store.claim_delivery(run.id, channel, at=now()):
        return PostOutcome(run.id, channel, False, _already(store, run.id, channel))
    delivery = store.get_delivery(run.id, channel)
    try:
        answer = digest_answer(store, run.id, include_movers=include_movers)
        if delivery.message_ts is None:  # a retry after the files failed sends only them
            response = post_once("the digest message", lambda: client.chat_postMessage(
                channel=channel, **_message(answer)))
            store.record_digest_message(run.id, channel, response["ts"])
        _upload(client, channel, answer, renderer)
    except Unconfirmed as error:
        store.mark_unconfirmed(run.id, channel, describe(error.cause))
        raise DigestError(_explain(error, channel)) from error
    except (SlackClientError, OSError, HTTPException) as error:
        store.mark_failed(run.id, channel, describe(error))
        raise DigestError(_explain(error, channel)) from error
    except Exception as error:  # recorded as pending, then reported: never lost silently
        store.mark_failed(run.id, channel, describe(error))
        raise
    store.mark_delivered(run.id, channel, at=now())
    return PostOutcome(run.id, channel, True, f"digest of run {run.id} posted to {channel}")


def _message(answer: Answer) -> dict:
    message = answer_message(answer)
    return {"text": message["text"], "blocks": message["blocks"]}


def _upload(client: WebClient, channel: str, answer: Answer, renderer: Renderer) -> None:
    """The charts and the CSV as one message under the digest."""
    attachments = answer.charts + answer.files
    contents = render_all(renderer, attachments)
    upload_files(client, channel, [Upload(content, a.filename, a.title, a.title)
                                   for a, content in zip(attachments, contents, strict=True)])


def _already(store: Store, run_id: int, channel: str) -> str:
    delivery = store.get_delivery(run_id, channel)
    if delivery is not None and delivery.posted_at is not None:
        return (f"the digest of run {run_id} was already posted to {channel} at "
                f"{delivery.posted_at:%Y-%m-%d %H:%M} UTC; nothing posted")
    why = f" ({delivery.error})" if delivery.error else ""
    return (f"the digest of run {run_id} to {channel} was claimed at "
            f"{delivery.claimed_at:%Y-%m-%d %H:%M} UTC and never confirmed{why}: a post in "
            "progress, or one Slack may have taken without saying so; nothing posted, so that "
            "it cannot appear twice — check the channel")


def _explain(error: BaseException, channel: str) -> str:
    """Why the digest did not reach `channel`, and what happens or must happen next."""
    if isinstance(error, Unconfirmed):
        return (f"{error} in {channel}; it is not posted again by itself, so that it cannot "
                "appear twice — check the channel")
    problem = explain(error, where=channel)
    if problem.lasting:
        return f"the digest could not be posted to {channel}: {problem.text}"
    return (f"the digest could not be posted to {channel}: {problem.text}; it is retried at "
            "the bot's next start or scheduled refresh")


def retry_pending_digests(store: Store, client: WebClient, *, now: Clock = utc_now,
                          movers_to: Callable[[str], bool] = lambda channel: True,
                          renderer: Renderer = render) -> list[PostOutcome]:
    """Post again every digest whose last post failed, oldest run first.

    `movers_to(channel)` says whether the movers CSV may go to that channel.
    """
    outcomes = []
    for delivery in store.pending_deliveries():
        try:
            outcomes.append(post_digest(store, client, delivery.channel,
                                        run_id=delivery.run_id, now=now,
                                        include_movers=movers_to(delivery.channel),
                                        renderer=renderer))
        except DigestError as error:
            log.warning("digest of run %s still not posted: %s", delivery.run_id, error)
    return outcomes


def post_refresh_failure(client: WebClient, channel: str, cause: str, *, data: Path | None,
                         serving: RunRecord | None, next_try: datetime | None) -> None:
    """Tell the digest channel a scheduled refresh failed, why, and what is served now."""
    source = f" from `{data}`" if data is not None else ""
    served = (f"Answers still come from run {serving.id} of "
              f"{serving.finished_at:%Y-%m-%d %H:%M} UTC." if serving is not None else
              "There are no segments yet.")
    retry = (f" The next scheduled refresh, {next_try:%a %d %b %H:%M %Z}, will try again."
             if next_try is not None else "")
    text = f":warning: The scheduled refresh{source} failed: {cause}\n{served}{retry}"
    client.chat_postMessage(channel=channel, **_message(error_answer(text)))


# -- the command ---------------------------------------------------------------------------


def digest_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """`segbot digest [--post]`: print the current run's digest, or post it once."""
    settings = load_settings(environ, require_slack=False)  # errors: exit 2 in cli.main
    store = Store(args.db)
    if not args.post:
        answer = digest_answer(store)
        print(terminal.render_text(answer), end="")
        for attachment in answer.charts + answer.files:
            print(f"attached when posted: {attachment.filename} — {attachment.title}")
        return 0
    try:
        channel = _channel(settings)
        outcome = post_digest(store, _client(settings), channel,
                              include_movers=movers_allowed(settings, channel))
    except (DigestError, StoreError) as error:
        print(f"segbot: error: {error}", file=sys.stderr)
        return 2
    print(outcome.detail)
    return 0


def movers_allowed(settings: Settings, channel: str) -> bool:
    """The movers CSV names customers: only to channels explicitly approved for such files."""
    return settings.customer_files_allowed_in(channel)


def _client(settings: Settings) -> WebClient:
    if settings.bot_token is None:
        raise DigestError("SLACK_BOT_TOKEN is not set: the digest is posted as the bot")
    return build_web_client(settings)


def _channel(settings: Settings) -> str:
    if settings.digest_channel is None:
        raise DigestError("SEGBOT_DIGEST_CHANNEL is not set (a channel ID like C0123ABC)")
    return settings.digest_channel
