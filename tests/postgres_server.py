"""A throwaway PostgreSQL server for the tests and the benchmark: initdb + pg_ctl on 127.0.0.1.

The server runs in a temporary folder on a free port and is removed when stopped. PostgreSQL
refuses to run as root, so as root its programs run as the `postgres` user (`runuser`), which
Debian's `postgresql` package creates. Password authentication (SCRAM) is on for TCP, so
tests can see a wrong password refused.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

SUPERUSER = "segbot"
PASSWORD = "pw-Zq81xK-never-shown"  # distinctive, so a test can look for it in any output
# Speed over durability: the data is thrown away with the server.
_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off",
             "shared_buffers=256MB", "max_connections=20")


def find_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return versions[-1].parent if versions else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `url()` is a SQLAlchemy/libpq URL for one of its databases."""

    folder: Path
    bin_dir: Path
    port: int
    as_user: str | None  # run its programs as this user (when we are root)

    def url(self, database: str = "postgres", *, password: str | None = PASSWORD,
            user: str = SUPERUSER, scheme: str = "postgresql") -> str:
        secret = f":{password}" if password is not None else ""
        return f"{scheme}://{user}{secret}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres", *, stdin: bytes | None = None) -> str:
        """Run `sql` through psql over TCP; the output as text."""
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        result = subprocess.run(
            [str(self.bin_dir / "psql") if (self.bin_dir / "psql").exists() else "psql",
             "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", SUPERUSER, "-d", database, "-c", sql],
            input=stdin, capture_output=True, env=env, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.decode(errors='replace')}")
        return result.stdout.decode()

    def create_database(self, name: str) -> None:
        self.psql(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-s",
                  check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        _run(self.bin_dir, self.as_user, program, *args, check=check)


def start_server(bin_dir: Path) -> PostgresServer:
    """initdb a new cluster in a temporary folder and start it on 127.0.0.1, a free port."""
    as_user = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="segbot-pg-"))
    try:
        if as_user:
            shutil.chown(folder, user=as_user)
        password_file = folder / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        if as_user:
            shutil.chown(password_file, user=as_user)
        _run(bin_dir, as_user, "initdb", "-D", str(folder / "data"), "-U", SUPERUSER,
             f"--pwfile={password_file}", "--auth-host=scram-sha-256", "--auth-local=trust",
             "-E", "UTF8", "--locale=C", "--no-sync")
        options = " ".join(f"-c {setting}" for setting in (
            "listen_addresses=127.0.0.1", f"unix_socket_directories={folder}", *_SETTINGS))
        port = _start(bin_dir, as_user, folder, options)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return PostgresServer(folder, bin_dir, port, as_user)


def _start(bin_dir: Path, as_user: str | None, folder: Path, options: str) -> int:
    """Start the server on a free port; try another port if one was taken meanwhile."""
    for _ in range(3):
        port = free_port()
        try:
            _run(bin_dir, as_user, "pg_ctl", "start", "-D", str(folder / "data"), "-w", "-s",
                 "-t", "60", "-l", str(folder / "server.log"),
                 "-o", f"-p {port} {options}")
            return port
        except subprocess.CalledProcessError:
            continue
    log = (folder / "server.log").read_text(encoding="utf-8", errors="replace")
    raise RuntimeError(f"PostgreSQL did not start:\n{log[-2000:]}")


@contextlib.contextmanager
def running_server(bin_dir: Path) -> Iterator[PostgresServer]:
    server = start_server(bin_dir)
    try:
        yield server
    finally:
        server.stop()


def _run(bin_dir: Path, as_user: str | None, program: str, *args: str,
         check: bool = True) -> None:
    command = [str(bin_dir / program), *args]
    if as_user:
        command = ["runuser", "-u", as_user, "--", *command]
    subprocess.run(command, check=check, capture_output=True, cwd="/")


def create_customer_table(server: PostgresServer, database: str, table: str,
                          frame: pd.DataFrame) -> None:
    """A table of `frame`'s columns with the SQL types a warehouse would give them (whole
    numbers bigint, fractions double precision, Dt_Customer a date, text text), filled by COPY."""
    import psycopg

    columns = ", ".join(f'"{name}" {_sql_type(name, frame[name])}' for name in frame.columns)
    with psycopg.connect(server.url(database), autocommit=True) as connection:
        connection.execute(f'DROP TABLE IF EXISTS "{table}"')
        connection.execute(f'CREATE TABLE "{table}" ({columns})')
        connection.execute("SET DateStyle = 'ISO, DMY'")  # Dt_Customer is dd-mm-yyyy
        csv = frame.to_csv(index=False, header=False, na_rep="").encode()
        with connection.cursor() as cursor, cursor.copy(
                f'COPY "{table}" FROM STDIN (FORMAT csv)') as copy:
            for start in range(0, len(csv), 1 << 20):
                copy.write(csv[start:start + (1 << 20)])
        connection.execute(f'ANALYZE "{table}"')


def _sql_type(name: str, values: pd.Series) -> str:
    import pandas as pd

    if name == "Dt_Customer":
        return "date"
    if pd.api.types.is_integer_dtype(values):
        return "bigint"
    if pd.api.types.is_float_dtype(values):
        return "double precision"
    return "text"
