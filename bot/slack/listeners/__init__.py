"""Slack listeners, one module per feature, each with `register(app, deps)`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack.handling import Deps
from bot.slack.listeners import actions, commands, errors, home


def register_listeners(app: App, deps: Deps) -> None:
    """Attach every listener of segbot to `app`."""
    for feature in (commands, actions, home, errors):
        feature.register(app, deps)
