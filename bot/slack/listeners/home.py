"""The Home tab: published afresh each time someone opens it."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.handling import Deps
from bot.slack.home import show_home
from storage.errors import StoreUnavailable

log = logging.getLogger(__name__)

HOME_TAB = "home"  # app_home_opened also fires for the Messages tab ("messages")


def register(app: App, deps: Deps) -> None:
    def on_home_opened(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab") != HOME_TAB:
            return
        user_id, channel_id = event["user"], event.get("channel")
        try:  # remembered so that the next run's Home reaches them too
            deps.store.record_home_opened(user_id, channel_id, at=deps.now())
        except StoreUnavailable as error:  # the Home still shows, saying what it can
            log.error("could not remember that %s opened the Home tab: %s", user_id, error)
        show_home(deps.settings, deps.store, client, user_id, channel_id)

    app.event("app_home_opened")(on_home_opened)
