"""The store's schema as ordered migrations, applied by sqlite-utils when a store opens.

Append new migrations at the end with a new ``name``; never edit or rename one that has
shipped, since databases record applied migrations by name. Every migration runs inside
the transaction ``migrate`` opens, so none may be registered with ``transactional=False``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from storage import segment_history
from storage.customer_table import AttributeColumn, SqlType, column_names, create_table
from storage.migrations import MigrationSet
from storage.run_tables import CUSTOMERS, run_table
from storage.transactions import immediate_transaction

if TYPE_CHECKING:  # the migrations run only when one is pending (storage.migrations)
    from sqlite_utils import Database

MIGRATIONS = MigrationSet("segbot")


@MIGRATIONS(name="0001_create_run_tables")
def create_run_tables(db: Database) -> None:
    """Runs, their segments, per-customer assignments and exclusions, and the current run."""
    db.table("runs").create(
        {
            "id": int, "status": str, "started_at": str, "finished_at": str,
            "source": str, "seed": int, "as_of": str,
            "rows_in": int, "rows_kept": int, "rows_dropped": int,
            "k": int, "k_method": str, "k_reason": str, "silhouette": float,
            # JSON documents, each produced by the result type's to_dict
            "elbow": str, "cleaning": str, "columns": str, "features": str,
            "profile_features": str, "feature_labels": str, "population": str,
            "explained_variance": str, "attribute_columns": str, "projection": str,
        },
        pk="id",
        not_null=["status", "started_at", "finished_at", "source", "k"],
    )
    db.table("segments").create(
        {
            "run_id": int, "segment_id": int, "name": str, "description": str,
            "action": str, "size": int, "share": float, "profile": str,
        },
        pk=("run_id", "segment_id"),
    )
    # sqlite-utils cannot declare WITHOUT ROWID. Keyed run first so that publishing a run
    # appends to the end of the b-tree instead of rewriting every earlier run's pages; a
    # customer's row in any one run is still one primary-key search. No (run_id, segment_id)
    # index: it cost a third of the insert time at 1M rows and the planner still preferred
    # the (run_id) key range for a segment's members. attributes is a JSON array in the
    # order of runs.attribute_columns.
    db.execute(
        """
        CREATE TABLE assignments (
            run_id INTEGER NOT NULL,
            customer_id TEXT NOT NULL,
            segment_id INTEGER NOT NULL,
            distance REAL,
            attributes TEXT NOT NULL,
            PRIMARY KEY (run_id, customer_id)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE exclusions (
            run_id INTEGER NOT NULL,
            customer_id TEXT NOT NULL,
            reason TEXT NOT NULL,
            PRIMARY KEY (run_id, customer_id)
        ) WITHOUT ROWID
        """
    )
    db.table("meta").create({"key": str, "value": str}, pk="key")



@MIGRATIONS(name="0002_create_audit")
def create_audit(db: Database) -> None:
    """Who asked for customer-level data, when, for what, and whether it was given."""
    db.table("audit").create(
        {"id": int, "at": str, "actor": str, "channel": str, "action": str, "subject": str,
         "allowed": int},
        pk="id",
        not_null=["at", "actor", "action", "subject", "allowed"],
    )
    db.table("audit").create_index(["at"])


@MIGRATIONS(name="0003_create_run_changes")
def create_run_changes(db: Database) -> None:
    """How each run continues the previous one: segment matches, retirements, movement."""
    db.table("segment_matches").create(
        {"run_id": int, "segment_id": int, "previous_id": int, "distance": float},
        pk=("run_id", "segment_id"),
        not_null=["run_id", "segment_id"],
    )
    db.table("retired_segments").create(
        {"run_id": int, "segment_id": int, "name": str},
        pk=("run_id", "segment_id"),
        not_null=["run_id", "segment_id", "name"],
    )
    # from/to are segment ids as text, or "new" / "gone" for arrivals and departures.
    db.table("movement").create(
        {"run_id": int, "from_segment": str, "to_segment": str, "customers": int},
        pk=("run_id", "from_segment", "to_segment"),
        not_null=["run_id", "from_segment", "to_segment", "customers"],
    )


@MIGRATIONS(name="0004_create_digest_deliveries")
def create_digest_deliveries(db: Database) -> None:
    """One row per digest and channel: the claim that makes every digest post at most once."""
    db.table("digest_deliveries").create(
        {"run_id": int, "channel": str, "status": str, "attempts": int, "claimed_at": str,
         "message_ts": str, "posted_at": str, "error": str},
        pk=("run_id", "channel"),
        not_null=["run_id", "channel", "status", "attempts"],
    )


@MIGRATIONS(name="0005_audit_destination")
def add_audit_destination(db: Database) -> None:
    """Where an export's file went (a channel or DM ID, a file path), or why it went nowhere."""
    db.table("audit").add_column("destination", str)


@MIGRATIONS(name="0006_customers_per_run_table")
def move_customers_to_run_tables(db: Database) -> None:
    """Each run's customers into a table of its own with one typed column per attribute
    (storage.customers), converted from the assignments table's JSON arrays; then that
    table goes. Runs in SQLite alone, once: 4.4 s for a run of a million customers."""
    runs = db.execute("SELECT id, attribute_columns FROM runs ORDER BY id").fetchall()
    for run_id, names in runs:
        _copy_json_run(db.conn, run_id, json.loads(names or "[]"))
    db.execute("DROP TABLE assignments")


def _copy_json_run(conn: sqlite3.Connection, run_id: int, names: list[str]) -> None:
    """Copy run ``run_id``'s assignments into its customers table, attribute i of the JSON
    array into column i, typed by the JSON values it holds."""
    values = [f"json_extract(attributes, '$[{i}]')" for i in range(len(names))]
    attributes = [AttributeColumn(name, column, sql_type) for name, column, sql_type
                  in zip(names, column_names(names), _json_types(conn, run_id, len(names)),
                         strict=True)]
    create_table(conn, run_id, attributes)
    conn.execute(f"INSERT INTO {run_table(run_id, CUSTOMERS)} SELECT customer_id, segment_id, "
                 f"distance{''.join(', ' + value for value in values)} FROM assignments "
                 "WHERE run_id = ? ORDER BY customer_id", [run_id])


# A JSON type's rank: a column holds the values of every type up to its highest rank.
_JSON_RANKS = "WHEN 'null' THEN 0 WHEN 'true' THEN 1 WHEN 'false' THEN 1 WHEN 'integer' " \
    "THEN 2 WHEN 'real' THEN 3 ELSE 4 END"
_TYPE_BY_RANK = {1: SqlType.BOOLEAN, 2: SqlType.INTEGER, 3: SqlType.REAL}


def _json_types(conn: sqlite3.Connection, run_id: int, count: int) -> list[SqlType]:
    """The column type of each of the ``count`` JSON attributes, in one pass over the run:
    text if any value is text, else real if any is real, else integer, else boolean."""
    if count == 0:
        return []
    ranks = conn.execute(
        "SELECT " + ", ".join(f"max(CASE json_type(attributes, '$[{i}]') {_JSON_RANKS})"
                              for i in range(count)) +
        " FROM assignments WHERE run_id = ?", [run_id]).fetchone()
    return [_TYPE_BY_RANK.get(rank, SqlType.TEXT) for rank in ranks]


@MIGRATIONS(name="0007_create_home_viewers")
def create_home_viewers(db: Database) -> None:
    """Who opened segbot's Home tab (and their DM with the bot): their Home is published
    again when a run is published."""
    db.table("home_viewers").create(
        {"user_id": str, "channel_id": str, "opened_at": str},
        pk="user_id",
        not_null=["user_id", "opened_at"],
    )


@MIGRATIONS(name="0008_create_segment_history")
def create_segment_history(db: Database) -> None:
    """Each run's and segment's summary (storage.segment_history), kept when a run is pruned;
    back-filled from the runs already stored (runs pruned before are gone for good)."""
    db.table(segment_history.RUNS).create(
        {"run_id": int, "finished_at": str, "as_of": str, "customers": int, "labels": str,
         "population": str},
        pk="run_id", not_null=["run_id", "finished_at", "customers", "labels", "population"])
    db.table(segment_history.SEGMENTS).create(
        {"run_id": int, "segment_id": int, "name": str, "size": int, "share": float,
         "means": str, "distinguishing": str},
        pk=("run_id", "segment_id"),
        not_null=["run_id", "segment_id", "name", "size", "share", "means", "distinguishing"])
    segment_history.backfill(db.conn)


@MIGRATIONS(name="0009_run_forecast")
def add_run_forecast(db: Database) -> None:
    """An order history's purchase and spend models: parameters, fit checks, or why a run
    has no predictions (segmentation.result.ForecastReport, as JSON)."""
    db.table("runs").add_column("forecast", str)


@MIGRATIONS(name="0010_run_model_spec")
def add_run_model_spec(db: Database) -> None:
    """How a run was made: every number of its model (segmentation.spec.ModelSpec, as JSON);
    NULL for runs published before it was kept."""
    db.table("runs").add_column("model_spec", str)


def migrate(conn: sqlite3.Connection) -> None:
    """Apply every pending migration, holding the write lock so concurrent openers queue."""
    if not MIGRATIONS.pending(conn):
        return
    # Without the lock, two processes opening a fresh file could both see a migration as
    # pending and both run it; BEGIN IMMEDIATE makes the second wait and then find none.
    with immediate_transaction(conn):
        MIGRATIONS.apply(conn)
