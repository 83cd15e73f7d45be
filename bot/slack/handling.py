"""What the bot does with one request, whichever listener received it.

Parse, check access and audit customer-level requests, answer from the store, deliver. The
listeners call this after `ack()`, so nothing here counts against Slack's 3 seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk import WebClient

from bot import answers
from bot.answers.rendering import Renderer, render
from bot.clock import Clock, utc_now
from bot.settings import Settings
from bot.slack.replies import Shared, Target, deliver
from storage.errors import StoreUnavailable
from storage.store import Store

log = logging.getLogger(__name__)

STORE_UNAVAILABLE = ("segbot cannot read its results store right now, so it cannot answer. "
                     "Whoever runs segbot will find why in its log (`segbot segments` on the "
                     "bot's machine says it in one line).")
UNAUDITABLE = ("Customer-level data is given only once the request is in the audit log, and "
               "segbot cannot write to its store right now. Whoever runs segbot will find why "
               "in its log.")




@dataclass(frozen=True)
class Deps:
    """What listeners need, passed in by the app factory: nothing is global."""

    settings: Settings
    store: Store
    now: Clock = utc_now
    renderer: Renderer = render


def answer_command(deps: Deps, client: WebClient, target: Target, command: str,
                   text: str) -> None:
    """Answer what a user typed after a slash command; bad input gets the usage text."""
    try:
        request = answers.parse_request(command, text)
    except answers.UsageError as error:
        deliver(answers.error_answer(str(error)), target, client)
        return
    answer_request(deps, client, target, request)


def answer_request(deps: Deps, client: WebClient, target: Target,
                   request: answers.Request) -> None:
    """Answer a parsed request; customer-level ones are access-checked and audited first."""
    audit_id = None
    if request.audited:
        refusal = access_refusal(deps.settings, target)
        try:
            audit_id = deps.store.record_audit(at=deps.now(), actor=target.user_id,
                                               channel=target.channel_id, action=request.kind,
                                               subject=request.subject,
                                               allowed=refusal is None)
        except StoreUnavailable:  # no audit entry, no customer data
            refusal = UNAUDITABLE
        if refusal is not None:
            deliver(answers.error_answer(refusal), target, client)
            return
    try:
        answer = answers.answer(deps.store, request)
    except answers.UsageError as error:
        answer = answers.error_answer(str(error))
    except StoreUnavailable as error:  # its path and fix are for the operator, not the channel
        log.error("cannot answer %s: %s", request.kind, error)
        answer = answers.error_answer(STORE_UNAVAILABLE)
    shared = deliver(answer, target, client, renderer=deps.renderer,
                     files_to_channel=deps.settings.customer_files_allowed_in(target.channel_id))
    if audit_id is not None and answer.files:
        deps.store.record_audit_destination(audit_id, export_destination(answer, shared))


def export_destination(answer: answers.Answer, shared: list[Shared]) -> str:
    """Where an answer's files went, for the audit log: channel IDs, or why nowhere."""
    names = {file.filename for file in answer.files}
    channels = sorted({item.channel for item in shared if item.filename in names})
    return ", ".join(channels) if channels else "not delivered"


def access_refusal(settings: Settings, target: Target) -> str | None:
    """Why customer-level data may not be shown to this user in this channel, if it may not."""
    if settings.may_see_customers(target.user_id, target.channel_id):
        return None
    if settings.allowed_users and target.user_id not in settings.allowed_users:
        return ("Customer-level data (`/customer`, exports) is limited to named people, and "
                "you are not on the list. Ask whoever runs segbot to add your Slack member ID "
                f"`{target.user_id}` to SEGBOT_ALLOWED_USERS. This request was logged.")
    return ("Customer-level data (`/customer`, exports) can only be asked for in approved "
            "channels, and this is not one of them. Ask again in an approved channel, or ask "
            f"whoever runs segbot to add `{target.channel_id}` to SEGBOT_ALLOWED_CHANNELS. "
            "This request was logged.")
