"""The bot served over real HTTP on a loopback port, against a fake Slack on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk.signature import SignatureVerifier

from bot.answers.rendering import Renderer, render
from bot.jobs.refresh import refresh
from bot.settings import Settings, load_settings
from bot.slack.app import create_app
from bot.slack.server import build_http_server
from bot.slack.web_api import TIMEOUT, build_web_client
from segmentation.matching import movement_matrix
from segmentation.model import ModelConfig
from segmentation.result import SegmentMatch
from storage.changes import RetiredSegment, RunChanges
from storage.store import Store
from tests.bot.fake_slack import FakeSlack
from tests.storage.conftest import T0, make_result

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ALICE, BOB = "U0ALICE", "U0BOB"
MARKETING, GENERAL = "C0MARKET", "C0GENERAL"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"  # the first bytes of every PNG


@pytest.fixture(scope="session")
def published_db(tmp_path_factory: pytest.TempPathFactory, reference_csv: Path) -> Path:
    """A store holding one run refreshed from the real reference table."""
    path = tmp_path_factory.mktemp("published") / "segbot.db"
    refresh(Store(path), reference_csv, config=ModelConfig())
    return path


@pytest.fixture(scope="session")
def two_run_db(published_db: Path, reference_csv: Path,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published store refreshed once more, from the same table with another seed."""
    path = copy_store(published_db, tmp_path_factory.mktemp("two-runs") / "segbot.db")
    refresh(Store(path), reference_csv, config=ModelConfig(seed=2))
    return path


def two_runs(path: Path) -> Store:
    """Run 1: customers 1000-1059 in segments 1-3. Run 2: 1010-1069; segment 3 is retired and
    its 17 remaining customers form the new segment 4, "Bargain hunters"; 1000-1009 are gone and
    1060-1069 new."""
    store = Store(path)
    first = make_result(n_customers=60, excluded=("X1",))
    store.publish_run(first, started_at=T0, finished_at=T0 + timedelta(minutes=1),
                      changes=RunChanges(None, tuple(SegmentMatch(s.segment_id, None, None)
                                                     for s in first.segments)))
    second = make_result(n_customers=60, first_id=1010, shift=1, excluded=("X1", "X2"))
    second = second.with_segment_ids({1: 1, 2: 2, 3: 4})
    second = replace(second, segments=tuple(
        replace(s, name="Bargain hunters") if s.segment_id == 4 else s
        for s in second.segments))
    changes = RunChanges(1, (SegmentMatch(1, 1, 0.1), SegmentMatch(2, 2, 0.2),
                             SegmentMatch(4, None, None)), (RetiredSegment(3, "A segment 3"),),
                         movement_matrix(store.assignment_frame(1), second.assignments))
    store.publish_run(second, started_at=T0 + timedelta(days=7),
                      finished_at=T0 + timedelta(days=7, minutes=1), changes=changes)
    return store


def three_runs(path: Path) -> Store:
    """`two_runs`, then run 3 a week later: customers 1020-1079 in segments 1, 2 and 4."""
    store = two_runs(path)
    third = make_result(n_customers=60, first_id=1020, shift=2).with_segment_ids(
        {1: 1, 2: 2, 3: 4})
    store.publish_run(third, started_at=T0 + timedelta(days=14),
                      finished_at=T0 + timedelta(days=14, minutes=1))
    return store


@pytest.fixture
def db_path(published_db: Path, tmp_path: Path) -> Path:
    """A private copy of the published store, so one test's audit rows stay its own."""
    return copy_store(published_db, tmp_path / "segbot.db")


@pytest.fixture
def scheduler() -> Iterator[BackgroundScheduler]:
    """A started but paused scheduler: jobs are registered and run only when a test calls them."""
    paused = BackgroundScheduler()
    paused.start(paused=True)
    yield paused
    paused.shutdown(wait=False)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@dataclass
class Reply:
    """Slack's view of one request to the bot: the HTTP answer and how long it took."""

    status: int
    body: bytes
    seconds: float
    response_name: str


@dataclass
class RunningBot:
    """The bot serving HTTP on 127.0.0.1, and helpers to call it as Slack does."""

    url: str
    slack: FakeSlack
    store: Store
    settings: Settings
    counter: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    def post(self, form: dict[str, str] | str, *, timestamp: int | None = None,
             secret: str = SECRET, tamper: bool = False) -> tuple[int, bytes, float]:
        """POST a form (a dict) or a JSON text (the Events API), signed as Slack signs it."""
        body = urlencode(form) if isinstance(form, dict) else form
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        content_type = ("application/x-www-form-urlencoded" if isinstance(form, dict)
                        else "application/json")
        headers = {"Content-Type": content_type,
                   "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": SignatureVerifier(secret).generate_signature(
                       timestamp=stamp, body=body)}
        if tamper:  # signed as Slack sent it, changed on the way
            body = body.replace("text=", "text=1+export", 1)
        request = urllib.request.Request(f"{self.url}/slack/events", data=body.encode(),
                                         headers=headers, method="POST")
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
        return status, data, time.perf_counter() - started

    def command(self, command: str, text: str = "", *, user: str = ALICE,
                channel: str = MARKETING, **kwargs: Any) -> Reply:
        """A slash command, form-encoded and signed exactly as Slack sends it."""
        name = f"r{next(self.counter)}"
        form = {"token": "deprecated-verification-token", "team_id": "T0FAKE",
                "team_domain": "fake", "channel_id": channel, "channel_name": "marketing",
                "user_id": user, "user_name": user.lower(), "command": command, "text": text,
                "api_app_id": "A0SEGBOT", "is_enterprise_install": "false",
                "response_url": self.slack.response_url(name),
                "trigger_id": f"1337.42.{name}"}
        return Reply(*self.post(form, **kwargs), response_name=name)

    def click(self, action_id: str, value: str, *, user: str = ALICE,
              channel: str = MARKETING) -> Reply:
        """A button click: a block_actions payload, form-encoded as `payload=`."""
        name = f"r{next(self.counter)}"
        payload = {
            "type": "block_actions", "api_app_id": "A0SEGBOT", "token": "deprecated",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
            "container": {"type": "message", "message_ts": "1700000000.000100",
                          "channel_id": channel, "is_ephemeral": False},
            "channel": {"id": channel, "name": "marketing"},
            "trigger_id": f"1337.42.{name}", "response_url": self.slack.response_url(name),
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b1",
                         "text": {"type": "plain_text", "text": "Profile"}, "value": value,
                         "action_ts": "1700000001.000200"}],
        }
        return Reply(*self.post({"payload": json.dumps(payload)}), response_name=name)

    def event(self, event: dict[str, Any], **kwargs: Any) -> tuple[int, bytes, float]:
        """An Events API delivery of `event`, as JSON, signed as Slack sends it."""
        return self.post(json.dumps(event_callback(event)), **kwargs)

    def home_click(self, action_id: str, value: str, *, user: str = ALICE,
                   menu: bool = False) -> None:
        """A click on a button of the Home tab (with `menu`, a choice in one of its menus):
        no channel and no response_url."""
        action = ({"type": "static_select", "action_id": action_id, "block_id": "b1",
                   "selected_option": {"text": {"type": "plain_text", "text": value},
                                       "value": value},
                   "placeholder": {"type": "plain_text", "text": "Compare with…"},
                   "action_ts": "1700000001.000200"} if menu else
                  {"type": "button", "action_id": action_id, "block_id": "b1",
                   "text": {"type": "plain_text", "text": "Profile"}, "value": value,
                   "action_ts": "1700000001.000200"})
        payload = {
            "type": "block_actions", "api_app_id": "A0SEGBOT", "token": "deprecated",
            "team": {"id": "T0FAKE", "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": "T0FAKE"},
            "container": {"type": "view", "view_id": "V0HOME"},
            "trigger_id": "1337.42.home",
            "view": {"id": "V0HOME", "type": "home", "blocks": []},
            "actions": [action],
        }
        status, _, _ = self.post({"payload": json.dumps(payload)})
        assert status == 200

    def answers(self, reply: Reply, count: int = 1, timeout: float = 20) -> list[dict]:
        """Wait for `count` messages on the reply's response_url and return them all."""
        self.slack.wait_for(lambda: len(self.slack.responses(reply.response_name)) >= count,
                            timeout)
        return self.slack.responses(reply.response_name)

    def get(self, path: str) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


BotFactory = Callable[..., RunningBot]


def home_opened(user: str = ALICE, *, tab: str = "home") -> dict[str, Any]:
    """The app_home_opened event Slack sends when `user` opens segbot's Home (or Messages)."""
    return {"type": "app_home_opened", "user": user, "channel": "D0" + user[-5:],
            "tab": tab, "event_ts": f"{time.time():.6f}"}


def event_callback(event: dict[str, Any]) -> dict[str, Any]:
    """The Events API envelope around `event`, as Slack POSTs it (and Socket Mode wraps it)."""
    return {"token": "deprecated", "team_id": "T0FAKE", "api_app_id": "A0SEGBOT",
            "event": event, "type": "event_callback", "event_id": f"Ev{time.time_ns()}",
            "event_time": int(time.time()), "authorizations": [
                {"team_id": "T0FAKE", "user_id": "U0SEGBOT", "is_bot": True}]}


def copy_store(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    return target


@contextmanager
def running_bot(slack: FakeSlack, db: Path, *, renderer: Renderer = render,
                timeout: int = TIMEOUT, **env: str) -> Iterator[RunningBot]:
    """The bot under uvicorn on a free loopback port, talking to `slack`, until the exit.

    `timeout`: seconds the bot waits for each answer from Slack."""
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token",
                              "SLACK_SIGNING_SECRET": SECRET,
                              "SEGBOT_SLACK_API_URL": slack.api_url,
                              "SEGBOT_DB": str(db), **env}, require_slack=True, http=True)
    store = Store(settings.db_path)
    client = build_web_client(settings.bot_token, settings.slack_api_url, timeout=timeout)
    app = create_app(settings, store, client=client, renderer=renderer)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = build_http_server(app, store, host="127.0.0.1", port=sock.getsockname()[1])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield RunningBot(f"http://127.0.0.1:{sock.getsockname()[1]}", slack, store, settings)
    finally:
        slack.settle(quiet=0.1)  # answers still in flight land before Slack "goes away"
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def serve_bot(slack: FakeSlack, db_path: Path) -> Iterator[BotFactory]:
    """Start the bot over HTTP: `serve_bot(renderer=..., db=..., **environment)`."""
    with ExitStack() as stack:
        def start(*, db: Path = db_path, **options: Any) -> RunningBot:
            return stack.enter_context(running_bot(slack, db, **options))

        yield start


@pytest.fixture(scope="module")
def shared_bot(published_db: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RunningBot]:
    """One bot for a module's read-only tests; each test still has its own response_url."""
    db = copy_store(published_db, tmp_path_factory.mktemp("shared") / "segbot.db")
    with FakeSlack() as slack, running_bot(slack, db) as bot:
        yield bot
