"""The buttons on answers and on the Home tab: "Profile" under each segment, "Export CSV",
"History" beside each segment of the history, and the Home's "Compare with…" menu and "History
of all segments"."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.answers.parts import ButtonAction
from bot.slack.handling import Deps, answer_command
from bot.slack.listeners.errors import reported_after_ack
from bot.slack.replies import Target
from bot.slack.web_api import direct_channel


def register(app: App, deps: Deps) -> None:
    def on_profile(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                   client: WebClient, logger: logging.Logger) -> None:
        ack()
        with reported_after_ack(body, logger, client):
            answer_command(deps, client, button_target(body, client), "cluster",
                           action.get("value", ""))

    def on_export(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                  client: WebClient, logger: logging.Logger) -> None:
        ack()
        with reported_after_ack(body, logger, client):
            answer_command(deps, client, button_target(body, client), "cluster",
                           f"{action.get('value', '')} export")

    def on_compare(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                   client: WebClient, logger: logging.Logger) -> None:
        ack()
        pair = (action.get("selected_option") or {}).get("value", "")
        with reported_after_ack(body, logger, client):
            answer_command(deps, client, button_target(body, client), "segments",
                           f"compare {pair}")

    def on_history(ack: Ack, body: dict[str, Any], action: dict[str, Any],
                   client: WebClient, logger: logging.Logger) -> None:
        ack()
        with reported_after_ack(body, logger, client):
            answer_command(deps, client, button_target(body, client), "cluster",
                           f"{action.get('value', '')} history")

    app.action(ButtonAction.PROFILE.value)(on_profile)
    app.action(ButtonAction.EXPORT.value)(on_export)
    app.action(ButtonAction.COMPARE.value)(on_compare)
    def on_segments_history(ack: Ack, body: dict[str, Any], client: WebClient,
                            logger: logging.Logger) -> None:
        ack()
        with reported_after_ack(body, logger, client):
            answer_command(deps, client, button_target(body, client), "segments", "history")

    app.action(ButtonAction.HISTORY.value)(on_history)
    app.action(ButtonAction.SEGMENTS_HISTORY.value)(on_segments_history)


def button_target(body: dict[str, Any], client: WebClient) -> Target:
    """Who clicked, where: a click answers like the command it saves typing.

    A click on the Home tab comes with neither a channel nor a response_url: it is answered
    in the clicker's direct messages with segbot, the conversation the Home belongs to.
    """
    user_id = body["user"]["id"]
    if body.get("container", {}).get("type") == "view":
        return Target(user_id=user_id, channel_id=direct_channel(client, user_id),
                      response_url=None, from_button=True, channel_name="directmessage")
    channel = body.get("channel") or {}
    return Target(user_id=user_id,
                  channel_id=channel.get("id") or body["container"]["channel_id"],
                  response_url=body["response_url"], from_button=True,
                  channel_name=channel.get("name", ""))
