"""The one error handler: an unexpected failure is logged and the user told, never silence."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.handling import Deps
from bot.slack.replies import notice
from bot.slack.web_api import ChannelPost, ResponseUrl

SORRY = ("Sorry, something went wrong while answering; it has been logged. "
         "Try again in a minute, or `/segments help`.")


def register(app: App, deps: Deps) -> None:
    app.error(report_failure)


def report_failure(error: Exception, body: dict[str, Any], logger: logging.Logger,
                   client: WebClient) -> None:
    """Log the failure and tell the user where they asked."""
    logger.error("segbot failed to answer %s", _describe(body), exc_info=error)
    response_url = body.get("response_url")
    if response_url:
        ResponseUrl(response_url).post(notice(SORRY, from_button="actions" in body))
    elif (body.get("container") or {}).get("type") == "view":  # a click on the Home tab
        # a user ID as the channel: their direct messages with segbot
        ChannelPost(client, body["user"]["id"]).post(notice(SORRY))


@contextmanager
def reported_after_ack(body: dict[str, Any], logger: logging.Logger,
                       client: WebClient) -> Iterator[None]:
    """Report a failure of the work after ``ack()`` here, as the error handler would.

    Bolt's thread runner, when a listener raises after acknowledging, sets the ack's response
    back to None once the error handler returns; if that happens before its 10 ms poll saw
    the ack, the request is answered 500 after 3 s, though Slack was acknowledged in time.
    """
    try:
        yield
    except Exception as error:
        report_failure(error, body, logger, client)


def _describe(body: dict[str, Any]) -> str:
    """The request, without its customer-level text, for the log."""
    if "command" in body:
        return f"{body['command']} from {body.get('user_id')} in {body.get('channel_id')}"
    if "event" in body:
        event = body["event"]
        return f"event {event.get('type')} from {event.get('user')}"
    return f"{body.get('type')} from {(body.get('user') or {}).get('id')}"
