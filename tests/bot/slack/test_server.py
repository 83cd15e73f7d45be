"""`segbot serve` start-up: configuration problems are reported, the manifest matches the code."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import load_settings
from bot.slack.listeners.commands import COMMANDS
from storage.store import Store
from tests.bot.conftest import PNG_MAGIC, SECRET, BotFactory, RunningBot
from tests.bot.fake_slack import FakeSlack
from tests.bot.serve_process import ROOT, ServeProcess, free_port


def test_serve_lists_every_missing_variable_and_exits_2(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["serve", "--http", "--db", str(tmp_path / "segbot.db")]
    assert main(args, environ={"SEGBOT_TIMEZONE": "Nowhere/Land"}) == 2
    error = capsys.readouterr().err
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SEGBOT_TIMEZONE"):
        assert name in error
    assert not (tmp_path / "segbot.db").exists()  # nothing started


def test_without_app_token_or_signing_secret_serve_says_how_to_choose_a_mode(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["serve", "--db", str(tmp_path / "segbot.db")]
    assert main(args, environ={"SLACK_BOT_TOKEN": "xoxb-1"}) == 2
    error = capsys.readouterr().err
    assert "SLACK_SIGNING_SECRET is not set (nor SLACK_APP_TOKEN: set SLACK_APP_TOKEN" in error
    assert "for Socket Mode" in error and "to serve HTTP" in error


def test_manifest_declares_what_the_bot_handles() -> None:
    manifest = (ROOT / "manifest.yml").read_text()
    assert re.findall(r"- command: (/\w+)", manifest) == list(COMMANDS)
    scopes = re.findall(r"^\s+- ([a-z:.]+)", manifest.split("bot:", 1)[1], re.MULTILINE)
    assert {"commands", "chat:write", "files:write"} <= set(scopes)
    assert "socket_mode_enabled: true" in manifest
    assert re.search(r"interactivity:\s+is_enabled: true", manifest)
    # the Home tab, published on app_home_opened; the DM that carries charts and exports can
    # be opened, but not written to
    assert re.search(r"app_home:(\s+#.*)+\s+home_tab_enabled: true\s+"
                     r"messages_tab_enabled: true\s+messages_tab_read_only_enabled: true",
                     manifest)
    assert re.search(r"event_subscriptions:\s+bot_events:\s+- app_home_opened\b", manifest)


def test_procfile_starts_one_web_process_that_picks_its_mode() -> None:
    assert (ROOT / "Procfile").read_text().splitlines() == ["web: segbot serve"]


def test_a_token_slack_rejects_stops_start_up_with_a_clear_message(
        capsys: pytest.CaptureFixture[str], slack: FakeSlack, db_path: Path) -> None:
    slack.fail("auth.test", "invalid_auth")
    args = ["serve", "--http", "--db", str(db_path)]
    environ = {"SLACK_BOT_TOKEN": "xoxb-revoked", "SLACK_SIGNING_SECRET": "s",
               "SEGBOT_SLACK_API_URL": slack.api_url}
    assert main(args, environ=environ) == 2
    error = capsys.readouterr().err
    assert "cannot start" in error and "invalid_auth" in error


def test_a_wrong_app_token_stops_socket_mode_with_a_clear_message(
        capsys: pytest.CaptureFixture[str], slack: FakeSlack, db_path: Path) -> None:
    args = ["serve", "--db", str(db_path)]
    environ = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-wrong",
               "SEGBOT_SLACK_API_URL": slack.api_url}  # the fake refuses apps.connections.open
    assert main(args, environ=environ) == 2
    error = capsys.readouterr().err
    assert "not_allowed_token_type" in error and "SLACK_APP_TOKEN" in error


@pytest.mark.slow
def test_the_procfile_line_serves_http_without_app_token_draws_charts_and_stops_on_ctrl_c(
        slack: FakeSlack, db_path: Path, tmp_path: Path) -> None:
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
               "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db_path),
               "PORT": str(free_port())}  # `web: segbot serve`, as the platform starts it
    bot = ServeProcess.start(environ, tmp_path / "serve.log")
    try:
        assert bot.wait_until_serving() == {"status": "ok", "run_id": 1}
        running = RunningBot(f"http://127.0.0.1:{bot.port}", slack, Store(db_path),
                             load_settings(environ, require_slack=True))
        reply = running.command("/segments")
        assert reply.status == 200
        slack.wait_for(lambda: len(slack.named("upload")) == 1)
        assert slack.named("upload")[0].body.startswith(PNG_MAGIC)
    finally:
        exit_code = bot.interrupt()  # Ctrl-C
    output = bot.log
    assert exit_code == 130, output  # as for any command interrupted by Ctrl-C
    assert "SLACK_APP_TOKEN is not set, so not Socket Mode" in output
    assert "2 chart processes ready" in output
    assert output.index("chart processes stopped") > output.index("Shutting down")


def test_health_is_200_on_a_fresh_store_so_a_first_deploy_does_not_restart_loop(
        serve_bot: BotFactory, tmp_path: Path) -> None:
    status, body = serve_bot(db=tmp_path / "fresh.db").get("/health")
    assert status == 200
    assert body["status"] == "ok" and body["run_id"] is None
    assert body["detail"].startswith("no run yet")


def test_health_names_the_run_answers_come_from(serve_bot: BotFactory) -> None:
    assert serve_bot().get("/health") == (200, {"status": "ok", "run_id": 1})


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a SQLite database\n" * 200)


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


@pytest.mark.parametrize("break_store", [_garbage, _folder])
def test_health_is_503_when_the_store_cannot_be_read(
        serve_bot: BotFactory, db_path: Path, break_store: Callable[[Path], None]) -> None:
    bot = serve_bot()
    assert bot.get("/health")[0] == 200
    for journal in ("-wal", "-shm"):
        db_path.with_name(db_path.name + journal).unlink(missing_ok=True)
    break_store(db_path)

    status, body = bot.get("/health")

    assert status == 503
    assert body["status"] == "error" and str(db_path) in body["detail"]


def _last_minute_cron() -> str:
    """A daily crontab line whose slot was a minute ago: caught up at start, next due tomorrow."""
    slot = datetime.now(UTC) - timedelta(minutes=1)
    return f"{slot.minute} {slot.hour} * * *"


@pytest.mark.slow
def test_two_bots_on_one_store_run_one_scheduler_one_refresh_and_post_one_digest(
        slack: FakeSlack, tmp_path: Path, reference_csv: Path) -> None:
    db = tmp_path / "segbot.db"
    environ = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
               "SEGBOT_SLACK_API_URL": slack.api_url, "SEGBOT_DB": str(db),
               "SEGBOT_DATA": str(reference_csv), "SEGBOT_DIGEST_CHANNEL": "C0DIGEST",
               "SEGBOT_REFRESH_CRON": _last_minute_cron(), "SEGBOT_CHART_PROCESSES": "0"}
    bots = [ServeProcess.start({**environ, "PORT": str(free_port())}, tmp_path / f"bot{n}.log")
            for n in (1, 2)]
    try:
        for bot in bots:
            bot.wait_until_serving()
        slack.wait_for(lambda: any(c.params.get("channel") == "C0DIGEST"
                                   for c in slack.named("api", "chat.postMessage")), 120)
        slack.settle(quiet=3)
        assert [bot.health() for bot in bots] == [(200, {"status": "ok", "run_id": 1})] * 2
    finally:
        for bot in bots:
            bot.interrupt()

    assert [run.id for run in Store(db).list_runs()] == [1]
    digests = [c.params["text"] for c in slack.named("api", "chat.postMessage")
               if c.params.get("channel") == "C0DIGEST"]
    assert len(digests) == 1 and digests[0].startswith("Segments digest · ")
    logs = [bot.log for bot in bots]
    standing_by = [log for log in logs if "another segbot process (" in log]
    scheduling = [log for log in logs if "catching up the refresh scheduled for" in log]
    assert len(standing_by) == 1 and len(scheduling) == 1, "\n\n".join(logs)
    assert standing_by[0] != scheduling[0]
