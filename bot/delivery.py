"""Deliver an Answer in Slack: the message through `response_url`, then its charts and files.

The text goes first so the user reads the answer while charts render. A Slack error while
uploading never loses the answer: the user gets a short note saying what went wrong (for a
channel the bot is not in: how to invite it). Rate limits (429 + Retry-After) and 5xx answers
are retried by slack-sdk's retry handlers before anything is reported.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.webhook import WebhookClient

from bot.answers import Answer, Attachment
from bot.blocks import answer_message, clip, escape
from bot.settings import Settings

log = logging.getLogger(__name__)

INVITE = "invite me with `/invite @segbot`"
NOT_A_MEMBER = frozenset({"not_in_channel", "channel_not_found"})
PRIVATE_CHARTS = "chart: in your direct messages with segbot"
TIMEOUT = 30  # seconds per HTTP call to Slack

Renderer = Callable[[Attachment], bytes]


def render(attachment: Attachment) -> bytes:
    """Draw a chart or write a file: the default renderer."""
    return attachment.render()


def render_all(renderer: Renderer, attachments: Sequence[Attachment]) -> list[bytes]:
    """Every attachment's bytes, in order: side by side where the renderer can do that
    (`bot.rendering.ChartProcesses`), else one after another."""
    side_by_side = getattr(renderer, "render_all", None)
    if side_by_side is not None:
        return side_by_side(attachments)
    return [renderer(attachment) for attachment in attachments]


def bounded(renderer: Renderer, slots: int) -> Renderer:
    """`renderer`, drawing at most `slots` attachments at once whatever the burst of requests."""
    semaphore = threading.BoundedSemaphore(slots)

    def render_in_slot(attachment: Attachment) -> bytes:
        with semaphore:
            return renderer(attachment)

    return render_in_slot


def retry_handlers() -> list[RetryHandler]:
    """Retry dropped connections once, and 429s (after Retry-After) and 5xx twice."""
    return [ConnectionErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2)]


def build_web_client(settings: Settings) -> WebClient:
    """The Web API client: every call and file upload goes to `settings.slack_api_url`."""
    return WebClient(token=settings.bot_token, base_url=settings.slack_api_url,
                     timeout=TIMEOUT, retry_handlers=retry_handlers())


@dataclass(frozen=True)
class Target:
    """Where an answer goes: who asked, in which channel, and the request's response_url."""

    user_id: str
    channel_id: str
    response_url: str
    from_button: bool = False  # answers to a button click must not replace the message


class ResponseUrl:
    """Posts messages to one response_url, with the same retries as the Web API."""

    def __init__(self, url: str):
        self.url = url
        self._client = WebhookClient(url, timeout=TIMEOUT, retry_handlers=retry_handlers())

    def post(self, message: dict[str, Any]) -> bool:
        """Post `message`; False (and a log line) when Slack did not take it."""
        try:
            response = self._client.send_dict(message)
        except (SlackClientError, OSError) as error:
            log.warning("response_url post failed: %s", error)
            return False
        if response.status_code != 200:
            log.warning("response_url answered %s: %s", response.status_code,
                        clip(response.body or "", 200))
            return False
        return True


def notice(text: str, *, from_button: bool = False) -> dict[str, Any]:
    """A short ephemeral message, e.g. an upload problem or a refusal."""
    message: dict[str, Any] = {"text": clip(escape(text), 3000), "response_type": "ephemeral"}
    if from_button:
        message["replace_original"] = False
    return message


def deliver(answer: Answer, target: Target, client: WebClient, *,
            renderer: Renderer = render) -> None:
    """Send `answer` to `target`: the message first, then each chart and file."""
    reply = ResponseUrl(target.response_url)
    if answer.charts and not answer.in_channel:
        answer = replace(answer, context=" · ".join(
            part for part in (answer.context, PRIVATE_CHARTS) if part))
    message = answer_message(answer)
    if target.from_button:
        message["replace_original"] = False
    reply.post(message)
    problems = upload_attachments(answer, target, client, renderer)
    if problems:
        reply.post(notice("\n".join(problems), from_button=target.from_button))


def upload_attachments(answer: Answer, target: Target, client: WebClient,
                       renderer: Renderer) -> list[str]:
    """Upload the answer's charts and files; the problems met, as lines for the user.

    Files (CSV exports) go to the channel where the command was used. Charts of a private
    answer (a customer) go to the asker's direct messages with the bot: uploading them to the
    channel would show everyone what only the asker may see.
    """
    uploads = ([(chart, not answer.in_channel) for chart in answer.charts]
               + [(file, False) for file in answer.files])
    problems: list[str] = []
    for attachment, private in uploads:
        try:
            channel = direct_channel(client, target.user_id) if private else target.channel_id
            data = renderer(attachment)
            client.files_upload_v2(channel=channel, filename=attachment.filename,
                                   title=attachment.title, alt_txt=clip(attachment.title, 1000),
                                   content=data)
        except SlackApiError as error:
            code = error.response.get("error", "unknown_error")
            if code in NOT_A_MEMBER and not private:
                problems.append(f"I'm not a member of this channel, so I couldn't post "
                                f"{attachment.filename} here: {INVITE}, then ask again.")
                break  # every other upload to this channel would fail the same way
            problems.append(f"Slack refused {attachment.filename} ({code}); the answer above "
                            "is complete, try again in a minute for the file.")
            log.warning("upload of %s refused: %s", attachment.filename, code)
        except (SlackClientError, OSError) as error:
            problems.append(f"I couldn't reach Slack to upload {attachment.filename}; "
                            "try again in a minute.")
            log.warning("upload of %s failed: %s", attachment.filename, error)
    return problems


def direct_channel(client: WebClient, user_id: str) -> str:
    """The ID of the direct-message channel between the bot and `user_id`."""
    return client.conversations_open(users=user_id)["channel"]["id"]
