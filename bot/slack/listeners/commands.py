"""The slash commands: /segments, /cluster and /customer.

Each acknowledges at once, then answers through the command's response_url.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.slack.blocks import unescape
from bot.slack.handling import Deps, answer_command
from bot.slack.replies import Target

COMMANDS = ("/segments", "/cluster", "/customer")


def register(app: App, deps: Deps) -> None:
    def on_command(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack()  # first: Slack shows "operation_timeout" after 3 s, whatever follows
        target = Target(user_id=command["user_id"], channel_id=command["channel_id"],
                        response_url=command["response_url"],
                        channel_name=command.get("channel_name", ""))
        answer_command(deps, client, target, command["command"],
                       unescape(command.get("text", "")))

    for name in COMMANDS:
        app.command(name)(on_command)
