"""segbot's Home tab in Slack: the Home page as a view, published with `views.publish`.

A Home is published to one person when they open it, and to everyone who has opened it when a
run is published (`refresh_homes`, after the digest of the scheduled refresh or of
`segbot digest --post`). Slack keeps the last view
published to each person, so a failed publish leaves them the previous one; it is logged and
the next opening or run publishes again. Someone Slack no longer knows (`user_not_found`) is
dropped from the list.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http.client import HTTPException
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.answers.home import TITLE, HomePage, HomeSegment, home_page
from bot.answers.parts import Button, Menu
from bot.settings import Settings
from bot.slack.blocks import (
    MAX_BUTTON_LABEL,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_TEXT,
    MAX_HEADER,
    MAX_SECTION_TEXT,
    clip,
    escape,
    split_text,
)
from bot.slack.handling import STORE_UNAVAILABLE
from bot.slack.web_api import describe
from storage.errors import StoreError, StoreUnavailable
from storage.store import Store

log = logging.getLogger(__name__)

MAX_HOME_BLOCKS = 100
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS = 25  # elements in one actions block
MAX_OPTIONS = 100  # options in one static select
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_PLACEHOLDER = 150
# Slack's answers to views.publish for a person it no longer knows (left, or removed).
GONE_USER_ERRORS = frozenset({"user_not_found"})
# Refusals that an admin must fix and that apply to every person alike: the Home tab turned
# off in the app's settings, or the token gone.
APP_WIDE_ERRORS = frozenset({"not_enabled", "missing_scope", "invalid_auth", "not_authed",
                             "account_inactive", "token_revoked", "token_expired"})


# -- the view ------------------------------------------------------------------------------


def home_view(page: HomePage) -> dict[str, Any]:
    """The Home view payload: at most 100 blocks, each within Block Kit's limits."""
    head: list[Block] = [
        HeaderBlock(text=_plain(page.title, MAX_HEADER)),
        *_text_blocks(page.summary)]
    tail: list[Block] = []
    if page.movements:
        tail += [DividerBlock(), *_text_blocks(page.movements)]
    if page.buttons:
        tail.append(_actions(page.buttons, "home-all"))
    context = [MarkdownTextObject(text=clip(escape(line), MAX_CONTEXT_TEXT))
               for line in page.context[:MAX_CONTEXT_ELEMENTS] if line.strip()]
    if context:
        tail.append(ContextBlock(elements=context))
    segments = segment_blocks(page.segments, MAX_HOME_BLOCKS - len(head) - len(tail) - 1)
    body = [DividerBlock(), *segments] if segments else []
    blocks = (head + body + tail)[:MAX_HOME_BLOCKS]
    return View(type="home", blocks=blocks).to_dict()  # to_dict checks the block limits


def segment_blocks(segments: Sequence[HomeSegment], budget: int) -> list[Block]:
    """Each segment's line with its buttons below; if they would pass `budget` blocks, the
    last ones as plain lines in one section (their buttons left out)."""
    full = len(segments) if 2 * len(segments) <= budget else max(0, (budget - 1) // 2)
    kept, rest = segments[:full], segments[full:]
    blocks: list[Block] = []
    for segment in kept:
        blocks.append(SectionBlock(text=MarkdownTextObject(
            text=clip(escape(segment.text), MAX_SECTION_TEXT))))
        if segment.buttons:
            blocks.append(_actions(segment.buttons, f"home-segment-{segment.segment_id}"))
    if rest:
        packed = "\n".join(escape(segment.text.split("\n")[0]) for segment in rest)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(
            f"{packed}\n_`/cluster N` for any of these._", MAX_SECTION_TEXT))))
    return blocks


def _text_blocks(text: str) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=chunk))
            for chunk in split_text(escape(text))]


def _actions(controls: Sequence[Button | Menu], block_id: str) -> ActionsBlock:
    return ActionsBlock(block_id=block_id, elements=[
        _button(control) if isinstance(control, Button) else _menu(control)
        for control in controls[:MAX_ACTIONS]])


def _button(button: Button) -> ButtonElement:
    return ButtonElement(text=_plain(button.label, MAX_BUTTON_LABEL),
                         action_id=button.action.value, value=button.value[:MAX_BUTTON_VALUE])


def _menu(menu: Menu) -> StaticSelectElement:
    return StaticSelectElement(
        placeholder=_plain(menu.placeholder, MAX_PLACEHOLDER), action_id=menu.action.value,
        options=[Option(text=_plain(label, MAX_OPTION_TEXT), value=value[:MAX_OPTION_VALUE])
                 for label, value in menu.options[:MAX_OPTIONS]])


def _plain(text: str, limit: int) -> PlainTextObject:
    return PlainTextObject(text=clip(text, limit), emoji=False)


# -- one person's Home ---------------------------------------------------------------------


def may_export(settings: Settings, user_id: str, channel_id: str | None) -> bool:
    """Whether this person's Home offers exports: as a click from it would be checked, with
    their direct messages with segbot (where the Home lives) as the channel."""
    return settings.may_see_customers(user_id, channel_id or "")


def page_for(settings: Settings, store: Store, user_id: str,
             channel_id: str | None) -> HomePage:
    """The Home this person sees; when the store cannot be read, a Home that says so."""
    try:
        return home_page(store, may_export=may_export(settings, user_id, channel_id))
    except StoreUnavailable as error:
        log.error("Home tab of %s without segments: %s", user_id, error)
        return HomePage(title=TITLE, summary=STORE_UNAVAILABLE)


def publish_home(client: WebClient, user_id: str, page: HomePage) -> None:
    """Show `page` as `user_id`'s Home tab (views.publish replaces the previous one)."""
    client.views_publish(user_id=user_id, view=home_view(page))


def show_home(settings: Settings, store: Store, client: WebClient, user_id: str,
              channel_id: str | None) -> None:
    """Publish the current Home to the person who just opened it."""
    publish_home(client, user_id, page_for(settings, store, user_id, channel_id))


# -- everyone's Home, after a run ----------------------------------------------------------


@dataclass(frozen=True)
class HomeRefresh:
    """What `refresh_homes` did: published, dropped (unknown to Slack), failed with why."""

    published: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def people(self) -> int:
        """How many people's Homes were to be published."""
        return len(self.published) + len(self.dropped) + len(self.failed)

    @property
    def detail(self) -> str:
        text = f"Home tab published to {len(self.published)} of {self.people} people"
        if self.dropped:
            text += f"; {len(self.dropped)} no longer in Slack, dropped ({', '.join(self.dropped)})"
        if self.failed:
            text += "; failed: " + ", ".join(f"{user} ({why})" for user, why in self.failed)
        return text


def refresh_homes(settings: Settings, store: Store, client: WebClient) -> HomeRefresh:
    """Publish the current Home to everyone who has opened it; never raises for one person.

    A problem only an admin can fix (the Home tab turned off, a revoked token) would refuse
    everyone alike: the rest are then not tried and are reported failed with it.
    """
    try:
        viewers = store.home_viewers()
    except StoreError as error:
        log.error("Home tabs not refreshed: %s", error)
        return HomeRefresh()
    pages: dict[bool, HomePage] = {}  # one page with exports, one without
    published: list[str] = []
    dropped: list[str] = []
    failed: list[tuple[str, str]] = []
    for index, viewer in enumerate(viewers):
        export = may_export(settings, viewer.user_id, viewer.channel_id)
        if export not in pages:
            pages[export] = page_for(settings, store, viewer.user_id, viewer.channel_id)
        try:
            publish_home(client, viewer.user_id, pages[export])
        except (SlackClientError, OSError, HTTPException) as error:
            if gone_from_slack(error):
                dropped.append(viewer.user_id)
                _forget(store, viewer.user_id)
                continue
            failed.append((viewer.user_id, describe(error)))
            if refuses_everyone(error):
                failed += [(later.user_id, "not tried") for later in viewers[index + 1:]]
                break
            continue
        published.append(viewer.user_id)
    return HomeRefresh(tuple(published), tuple(dropped), tuple(failed))


def refuses_everyone(error: BaseException) -> bool:
    """Whether Slack would refuse every Home alike: the app's setup, not one person."""
    return (isinstance(error, SlackApiError)
            and error.response.get("error") in APP_WIDE_ERRORS)


def gone_from_slack(error: BaseException) -> bool:
    """Whether views.publish failed because Slack no longer knows the person."""
    if not isinstance(error, SlackApiError):
        return False
    code = error.response.get("error")
    if code in GONE_USER_ERRORS:
        return True
    messages = (error.response.get("response_metadata") or {}).get("messages") or []
    return code == "invalid_arguments" and any("user_id" in str(m) for m in messages)


def _forget(store: Store, user_id: str) -> None:
    try:
        store.forget_home_viewer(user_id)
    except StoreError as error:  # tried again after the next run
        log.error("could not drop %s from the Home tab's list: %s", user_id, error)
