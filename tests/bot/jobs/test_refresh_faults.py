"""A full or read-only disk during a refresh, and a damaged store, as a user meets them.

Each fault is one line (`segbot: error: …`, exit code 2, no traceback) that says what to do,
the run published before keeps answering where it can be read, and nothing is half-written.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlite_utils import Database

from bot.jobs.refresh import refresh_lock
from bot.jobs.scheduler import describe_failure
from segmentation.synthetic import generate_customers, write_customers
from storage.schema import MIGRATIONS
from storage.store import Store
from tests.bot.conftest import copy_store
from tests.bot.fake_slack import FakeSlack
from tests.bot.jobs.test_scheduler import (
    MONDAY_0600,
    Clock,
    posted_texts,
    settings_for,
    start,
)
from tests.faults import (
    NO_ROOM,
    file_size_limit,
    integrity,
    limit_file_size,
    obey_permissions,
    overwrite_page,
    permissions_can_be_enforced,
    rows_per_table,
    spoil_text,
    table_page,
)
from tests.storage.conftest import legacy_migrations

SEGBOT = Path(sys.executable).with_name("segbot")
CUSTOMER = "5524"  # the first customer of the reference table
PAGE = 4096
IO_ERROR = ("its disk reported an error (disk I/O error); check that the disk has free space "
            "and is not failing (the system log says more)")
READ_ONLY = ("it or its folder is read-only (attempt to write a readonly database); segbot "
             "writes the file and its -wal and -shm files beside it: make them and the folder "
             "writable for the user segbot runs as")
DAMAGED = "restore it from a backup, or move it aside: the next refresh starts a new store"
STILL_RUN_1 = ". Nothing was published; answers still come from run 1"
needs_permissions = pytest.mark.skipif(
    not permissions_can_be_enforced(),
    reason="root without CAP_SETPCAP cannot give a child process file permissions to obey")


@pytest.fixture
def db(published_db: Path, tmp_path: Path) -> Path:
    return copy_store(published_db, tmp_path / "segbot.db")


def segbot(*args: object, preexec: Callable[[], None] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SEGBOT), *map(str, args)], capture_output=True, text=True,
                          timeout=300, preexec_fn=preexec)


def error_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The one line a failed command printed, progress lines aside."""
    lines = [line for line in completed.stderr.splitlines() if not line.startswith("[")]
    assert completed.returncode == 2 and len(lines) == 1, completed.stderr
    assert lines[0].startswith("segbot: error: "), completed.stderr
    return lines[0].removeprefix("segbot: error: ")


def served(path: Path) -> tuple:
    """What a freshly opened store answers from: the run, its segments, one customer."""
    store = Store(path)
    return store.current_run().id, store.list_segments(), store.get_customer(CUSTOMER)


@pytest.mark.slow
def test_a_refresh_that_fills_the_disk_publishes_nothing_and_says_so(
        db: Path, reference_csv: Path) -> None:
    rows, answers = rows_per_table(db), served(db)

    full = segbot("refresh", "--data", reference_csv, "--db", db,
                  preexec=limit_file_size(NO_ROOM))

    assert error_line(full) == f"cannot write the store {db}: {IO_ERROR}{STILL_RUN_1}"
    assert "] publishing 2,236 assignments" in full.stderr  # it failed inside the publish
    assert rows_per_table(db) == rows and integrity(db) == "ok"
    assert served(db) == answers
    assert "run 1" in segbot("segments", "--db", db).stdout
    again = segbot("refresh", "--data", reference_csv, "--db", db)  # with room again
    assert again.returncode == 0 and again.stdout.startswith("Run 2 published"), again.stderr


@pytest.mark.slow
def test_a_new_store_on_a_full_disk_is_one_line_and_is_created_later(
        tmp_path: Path, reference_csv: Path) -> None:
    db = tmp_path / "segbot.db"

    full = segbot("refresh", "--data", reference_csv, "--db", db, preexec=limit_file_size(PAGE))

    assert error_line(full) == f"cannot open the store {db}: {IO_ERROR}"
    assert rows_per_table(db) == {}  # the migrations were rolled back together
    again = segbot("refresh", "--data", reference_csv, "--db", db)
    assert again.returncode == 0 and again.stdout.startswith("Run 1 published"), again.stderr


@pytest.mark.slow
@needs_permissions
def test_a_read_only_store_keeps_answering_and_refuses_the_refresh(
        db: Path, reference_csv: Path) -> None:
    rows, answers = rows_per_table(db), served(db)
    db.chmod(0o444)

    segments = segbot("segments", "--db", db, preexec=obey_permissions)
    refused = segbot("refresh", "--data", reference_csv, "--db", db, preexec=obey_permissions)

    assert segments.returncode == 0 and "run 1" in segments.stdout, segments.stderr
    assert error_line(refused) == f"cannot write the store {db}: {READ_ONLY}{STILL_RUN_1}"
    assert "] publishing 2,236 assignments" in refused.stderr
    for path in db.parent.glob("segbot.db*"):
        path.chmod(0o644)
    assert rows_per_table(db) == rows and integrity(db) == "ok"
    assert served(db) == answers


@pytest.mark.slow
@needs_permissions
def test_a_read_only_folder_is_one_line_for_every_command(db: Path,
                                                          reference_csv: Path) -> None:
    rows, answers = rows_per_table(db), served(db)
    db.chmod(0o444)
    db.parent.chmod(0o555)  # as on a disk remounted read-only: no -wal or -shm can be made
    try:
        lines = [error_line(segbot(*command, "--db", db, preexec=obey_permissions))
                 for command in (["segments"], ["customer", CUSTOMER],
                                 ["refresh", "--data", reference_csv])]
    finally:
        db.parent.chmod(0o755)
        db.chmod(0o644)

    assert lines == [f"cannot open the store {db}: {READ_ONLY}"] * 3
    assert rows_per_table(db) == rows and integrity(db) == "ok"
    assert served(db) == answers


@pytest.mark.slow
@needs_permissions
def test_a_store_that_needs_a_migration_on_a_read_only_file_is_one_line(
        tmp_path: Path) -> None:
    db = tmp_path / "segbot.db"
    with Database(db) as older:  # the store as the previous release left it
        *earlier, _latest = MIGRATIONS.pending(older.conn)
        legacy_migrations(earlier[-1]).apply(older.conn)
    db.chmod(0o444)

    refused = segbot("segments", "--db", db, preexec=obey_permissions)

    assert error_line(refused) == f"cannot open the store {db}: {READ_ONLY}"
    db.chmod(0o644)
    assert Store(db).current_run() is None  # and it migrates once it may


def damage_header(path: Path) -> None:
    overwrite_page(path, 1)


def damage_segments_page(path: Path) -> None:
    overwrite_page(path, table_page(path, "segments"))


def damage_segment_name(path: Path) -> None:
    """Flip bytes inside the name of the customer's segment, wherever it is stored."""
    assert spoil_text(path, Store(path).get_customer(CUSTOMER).segment_name) > 0


@pytest.mark.slow
@pytest.mark.parametrize("damage, problem", [
    (damage_header, "cannot open the store {db}: it is not a SQLite database, or its first "
                    "page is damaged (file is not a database)"),
    (damage_segments_page, "cannot read the store {db}: it is damaged (database disk image "
                           "is malformed)"),
    (damage_segment_name, "cannot read the store {db}: it is damaged (it holds text that is "
                          "not UTF-8)"),
])
def test_a_damaged_store_is_one_line_for_every_command_and_is_not_written(
        db: Path, reference_csv: Path, damage: Callable[[Path], None], problem: str) -> None:
    damage(db)
    fingerprint = hashlib.sha256(db.read_bytes()).hexdigest()

    lines = [error_line(segbot(*command, "--db", db))
             for command in (["refresh", "--data", reference_csv], ["segments"],
                             ["customer", CUSTOMER], ["ask", "/segments"])]

    assert lines == [f"{problem.format(db=db)}; {DAMAGED}"] * 4
    assert hashlib.sha256(db.read_bytes()).hexdigest() == fingerprint


def test_a_scheduled_refresh_that_fills_the_disk_tells_the_channel_why(
        slack: FakeSlack, tmp_path: Path, scheduler: BackgroundScheduler) -> None:
    data = write_customers(generate_customers(600, seed=3), tmp_path / "customers.csv")
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    job, _ = start(settings_for(slack, data), store, scheduler, clock)
    job()
    rows, answers = rows_per_table(store.path), (store.list_segments(), store.current_run())
    clock.moment += timedelta(days=7)

    with file_size_limit(NO_ROOM):
        assert job() is None

    notice = posted_texts(slack)[-1]
    assert f"failed: cannot write the store {store.path}: {IO_ERROR}\nAnswers still come " \
           "from run 1 of 2026-03-09 06:00 UTC." in notice
    assert rows_per_table(store.path) == rows and integrity(store.path) == "ok"
    assert (store.list_segments(), store.current_run()) == answers


def test_a_refresh_lock_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    with pytest.raises(OSError) as raised, refresh_lock(tmp_path / "gone" / "segbot.db"):
        pass

    assert describe_failure(raised.value) == \
        f"{tmp_path / 'gone' / 'segbot.db.refresh.lock'}: No such file or directory"
