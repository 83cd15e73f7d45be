"""Socket Mode against a local websocket server, as Slack's own SDK tests run it.

The fake Web API answers `apps.connections.open` with a ws:// URL on 127.0.0.1 served by the
`websockets` package; that server plays Slack: it says hello, sends a slash-command envelope
and records the bot's acknowledgement.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from bot.settings import load_settings
from bot.slack.app import create_app
from bot.slack.server import socket_mode_handler
from storage.store import Store
from tests.bot.conftest import ALICE, MARKETING, event_callback, home_opened
from tests.bot.fake_slack import FakeSlack
from tests.bot.serve_process import ServeProcess, free_port

pytestmark = pytest.mark.timeout(60)

APP_TOKEN = "xapp-1-A0SEGBOT-test"


class FakeSocketModeSlack:
    """A websocket endpoint that sends envelopes and records what the bot sends back."""

    def __init__(self, envelopes: list[dict[str, Any]]):
        self.envelopes = envelopes
        self.received: list[dict[str, Any]] = []
        self.sent_at: dict[str, float] = {}
        self.acked_at: dict[str, float] = {}
        self.connected = threading.Event()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link/?ticket=fake"

    def _session(self, connection: ServerConnection) -> None:
        self.connected.set()
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "connection_info": {"app_id": "A0SEGBOT"}}))
        for envelope in self.envelopes:
            self.sent_at[envelope["envelope_id"]] = time.monotonic()
            connection.send(json.dumps(envelope))
        try:
            for message in connection:
                received = json.loads(message)
                self.received.append(received)
                if "envelope_id" in received:
                    self.acked_at[received["envelope_id"]] = time.monotonic()
        except ConnectionClosed:
            pass

    def acks(self) -> list[dict[str, Any]]:
        return [m for m in self.received if "envelope_id" in m]


def slash_envelope(slack: FakeSlack, command: str, text: str, name: str) -> dict[str, Any]:
    return {"envelope_id": f"env-{name}", "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {"token": "deprecated", "team_id": "T0FAKE", "team_domain": "fake",
                        "channel_id": MARKETING, "channel_name": "marketing",
                        "user_id": ALICE, "user_name": "alice", "command": command,
                        "text": text, "api_app_id": "A0SEGBOT",
                        "response_url": slack.response_url(name),
                        "trigger_id": f"1337.42.{name}"}}


@pytest.fixture
def socket_slack(slack: FakeSlack) -> Iterator[FakeSocketModeSlack]:
    fake = FakeSocketModeSlack([slash_envelope(slack, "/cluster", "1", "s1"),
                                slash_envelope(slack, "/cluster", "one", "s2")])
    fake.thread.start()
    slack.socket_url = fake.url
    yield fake
    fake.server.shutdown()


@pytest.mark.slow
def test_commands_arrive_and_are_answered_over_socket_mode(
        slack: FakeSlack, socket_slack: FakeSocketModeSlack, db_path: Path) -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_APP_TOKEN": APP_TOKEN,
                              "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db_path)},
                             require_slack=True)
    store = Store(settings.db_path)
    handler = socket_mode_handler(create_app(settings, store), settings)
    started = time.monotonic()
    handler.connect()
    try:
        assert socket_slack.connected.wait(10)
        [opened] = slack.named("api", "apps.connections.open")
        assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"
        slack.wait_for(lambda: len(socket_slack.acks()) == 2 and len(slack.responses("s1")) == 1
                       and len(slack.responses("s2")) == 1)
        assert {a["envelope_id"] for a in socket_slack.acks()} == {"env-s1", "env-s2"}
        assert all(socket_slack.acked_at[e] - socket_slack.sent_at[e] < 3
                   for e in socket_slack.acked_at)
        [answer] = slack.responses("s1")
        assert answer["blocks"][0]["text"]["text"].startswith("Segment 1 · ")
        [usage] = slack.responses("s2")
        assert "Usage: `/cluster N`" in usage["text"] and usage["response_type"] == "ephemeral"
        slack.wait_for(lambda: any(c.failed_with is None
                                   for c in slack.named("api", "files.completeUploadExternal")))
        assert slack.named("upload")[0].body.startswith(b"\x89PNG")
        assert time.monotonic() - started < 30
    finally:
        handler.close()


@pytest.mark.slow
def test_the_procfile_line_with_an_app_token_serves_socket_mode_and_health_on_port(
        slack: FakeSlack, socket_slack: FakeSocketModeSlack, db_path: Path,
        tmp_path: Path) -> None:
    bot = ServeProcess.start({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_APP_TOKEN": APP_TOKEN,
                              "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db_path),
                              "PORT": str(free_port()), "SEGBOT_CHART_PROCESSES": "0"},
                             tmp_path / "serve.log")  # `web: segbot serve`
    try:
        assert bot.wait_until_serving() == {"status": "ok", "run_id": 1}
        slack.wait_for(lambda: len(socket_slack.acks()) == 2 and len(slack.responses("s1")) == 1
                       and len(slack.responses("s2")) == 1)
        assert slack.responses("s1")[0]["blocks"][0]["text"]["text"].startswith("Segment 1 · ")
        with pytest.raises(urllib.error.HTTPError) as refused:  # commands come by websocket
            urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{bot.port}/slack/events", data=b"", method="POST"), timeout=5)
        assert refused.value.code == 404
    finally:
        exit_code = bot.interrupt()
    assert exit_code == 130, bot.log  # Ctrl-C
    assert "connected to Slack in Socket Mode" in bot.log
    assert f"answering /health on port {bot.port}" in bot.log


@pytest.mark.slow
def test_opening_the_home_over_socket_mode_publishes_it(slack: FakeSlack,
                                                         db_path: Path) -> None:
    socket = FakeSocketModeSlack([{"envelope_id": "env-home", "type": "events_api",
                                   "accepts_response_payload": False,
                                   "payload": event_callback(home_opened(ALICE))}])
    socket.thread.start()
    slack.socket_url = socket.url
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_APP_TOKEN": APP_TOKEN,
                              "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db_path)},
                             require_slack=True)
    store = Store(settings.db_path)
    handler = socket_mode_handler(create_app(settings, store), settings)
    handler.connect()
    try:
        slack.wait_for(lambda: len(socket.acks()) == 1 and len(slack.homes(ALICE)) == 1)
        assert socket.acked_at["env-home"] - socket.sent_at["env-home"] < 3
        [view] = slack.homes(ALICE)
        run = store.current_run()
        assert view["type"] == "home" and len(view["blocks"]) <= 100
        assert view["blocks"][0]["text"]["text"] == f"Customer segments — run {run.id}"
        assert [viewer.user_id for viewer in store.home_viewers()] == [ALICE]
    finally:
        handler.close()
        socket.server.shutdown()
