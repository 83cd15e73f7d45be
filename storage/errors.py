"""Domain errors raised by the store, and SQLite's file faults translated into them.

Entry points translate these errors into user messages.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class StoreError(Exception):
    """Base class for every problem the store reports to a user."""


class NotFound(StoreError):
    """A run, segment or customer that was asked for is not stored."""


class NoPublishedRun(StoreError):
    """Nothing has been published yet, so there is no current run to answer from."""

    def __init__(self, message: str = "no segments yet: run `segbot refresh --data FILE` first"):
        super().__init__(message)


class StoreUnavailable(StoreError):
    """The store's file cannot be used as it is: damaged, read-only, its disk full or failing.

    The unit of work that met the fault was rolled back whole, so what was stored before it is
    still there.
    """


class StoreDamaged(StoreUnavailable):
    """The store's file is damaged: some of what it holds cannot be read."""


class Access(StrEnum):
    """What a unit of work was doing with the store's file when it failed."""

    OPEN = "open"
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class _Fault:
    problem: str
    remedy: str
    error: type[StoreUnavailable] = StoreUnavailable


_DAMAGED = _Fault("it is damaged", "restore it from a backup, or move it aside: the next "
                  "refresh starts a new store", StoreDamaged)
# SQLite's primary result codes (the start of `sqlite_errorname`) that are faults of the file
# or its disk, not of segbot: what they mean and what to do about them.
_FAULTS = {
    "SQLITE_CORRUPT": _DAMAGED,
    "SQLITE_NOTADB": _Fault("it is not a SQLite database, or its first page is damaged",
                            _DAMAGED.remedy, StoreDamaged),
    "SQLITE_FULL": _Fault("its disk is full",
                          "free some space, or move the store to a disk with room"),
    "SQLITE_IOERR": _Fault("its disk reported an error", "check that the disk has free space "
                           "and is not failing (the system log says more)"),
    "SQLITE_READONLY": _Fault("it or its folder is read-only", "segbot writes the file and "
                              "its -wal and -shm files beside it: make them and the folder "
                              "writable for the user segbot runs as"),
    "SQLITE_PERM": _Fault("access to it was denied", "let the user segbot runs as read and "
                          "write the file and its folder"),
    "SQLITE_CANTOPEN": _Fault("the file cannot be opened", "check that its folder exists and "
                              "that the user segbot runs as may read and write there"),
}


def unavailable(error: sqlite3.Error, path: Path, access: Access) -> StoreUnavailable | None:
    """``error`` as a fault of the store's file, in one line that says what to do; None when
    it is not one (a bug, a lock held too long), to be raised as it is."""
    name = getattr(error, "sqlite_errorname", None)
    if name is None and isinstance(error, sqlite3.OperationalError):
        # Raised by Python's sqlite3 itself, not by SQLite: the only such error segbot can
        # meet is stored text that is not UTF-8, which segbot never writes: a damaged page.
        return _unavailable(path, access, _DAMAGED, "it holds text that is not UTF-8")
    fault = _FAULTS.get("_".join((name or "").split("_")[:2]))  # SQLITE_IOERR_WRITE: IOERR
    return None if fault is None else _unavailable(path, access, fault, str(error))


def _unavailable(path: Path, access: Access, fault: _Fault, detail: str) -> StoreUnavailable:
    return fault.error(f"cannot {access} the store {path}: {fault.problem} ({detail}); "
                       f"{fault.remedy}")
