"""Reply to a request in Slack: the message through `response_url`, then its charts and files.

The text goes first so the user reads the answer while charts render. Customer-level files (a
segment's CSV) go to the asker's direct messages with the bot unless the channel is explicitly
approved for them (SEGBOT_ALLOWED_CHANNELS), and the answer says where they went. A post is never
repeated once Slack may have acted on it (`bot.slack.web_api`): when Slack does not confirm the
answer, the user is told so instead, and an upload that fails is explained in a short note
(what an admin must change, or "try again" when the problem passes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.answers.parts import Answer, Section
from bot.answers.rendering import Renderer, render
from bot.settings import Settings
from bot.slack.blocks import answer_message, clip, escape
from bot.slack.web_api import (
    ChannelPost,
    Posted,
    ResponseUrl,
    SlackProblem,
    Upload,
    direct_channel,
    explain,
    upload_files,
)
from bot.slack.web_api import build_web_client as _web_client

log = logging.getLogger(__name__)

PRIVATE_CHARTS = "chart: in your direct messages with segbot"
FILES_TO_DM = ("The CSV is coming to your direct messages with segbot: it lists customers, "
               "and this channel is not approved for customer files (SEGBOT_ALLOWED_CHANNELS).")
FILES_TO_CHANNEL = ("The CSV is posted in this channel, which is approved for customer files "
                    "(SEGBOT_ALLOWED_CHANNELS).")
UNCONFIRMED = ("Slack did not confirm that my answer arrived. If you don't see it above, ask "
               "again in a minute.")

def build_web_client(settings: Settings) -> WebClient:
    """The Web API client: every call and file upload goes to `settings.slack_api_url`."""
    return _web_client(settings.bot_token, settings.slack_api_url)


@dataclass(frozen=True)
class Target:
    """Where an answer goes: who asked, in which channel, and the request's response_url."""

    user_id: str
    channel_id: str
    response_url: str | None  # None: a click on the Home tab, answered in channel_id (the DM)
    from_button: bool = False  # answers to a button click must not replace the message
    channel_name: str = ""  # Slack's "directmessage" and "mpdm-…" mark conversations

    @property
    def in_conversation(self) -> bool:
        """A direct message or group DM: people talk there, nobody invites a bot."""
        return (self.channel_id.startswith("D") or self.channel_name == "directmessage"
                or self.channel_name.startswith("mpdm-"))


@dataclass(frozen=True)
class Shared:
    """A chart or file that reached Slack, and the channel it was shared in."""

    filename: str
    channel: str


def notice(text: str, *, from_button: bool = False) -> dict[str, Any]:
    """A short ephemeral message, e.g. an upload problem or a refusal."""
    message: dict[str, Any] = {"text": clip(escape(text), 3000), "response_type": "ephemeral"}
    if from_button:
        message["replace_original"] = False
    return message


def deliver(answer: Answer, target: Target, client: WebClient, *,
            renderer: Renderer = render, files_to_channel: bool = False) -> list[Shared]:
    """Send `answer` to `target`: the message first, then each chart and file.

    Files go to the channel only with `files_to_channel`, else to the asker's DM. Returns what
    was shared where, for the audit log.
    """
    reply = (ResponseUrl(target.response_url, timeout=client.timeout) if target.response_url
             else ChannelPost(client, target.channel_id))
    answer = say_where_attachments_go(answer, files_to_channel)
    message = answer_message(answer)
    if target.from_button:
        message["replace_original"] = False
    if reply.post(message) is Posted.UNKNOWN:
        reply.post(notice(UNCONFIRMED, from_button=target.from_button))
    shared, problems = upload_attachments(answer, target, client, renderer, files_to_channel)
    if problems:
        reply.post(notice("\n".join(problems), from_button=target.from_button))
    return shared


def say_where_attachments_go(answer: Answer, files_to_channel: bool) -> Answer:
    """The answer with a line saying where its private charts and its files will be."""
    if answer.charts and not answer.in_channel:
        answer = replace(answer, context=" · ".join(
            part for part in (answer.context, PRIVATE_CHARTS) if part))
    if answer.files:
        where = FILES_TO_CHANNEL if files_to_channel else FILES_TO_DM
        answer = replace(answer, sections=answer.sections + (Section(where),))
    return answer


def upload_attachments(answer: Answer, target: Target, client: WebClient, renderer: Renderer,
                       files_to_channel: bool = False) -> tuple[list[Shared], list[str]]:
    """Upload the answer's charts and files; what was shared, and the problems as lines.

    Charts of a private answer (a customer) and files not cleared for the channel go to the
    asker's direct messages with the bot: uploading them to the channel would show everyone
    what only the asker may see.
    """
    uploads = ([(chart, not answer.in_channel) for chart in answer.charts]
               + [(file, not files_to_channel) for file in answer.files])
    shared: list[Shared] = []
    problems: list[str] = []
    refused: set[bool] = set()  # destinations (private or not) that refused for good
    for attachment, private in uploads:
        if private in refused:
            continue  # every other upload there would fail the same way
        try:
            channel = direct_channel(client, target.user_id) if private else target.channel_id
            data = renderer(attachment)
            upload_files(client, channel, [Upload(data, attachment.filename, attachment.title,
                                                  attachment.title)])
        except (SlackClientError, OSError, HTTPException) as error:
            problem = explain(error, in_conversation=target.in_conversation or private)
            problems.append(upload_problem(attachment.filename, problem))
            log.warning("upload of %s failed: %s", attachment.filename, problem.code)
            if problem.lasting:
                refused.add(private)
            continue
        shared.append(Shared(attachment.filename, channel))
    return shared, problems


def upload_problem(filename: str, problem: SlackProblem) -> str:
    """One line for the user: which file, why, and whether trying again can help."""
    if problem.lasting:
        return f"I couldn't share {filename}: {problem.text}."
    return (f"I couldn't share {filename}: {problem.text}. The answer above is complete; try "
            "again in a minute for the file.")
