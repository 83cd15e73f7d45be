"""Break a store's file the way a full disk, a read-only disk or bad sectors would."""

from __future__ import annotations

import ctypes
import os
import random
import resource
import signal
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

# Room for the WAL index (32 KiB) and the refresh lock, not for a run's pages: a publish
# writes its pages to the -wal file first, so it is the WAL that outgrows the limit.
NO_ROOM = 64 * 1024
_PR_CAPBSET_DROP = 24  # <linux/prctl.h>
_CAP_DAC_OVERRIDE, _CAP_SETPCAP = 1, 8  # <linux/capability.h>


def rows_per_table(path: Path) -> dict[str, int]:
    """Every table's row count: what a half-written run would change."""
    with closing(sqlite3.connect(path)) as conn:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
                for table in tables}


def integrity(path: Path) -> str:
    """SQLite's full integrity check: "ok" when every page and index is consistent."""
    with closing(sqlite3.connect(path)) as conn:
        return "; ".join(row[0] for row in conn.execute("PRAGMA integrity_check"))


def overwrite_page(path: Path, page: int, seed: int = 0) -> None:
    """Fill page ``page`` (1 is the header) with random bytes, as a bad sector would."""
    with closing(sqlite3.connect(path)) as conn:
        (size,) = conn.execute("PRAGMA page_size").fetchone()
    with path.open("r+b") as file:
        file.seek((page - 1) * size)
        file.write(random.Random(seed).randbytes(size))


def table_page(path: Path, table: str) -> int:
    """The root page of ``table``: damaging it damages every read of the table."""
    with closing(sqlite3.connect(path)) as conn:
        (page,) = conn.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?",
                               [table]).fetchone()
    return page


def spoil_text(path: Path, text: str) -> int:
    """Overwrite every stored copy of ``text`` with bytes that are not UTF-8, keeping the
    pages' structure intact (flipped bits inside a value); return how many were spoiled."""
    data = bytearray(path.read_bytes())
    needle = text.encode()
    count, start = 0, data.find(needle)
    while start != -1:
        data[start:start + len(needle)] = b"\xff" * len(needle)
        count, start = count + 1, data.find(needle, start + len(needle))
    path.write_bytes(bytes(data))
    return count


def limit_file_size(limit: int) -> Callable[[], None]:
    """A `preexec_fn` for a child whose files cannot grow beyond ``limit`` bytes: writes past
    it fail (EFBIG) as they would on a full disk, instead of killing it with SIGXFSZ."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


@contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """This process's files cannot grow beyond ``limit`` bytes until the block ends."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def permissions_can_be_enforced() -> bool:
    """Whether `obey_permissions` can work here: as root it needs CAP_SETPCAP."""
    if os.geteuid() != 0:
        return True
    status = Path("/proc/self/status").read_text()
    effective = int(next(line.split()[1] for line in status.splitlines()
                         if line.startswith("CapEff:")), 16)
    return bool(effective & (1 << _CAP_SETPCAP))


def obey_permissions() -> None:
    """A `preexec_fn` that makes a child honour file modes: root loses CAP_DAC_OVERRIDE (from
    its bounding set, so the program it runs never has it); anyone else already honours them.
    The tests run as root in CI, where chmod alone would stop nothing."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_CAPBSET_DROP, _CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")
