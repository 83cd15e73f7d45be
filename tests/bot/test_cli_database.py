"""`segbot refresh` from a database, end to end through the command line, against a real
PostgreSQL server: the password is never shown, and every failure is one line, exit 2, with
the store as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.answers.digest import digest_answer
from bot.cli import main
from segmentation.synthetic import generate_customers
from storage.store import Store
from tests.postgres_server import PASSWORD, PostgresServer, free_port


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str],
            environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(args, environ=environ or {})
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow  # two refreshes and the digest
def test_a_refresh_from_postgresql_never_shows_the_password(
        crm: PostgresServer, tmp_path: Path, capsys, caplog) -> None:
    db = tmp_path / "segbot.db"
    url = crm.url("crm")
    shown = f"postgresql://segbot:***@127.0.0.1:{crm.port}/crm"

    code, out, err = run_cli(["refresh", "--data", url, "--table", "customers",
                              "--db", str(db)], capsys)
    assert code == 0, err
    assert "rows: 600 read" in out
    query = 'SELECT * FROM customers WHERE "Income" > 20000'
    code, out2, err2 = run_cli(["refresh", "--data", url, "--query", query, "--db", str(db)],
                               capsys)
    assert code == 0, err2
    code, digest, _ = run_cli(["digest", "--db", str(db)], capsys)
    assert code == 0

    first, second = sorted(Store(db).list_runs(), key=lambda run: run.id)
    assert first.source == f"{shown} (table customers)"
    assert second.source == f'{shown} (query {query})'
    assert f"127.0.0.1:{crm.port}/crm (query" in digest
    slack_text = "".join(section.text for section in digest_answer(Store(db)).sections)
    assert f"`{shown} (query {query})`" in slack_text  # as the digest is posted
    everything = (out + err + out2 + err2 + digest + slack_text + caplog.text + repr(first)
                  + repr(second))
    assert PASSWORD not in everything


def test_a_schema_file_names_the_table(crm: PostgresServer, tmp_path: Path, capsys) -> None:
    schema = tmp_path / "schema.toml"
    schema.write_text('table = "customers"\nas_of = 2014-07-01\n')
    db = tmp_path / "segbot.db"
    code, _, err = run_cli(["refresh", "--data", crm.url("crm"), "--schema", str(schema),
                            "--db", str(db)], capsys)
    assert code == 0, err
    assert Store(db).current_run().source.endswith("/crm (table customers)")


def _wrong_password(server: PostgresServer) -> list[str]:
    return ["--data", server.url("crm", password="pw-Wrong-4Kd"), "--table", "customers"]


# each case: refresh's arguments, then words the error line must hold
FAILURES = {
    "wrong password": (_wrong_password, "password authentication failed"),
    "connection refused": (lambda s: ["--data", f"postgresql://segbot:{PASSWORD}@127.0.0.1:"
                                                f"{free_port()}/crm", "--table", "customers"],
                           "Connection refused"),
    "unknown database": (lambda s: ["--data", s.url("nosuchdb"), "--table", "customers"],
                         'database "nosuchdb" does not exist'),
    "missing table": (lambda s: ["--data", s.url("crm"), "--table", "nosuch"],
                      "no table nosuch"),
    "query syntax": (lambda s: ["--data", s.url("crm"), "--query", "SELECT * FORM customers"],
                     "syntax error"),
    "unknown column": (lambda s: ["--data", s.url("crm"), "--query",
                                  "SELECT nosuch FROM customers"],
                       'column "nosuch" does not exist'),
    "statement timeout": (lambda s: ["--data", s.url("crm") + "?options=-c%20statement_timeout"
                                     "%3D50", "--query", "SELECT *, pg_sleep(0.1) AS nap "
                                                         "FROM customers"],
                          "statement timeout"),
    "empty result": (lambda s: ["--data", s.url("crm"), "--query",
                                "SELECT * FROM customers WHERE false"], "has no rows"),
    "neither table nor query": (lambda s: ["--data", s.url("crm")],
                                "say what to read from it with --table or --query"),
    "missing driver": (lambda s: ["--data", f"mysql://me:{PASSWORD}@127.0.0.1/crm",
                                  "--table", "customers"], "pip install mysqlclient"),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_each_database_failure_is_one_line_exit_2_and_the_store_untouched(
        case: str, crm: PostgresServer, db_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", str(db_path.with_name("no-pgpass")))
    arguments, words = FAILURES[case]
    before = [run.id for run in Store(db_path).list_runs()]

    code, out, err = run_cli(["refresh", *arguments(crm), "--db", str(db_path)], capsys)

    assert code == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("[")]  # progress
    assert len(lines) == 1 and lines[0].startswith("segbot: error: "), err
    assert words in lines[0]
    assert PASSWORD not in out + err and "pw-Wrong-4Kd" not in out + err
    assert [run.id for run in Store(db_path).list_runs()] == before


@pytest.mark.slow  # a refresh
def test_a_refresh_from_sqlite(tmp_path: Path, capsys) -> None:
    path = tmp_path / "crm.sqlite"
    with sqlite3.connect(path) as connection:
        generate_customers(400, seed=8).to_sql("customers", connection, index=False)
    db = tmp_path / "segbot.db"
    code, out, err = run_cli(["refresh", "--data", f"sqlite:///{path}", "--table", "customers",
                              "--db", str(db)], capsys)
    assert code == 0, err
    assert Store(db).current_run().source == f"sqlite:///{path} (table customers)"
