"""Named schema migrations in order, applied by sqlite-utils' ``Migrations``.

Which of them a file still needs is read here with the standard library alone, from the
table in which sqlite-utils records what it applied: sqlite-utils imports pandas and numpy
whenever they are installed (~0.3 s), so a store that is up to date opens without it and a
`segbot customer` process stays well under half a second (issue 14).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database

Migration = Callable[["Database"], None]

# sqlite-utils' record of applied migrations: one row per (migration_set, name).
APPLIED_TABLE = "_sqlite_migrations"


class MigrationSet:
    """A set of migrations, applied in the order they were registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.migrations: list[tuple[str, Migration]] = []

    def __call__(self, *, name: str) -> Callable[[Migration], Migration]:
        """Register the decorated function as migration ``name``, after every other."""
        def register(migration: Migration) -> Migration:
            if any(known == name for known, _ in self.migrations):
                raise ValueError(f"migration {name!r} is already registered in {self.name}")
            self.migrations.append((name, migration))
            return migration

        return register

    def pending(self, conn: sqlite3.Connection) -> list[str]:
        """The names not yet applied to the database, in order; reads only."""
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [APPLIED_TABLE]).fetchone() is None:
            return [name for name, _ in self.migrations]
        applied = {name for (name,) in conn.execute(
            f"SELECT name FROM {APPLIED_TABLE} WHERE migration_set = ?", [self.name])}
        return [name for name, _ in self.migrations if name not in applied]

    def apply(self, conn: sqlite3.Connection) -> None:
        """Apply the pending migrations, each recorded in the transaction that runs it."""
        from sqlite_utils import Database
        from sqlite_utils.migrations import Migrations

        migrations = Migrations(self.name)
        for name, migration in self.migrations:
            migrations(name=name)(migration)
        migrations.apply(Database(conn, execute_plugins=False))
