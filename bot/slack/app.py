"""The composition root of the Slack bot: settings and store in, a Bolt App out."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient

from bot.answers.rendering import Renderer, bounded, render
from bot.clock import Clock, utc_now
from bot.settings import Settings
from bot.slack.handling import Deps
from bot.slack.listeners import register_listeners
from bot.slack.replies import build_web_client
from storage.store import Store

# Bolt runs each listener on this pool and answers Slack once the listener has called ack().
# A listener keeps its thread while it renders and uploads, so the pool is much larger than
# the number of charts drawn at once: a burst of slow answers never delays another's ack.
LISTENER_THREADS = 32
# Charts drawn in the bot's own process: matplotlib holds the GIL while it draws, so
# concurrent charts only slow each other and the acks down: measured with 12 queued charts on
# 2 cores, one at a time finished sooner than four at a time and kept the slowest ack under
# 70 ms (four: up to 260 ms). Chart processes (`bot.jobs.chart_processes`) get one slot each.
RENDER_SLOTS = 1


def create_app(settings: Settings, store: Store, *, client: WebClient | None = None,
               now: Clock = utc_now, renderer: Renderer = render,
               render_slots: int = RENDER_SLOTS) -> App:
    """A Bolt App answering segbot's commands and buttons from `store`.

    The Web API client defaults to one on `settings.slack_api_url` with retries for 429 and
    5xx; Bolt checks the token with `auth.test` on it when the App is built. Listeners run
    after `ack()` on Bolt's thread pool (`process_before_response=False`), so an answer that
    takes longer than 3 seconds still has its request acknowledged in time. At most
    `render_slots` charts are drawn at once.
    """
    app = App(
        client=client or build_web_client(settings),
        signing_secret=settings.signing_secret or "",  # unused in Socket Mode
        process_before_response=False,
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="segbot"),
    )
    register_listeners(app, Deps(settings=settings, store=store, now=now,
                                 renderer=bounded(renderer, render_slots)))
    return app
