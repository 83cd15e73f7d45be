"""`segbot serve` start-up: configuration problems are reported, the manifest matches the code."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bot.listeners.commands import COMMANDS
from bot.server import serve_command
from bot.settings import load_settings
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC, SECRET, RunningBot
from tests.bot.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def test_serve_lists_every_missing_variable_and_exits_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = argparse.Namespace(http=True, port=None, db=tmp_path / "segbot.db")
    assert serve_command(args, {"SEGBOT_TIMEZONE": "Nowhere/Land"}) == 2
    error = capsys.readouterr().err
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SEGBOT_TIMEZONE"):
        assert name in error
    assert not (tmp_path / "segbot.db").exists()  # nothing started


def test_socket_mode_asks_for_the_app_token(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    args = argparse.Namespace(http=False, port=None, db=tmp_path / "segbot.db")
    assert serve_command(args, {"SLACK_BOT_TOKEN": "xoxb-1"}) == 2
    assert "SLACK_APP_TOKEN is not set" in capsys.readouterr().err


def test_manifest_declares_what_the_bot_handles() -> None:
    manifest = (ROOT / "manifest.yml").read_text()
    assert re.findall(r"- command: (/\w+)", manifest) == list(COMMANDS)
    scopes = re.findall(r"^\s+- ([a-z:.]+)", manifest.split("bot:", 1)[1], re.MULTILINE)
    assert {"commands", "chat:write", "files:write"} <= set(scopes)
    assert "socket_mode_enabled: true" in manifest
    assert re.search(r"interactivity:\s+is_enabled: true", manifest)


def test_procfile_runs_one_worker_or_one_web_process() -> None:
    lines = (ROOT / "Procfile").read_text().splitlines()
    assert lines == ["worker: segbot serve", "web: segbot serve --http --port $PORT"]


def test_a_token_slack_rejects_stops_start_up_with_a_clear_message(
        capsys: pytest.CaptureFixture[str], slack: FakeSlack, db_path: Path) -> None:
    slack.fail("auth.test", "invalid_auth")
    args = argparse.Namespace(http=True, port=None, db=db_path)
    environ = {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s",
               "SEGBOT_SLACK_API_URL": slack.api_url}
    assert serve_command(args, environ) == 2
    error = capsys.readouterr().err
    assert "cannot start" in error and "invalid_auth" in error


def test_a_wrong_app_token_stops_socket_mode_with_a_clear_message(
        capsys: pytest.CaptureFixture[str], slack: FakeSlack, db_path: Path) -> None:
    args = argparse.Namespace(http=False, port=None, db=db_path)
    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-wrong",
               "SEGBOT_SLACK_API_URL": slack.api_url}  # the fake refuses apps.connections.open
    assert serve_command(args, environ) == 2
    error = capsys.readouterr().err
    assert "not_allowed_token_type" in error and "SLACK_APP_TOKEN" in error


def test_segbot_serve_draws_charts_in_its_chart_processes_and_stops_them_on_ctrl_c(
        slack: FakeSlack, db_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
               "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db_path)}
    bot = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--port",
                            str(port)], env={**os.environ, **environ}, cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_until_healthy(f"http://127.0.0.1:{port}/health", bot)
        running = RunningBot(f"http://127.0.0.1:{port}", slack, Store(db_path),
                             load_settings(environ, require_slack=True, http=True))
        reply = running.command("/segments")
        assert reply.status == 200
        slack.wait_for(lambda: len(slack.named("upload")) == 1)
        assert slack.named("upload")[0].body.startswith(PNG_MAGIC)
    finally:
        bot.send_signal(signal.SIGINT)  # Ctrl-C
        output = bot.communicate(timeout=30)[0].decode()
    assert bot.returncode == 130, output  # as for any command interrupted by Ctrl-C
    assert "2 chart processes ready" in output
    assert output.index("chart processes stopped") > output.index("Shutting down")


def _wait_until_healthy(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"segbot serve exited: {process.stdout.read().decode()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if json.loads(response.read())["status"] == "ok":
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    pytest.fail("segbot serve did not become healthy")
