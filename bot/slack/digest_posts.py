"""The digest of a run: what changed since the last one, posted once to the digest channel.

`segbot digest --post` and the scheduled refresh post it (`bot.answers.digest` builds it). Every
post is claimed in the store first (one per run and channel), so a restart, a retried job or
a second process never posts the same digest twice; a post that failed is retried later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.answers.build import error_answer
from bot.answers.digest import digest_answer
from bot.answers.parts import Answer
from bot.answers.rendering import Renderer, render, render_all
from bot.clock import Clock, utc_now
from bot.settings import Settings
from bot.slack.blocks import answer_message
from bot.slack.replies import build_web_client
from bot.slack.web_api import Unconfirmed, Upload, describe, explain, post_once, upload_files
from segmentation.sources import TableSource
from storage.records import RunRecord
from storage.store import Store

log = logging.getLogger(__name__)


class DigestError(Exception):
    """The digest could not be posted; the message says why and what to do."""


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
    message_sent = delivery is not None and delivery.message_ts is not None
    try:
        answer = digest_answer(store, run.id, include_movers=include_movers)
        if not message_sent:  # a retry after the files failed sends only the files
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
    if delivery is None:  # the claim found no such run: pruned since it was read
        return f"run {run_id} is no longer in the store; nothing posted"
    if delivery.posted_at is not None:
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


def post_refresh_failure(client: WebClient, channel: str, cause: str, *,
                         data: TableSource | None,
                         serving: RunRecord | None, next_try: datetime | None) -> None:
    """Tell the digest channel a scheduled refresh failed, why, and what is served now."""
    source = f" from `{data.describe()}`" if data is not None else ""
    served = (f"Answers still come from run {serving.id} of "
              f"{serving.finished_at:%Y-%m-%d %H:%M} UTC." if serving is not None else
              "There are no segments yet.")
    retry = (f" The next scheduled refresh, {next_try:%a %d %b %H:%M %Z}, will try again."
             if next_try is not None else "")
    text = f":warning: The scheduled refresh{source} failed: {cause}\n{served}{retry}"
    client.chat_postMessage(channel=channel, **_message(error_answer(text)))


def movers_allowed(settings: Settings, channel: str) -> bool:
    """The movers CSV names customers: only to channels explicitly approved for such files."""
    return settings.customer_files_allowed_in(channel)


def digest_client(settings: Settings) -> WebClient:
    """The Web API client the digest is posted with, as the bot."""
    if settings.bot_token is None:
        raise DigestError("SLACK_BOT_TOKEN is not set: the digest is posted as the bot")
    return build_web_client(settings)


def digest_channel(settings: Settings) -> str:
    """SEGBOT_DIGEST_CHANNEL, or a DigestError saying it must be set."""
    if settings.digest_channel is None:
        raise DigestError("SEGBOT_DIGEST_CHANNEL is not set (a channel ID like C0123ABC)")
    return settings.digest_channel
