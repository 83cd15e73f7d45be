"""The scheduled refresh from a database (SEGBOT_DATA a URL, SEGBOT_SCHEMA naming the table),
against a real PostgreSQL server: the digest and the failure notice never carry the password,
nor does the bot's log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from storage.store import Store
from tests.bot.fake_slack import FakeSlack
from tests.bot.jobs.test_scheduler import MONDAY_0600, Clock, posted_texts, settings_for, start
from tests.postgres_server import PASSWORD, PostgresServer


def everything_sent(fake: FakeSlack) -> bytes:
    return b"".join(call.body for call in fake.calls)


@pytest.mark.slow  # a refresh and its digest
def test_a_scheduled_refresh_reads_the_table_the_schema_file_names(
        crm: PostgresServer, tmp_path: Path, scheduler, caplog) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('table = "customers"\n')
    caplog.set_level(logging.INFO)
    with FakeSlack() as fake:
        settings = settings_for(fake, crm.url("crm"), SEGBOT_SCHEMA=str(schema))
        job, _ = start(settings, Store(tmp_path / "segbot.db"), scheduler, Clock(MONDAY_0600))
        run = job()
        fake.settle(0.1)
    assert run is not None and run.rows_in == 600
    assert run.source == f"postgresql://segbot:***@127.0.0.1:{crm.port}/crm (table customers)"
    assert posted_texts(fake)[0].startswith("Segments digest")
    assert PASSWORD.encode() not in everything_sent(fake)
    assert PASSWORD not in caplog.text


def test_a_failed_scheduled_refresh_says_why_without_the_password(
        crm: PostgresServer, tmp_path: Path, scheduler, caplog, monkeypatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    wrong = crm.url("crm", password="pw-Wrong-8Lm")
    with FakeSlack() as fake:
        settings = settings_for(fake, wrong, SEGBOT_TABLE="customers")
        job, _ = start(settings, Store(tmp_path / "segbot.db"), scheduler, Clock(MONDAY_0600))
        assert job() is None
        fake.settle(0.1)
    [notice] = posted_texts(fake)
    assert f"from `postgresql://segbot:***@127.0.0.1:{crm.port}/crm (table customers)` " \
           "failed: cannot connect to" in notice
    assert "password authentication failed" in notice
    assert b"pw-Wrong-8Lm" not in everything_sent(fake) and "pw-Wrong-8Lm" not in caplog.text


def test_segbot_schedule_says_what_it_reads_and_the_schema_file(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from bot.jobs.scheduler import schedule_text
    from bot.settings import load_settings

    schema = tmp_path / "schema.toml"
    schema.write_text('table = "customers"\n')
    settings = load_settings({"SEGBOT_DATA": "postgresql://ann:pw-3Rt@db/crm",
                              "SEGBOT_SCHEMA": str(schema)}, require_slack=False)
    text = schedule_text(settings, 1, datetime(2026, 3, 25, tzinfo=UTC))
    assert "Reads postgresql://ann:***@db/crm (table customers), afresh on every run." in text
    assert f"Columns as {schema} says (SEGBOT_SCHEMA, read when the bot starts)." in text
    assert "pw-3Rt" not in text
