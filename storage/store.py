"""The segment store: publishes whole runs and answers questions about the current one.

Every public method is one unit of work on its own short-lived connection, so a ``Store``
can be shared by Slack listener threads and the scheduler thread. Reads run in one
transaction, so all their queries see a single committed state.

Reads use the standard library's ``sqlite3`` alone; sqlite-utils (which imports pandas and
numpy) comes in for writes and pending migrations, pandas for the methods that return frames,
numpy and pyarrow for a publish's rows. A process that reads a customer or a segment
(`segbot customer`) loads none of them (issue 14).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segmentation.result import SegmentationResult, SegmentMatch, SegmentProfile
from storage import (
    audiences,
    codec,
    customer_table,
    deliveries,
    home_viewers,
    retention,
    segment_history,
)
from storage import changes as run_changes
from storage.audiences import Audience, Compiled, FieldRange, Fields
from storage.changes import RetiredSegment, RunChanges, check_changes, check_still_current
from storage.conditions import Condition
from storage.deliveries import Delivery
from storage.errors import Access, NoPublishedRun, NotFound, StoreError, unavailable
from storage.home_viewers import HomeViewer
from storage.records import AuditEntry, CustomerRecord, HistoryEntry, RunRecord
from storage.run_tables import CUSTOMERS, run_table, run_tables
from storage.schema import migrate
from storage.segment_history import SegmentHistory
from storage.transactions import enable_wal, immediate_transaction, read_transaction

if TYPE_CHECKING:
    import pandas as pd
    from sqlite_utils import Database

    from storage.customers import CustomerBatches, CustomerRows

CURRENT_RUN_KEY = "current_run_id"
_WAL_SIZE_LIMIT = 64 * 1024 * 1024

_RUN_COLUMNS = ", ".join(f'"{name}"' for name in codec.RUN_RECORD_COLUMNS)

# A publish is one transaction writing ~75 MB per million customers. It stays in WAL mode:
# readers keep answering from the previous run meanwhile, and a crash leaves that run whole.
# The bulk loader's usual settings (journal_mode=OFF or MEMORY, synchronous=OFF) would give up
# exactly that atomicity. What the insert costs is Python binding the values and SQLite
# building the b-tree, side by side (`customers.made_ahead`); larger pages made the second
# cheaper (storage.transactions), a larger page cache (16, 64 or 256 MB instead of 2 MB)
# changed nothing, so it is not spent.
# - synchronous=FULL: the commit syncs the WAL once, so a run the digest announced survives
#   a power cut. One fsync per publish, not per row: no slower than NORMAL at 1M customers.
_PUBLISH_PRAGMAS = ("PRAGMA synchronous = FULL",)

_INSERT_AUDIT = """
    INSERT INTO audit (at, actor, channel, action, subject, allowed, destination)
    VALUES (?, ?, ?, ?, ?, ?, ?)
"""

# A customer's segment in every stored run: one primary-key search per run's customers table
# (runs are few, customers millions), {searches} joined by UNION ALL.
_CUSTOMER_HISTORY = """
    SELECT found.run_id, runs.finished_at, found.segment_id, segments.name
    FROM ({searches}) AS found
    JOIN runs ON runs.id = found.run_id
    JOIN segments ON segments.run_id = found.run_id AND segments.segment_id = found.segment_id
    ORDER BY found.run_id DESC
"""


class Store:
    """Segmentation runs in one SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0,
                 trace: Callable[[str], None] | None = None) -> None:
        """Open (creating if needed) the store at ``path`` and bring its schema up to date."""
        if str(path) == ":memory:":
            # Every unit of work opens its own connection, and each would get a new database.
            raise ValueError("the store needs a file path, not :memory:")
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._trace = trace
        # A run's field ranges never change once published: one scan per run, not per help.
        self._ranges: dict[int, list[FieldRange]] = {}
        try:
            with self._connect(Access.OPEN) as conn:
                enable_wal(conn, timeout=self.busy_timeout)
                migrate(conn)
        except sqlite3.DatabaseError as error:  # includes OperationalError (cannot open)
            raise StoreError(f"cannot open the store {self.path}: {error}") from error

    def publish_run(self, result: SegmentationResult, *, started_at: datetime,
                    finished_at: datetime, changes: RunChanges | None = None) -> int:
        """Store ``result`` whole and make it the current run; return its id.

        ``changes`` (matches, retired segments, movement against the previous run) are
        written in the same transaction, and only if that run is still the current one.
        """
        from storage import customers  # numpy and pyarrow: only a publish needs them

        run = codec.run_row(result, started_at=started_at, finished_at=finished_at)
        segments = codec.segment_rows(result)
        members = customers.customer_rows(result)
        excluded = codec.exclusion_rows(result)
        if changes is not None:
            check_changes(changes, [row["segment_id"] for row in segments])
        return self._write_run(run, segments, excluded, changes,
                               lambda conn, run_id: _insert_customers(conn, run_id, members))

    def publish_streamed_run(self, result: SegmentationResult,
                             members: CustomerBatches, *, started_at: datetime,
                             finished_at: datetime, changes: RunChanges | None = None) -> int:
        """`publish_run` for a result whose customers come as ``members``' batches, in id
        order, instead of in its frames: one batch in memory at a time, checked as it comes,
        all in one transaction. The movement against the previous run is counted in the
        store from both runs' customers (``changes.movement`` is not used)."""
        from storage import customers  # numpy and pyarrow: only a publish needs them

        run = codec.run_row(result, started_at=started_at, finished_at=finished_at)
        segments = codec.segment_rows(result)
        excluded = codec.exclusion_rows(result)
        left_out = [customer_id for customer_id, _ in excluded]
        if len(set(left_out)) != len(left_out):
            repeated = next(c for c in left_out if left_out.count(c) > 1)
            raise StoreError(f"cannot publish: customer {repeated} is excluded twice")
        segment_ids = [row["segment_id"] for row in segments]
        if changes is not None:
            check_changes(changes, segment_ids)
        return self._write_run(
            run, segments, excluded, changes,
            lambda conn, run_id: customers.insert_customer_batches(
                conn, run_id, members, segment_ids, left_out),
            movement_from_store=True)

    def _write_run(self, run: dict[str, Any], segments: list[dict[str, Any]],
                   excluded: list[tuple[str, str]], changes: RunChanges | None,
                   insert_customers: Callable[[sqlite3.Connection, int], object], *,
                   movement_from_store: bool = False) -> int:
        """Write a run built beforehand, in one transaction, and make it current.

        Everything is built before the write lock is taken; readers see either the previous
        run or this one, never part of it. ``movement_from_store`` counts the movement from
        both runs' stored customers instead of taking ``changes.movement``.
        """
        with self._writing(durable=True) as db:
            run_id = _insert_run(db, run)
            if changes is not None:  # read after the first write: under the write lock
                check_still_current(_current_run_id(db.conn), changes)
            _insert_segments(db, run_id, segments)
            insert_customers(db.conn, run_id)
            _insert_exclusions(db.conn, run_id, excluded)
            if changes is not None:
                if movement_from_store and changes.previous_run_id is not None:
                    changes = replace(changes, movement=run_changes.stored_movement(
                        db.conn, changes.previous_run_id, run_id))
                _insert_changes(db.conn, run_id, changes)
            segment_history.record_run(db.conn, run_id)
            _set_current_run(db, run_id)
        return run_id

    def current_run(self) -> RunRecord | None:
        """Return the run answers come from, or None before the first publish."""
        with self._reading() as conn:
            run_id = _current_run_id(conn)
            return None if run_id is None else _fetch_run(conn, run_id)

    def get_run(self, run_id: int) -> RunRecord:
        """Return run ``run_id``."""
        with self._reading() as conn:
            return _fetch_run(conn, run_id)

    def list_runs(self, limit: int = 20) -> list[RunRecord]:
        """Return up to ``limit`` runs, newest first."""
        with self._reading() as conn:
            return _select_runs(conn, "ORDER BY id DESC LIMIT ?", [limit])

    def previous_run(self, run_id: int) -> RunRecord | None:
        """Return the published run before ``run_id``, or None if it is the first."""
        with self._reading() as conn:
            _fetch_run(conn, run_id)
            runs = _select_runs(conn, "WHERE id < ? AND status = ? ORDER BY id DESC LIMIT 1",
                                [run_id, codec.RUN_STATUS_PUBLISHED])
            return runs[0] if runs else None

    def list_segments(self, run_id: int | None = None) -> list[SegmentProfile]:
        """Return the segments of ``run_id`` (default: the current run) by segment id."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            rows = conn.execute("SELECT profile FROM segments WHERE run_id = ? "
                                "ORDER BY segment_id", [run_id]).fetchall()
            return [codec.segment_profile(profile) for (profile,) in rows]

    def get_segment(self, segment_id: int, run_id: int | None = None) -> SegmentProfile:
        """Return one segment of ``run_id`` (default: the current run)."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            rows = conn.execute("SELECT profile FROM segments WHERE run_id = ? AND "
                                "segment_id = ?", [run_id, segment_id]).fetchall()
            if not rows:
                raise _segment_not_found(conn, run_id, segment_id)
            return codec.segment_profile(rows[0][0])

    def get_customer(self, customer_id: str) -> CustomerRecord:
        """Return a customer's segment in the current run and their history across runs."""
        customer_id = customer_id.strip()
        if not customer_id:
            raise NotFound("no customer id given")
        with self._reading() as conn:
            run_id = _resolve_run(conn, None)
            history = _customer_history(conn, customer_id)
            attributes = _stored_attributes(conn, run_id)
            current = conn.execute(
                f"SELECT segment_id, distance{customer_table.select_list(attributes)} "
                f"FROM {run_table(run_id, CUSTOMERS)} WHERE customer_id = ?",
                [customer_id]).fetchone()
            if current is not None:
                segment_id, distance, *values = current
                name = next(entry.segment_name for entry in history if entry.run_id == run_id)
                return CustomerRecord(customer_id, run_id, segment_id, name, distance,
                                      customer_table.decode(attributes, values),
                                      excluded_reason=None, history=history)
            excluded = conn.execute("SELECT reason FROM exclusions WHERE run_id = ? AND "
                                    "customer_id = ?", [run_id, customer_id]).fetchone()
            if excluded is None:
                raise _customer_not_found(customer_id, run_id, history)
            return CustomerRecord(customer_id, run_id, None, None, None, {},
                                  excluded_reason=excluded[0], history=history)

    def segment_members(self, segment_id: int, run_id: int | None = None,
                        limit: int | None = None) -> pd.DataFrame:
        """Return a segment's customers, most typical (nearest the centre) first."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            if conn.execute("SELECT 1 FROM segments WHERE run_id = ? AND segment_id = ?",
                            [run_id, segment_id]).fetchone() is None:
                raise _segment_not_found(conn, run_id, segment_id)
            attributes = _stored_attributes(conn, run_id)
            rows = conn.execute(
                f"SELECT customer_id, distance{customer_table.select_list(attributes)} "
                f"FROM {run_table(run_id, CUSTOMERS)} WHERE segment_id = ? "
                "ORDER BY distance IS NULL, distance, customer_id LIMIT ?",
                [segment_id, -1 if limit is None else limit]).fetchall()
        import pandas as pd

        from storage.customers import decode_frame

        members = pd.DataFrame.from_records(
            rows, columns=["customer_id", "distance", *(a.name for a in attributes)],
            coerce_float=True)
        members = members.astype({"customer_id": str, "distance": float})
        return decode_frame(members, attributes)

    def audience(self, condition: Condition, *, segment_id: int | None = None,
                 features: Sequence[str] = (), max_features: int = 5,
                 run_id: int | None = None) -> tuple[Audience, Compiled]:
        """Count the customers of ``run_id`` (default: current), or of one segment, who
        match ``condition``, with the mean among them of the first ``max_features`` of
        ``features`` that are numeric or yes/no columns."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            fields = _run_fields(conn, run_id)
            compiled = audiences.compile_condition(condition, fields)
            averaged = {f.attribute.name: f.attribute for f in fields.fields
                        if f.attribute.type in audiences.AVERAGED}
            means = [averaged[name] for name in features if name in averaged][:max_features]
            ids = [row[0] for row in conn.execute(
                "SELECT segment_id FROM segments WHERE run_id = ? ORDER BY segment_id",
                [run_id])]
            return audiences.count_audience(conn, run_table(run_id, CUSTOMERS), compiled,
                                            means, ids, segment_id), compiled

    def audience_members(self, condition: Condition, *, segment_id: int | None = None,
                         run_id: int | None = None) -> pd.DataFrame:
        """The customers matching ``condition`` (in one segment if given), segment by segment
        and most typical first: customer_id, segment_id, distance and the attributes."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            fields = _run_fields(conn, run_id)
            attributes = [f.attribute for f in fields.fields]
            rows = audiences.select_audience(
                conn, run_table(run_id, CUSTOMERS),
                audiences.compile_condition(condition, fields), attributes, segment_id)
        import pandas as pd

        from storage.customers import decode_frame

        members = pd.DataFrame.from_records(
            rows, columns=["customer_id", "segment_id", "distance",
                           *(a.name for a in attributes)], coerce_float=True)
        members = members.astype({"customer_id": str, "segment_id": "int64", "distance": float})
        return decode_frame(members, attributes)

    def condition_fields(self, run_id: int | None = None, *,
                         ranges: bool = False) -> list[FieldRange]:
        """The fields a condition may name in ``run_id`` (default: current), with their
        smallest and largest values if ``ranges`` (one scan of the customers)."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            fields = _run_fields(conn, run_id)
            if not ranges:
                return [FieldRange(f) for f in fields.fields]
            if run_id not in self._ranges:
                self._ranges[run_id] = audiences.field_ranges(
                    conn, run_table(run_id, CUSTOMERS), fields)
            return self._ranges[run_id]

    def projection(self, run_id: int | None = None) -> pd.DataFrame:
        """Return the run's 2-D PCA sample: pc1, pc2, segment_id."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            (text,) = conn.execute("SELECT projection FROM runs WHERE id = ?",
                                   [run_id]).fetchone()
        import pandas as pd

        frame = pd.DataFrame(json.loads(text), columns=["pc1", "pc2", "segment_id"])
        return frame.astype({"pc1": float, "pc2": float, "segment_id": "int64"})

    def record_audit(self, *, at: datetime, actor: str, channel: str | None, action: str,
                     subject: str, allowed: bool, destination: str | None = None) -> int:
        """Append one audit entry (who asked for what customer-level data); return its id."""
        if at.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        row = (at.isoformat(), actor, channel, action, subject, int(allowed), destination)
        with self._writing() as db:
            audit_id = db.conn.execute(_INSERT_AUDIT, row).lastrowid
        return _inserted_id(audit_id)

    def record_audit_destination(self, audit_id: int, destination: str) -> None:
        """Say where the data of audit entry `audit_id` went, once it was delivered (or not)."""
        with self._writing() as db:
            db.conn.execute("UPDATE audit SET destination = ? WHERE id = ?",
                            [destination, audit_id])

    def audit_entries(self, limit: int = 100, *, actor: str | None = None) -> list[AuditEntry]:
        """Return up to ``limit`` audit entries, newest first, optionally for one actor."""
        where, params = ("WHERE actor = ?", [actor]) if actor is not None else ("", [])
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, at, actor, channel, action, subject, allowed, destination FROM audit "
                f"{where} ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
        return [AuditEntry(row[0], datetime.fromisoformat(row[1]), row[2], row[3], row[4],
                           row[5], bool(row[6]), row[7]) for row in rows]

    def next_segment_id(self) -> int:
        """The id for a brand-new segment: one more than any id ever used, so none is reused."""
        with self._reading() as conn:
            return run_changes.next_segment_id(conn)

    def assignment_frame(self, run_id: int | None = None) -> pd.DataFrame:
        """Every customer of ``run_id`` (default: current) with their segment: customer_id,
        segment_id."""
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            # Two JSON arrays built by SQLite: at 1M rows 0.8 s, where fetching 1M row
            # tuples and unpacking them took 3.3 s.
            ids, segments = conn.execute(
                "SELECT json_group_array(customer_id), json_group_array(segment_id) "
                f"FROM {run_table(run_id, CUSTOMERS)}").fetchone()
        import pandas as pd

        return pd.DataFrame({"customer_id": pd.Series(json.loads(ids), dtype=object),
                             "segment_id": pd.Series(json.loads(segments), dtype="int64")})

    def segment_matches(self, run_id: int | None = None) -> list[SegmentMatch]:
        """How each segment of ``run_id`` (default: current) continues a previous one."""
        with self._reading() as conn:
            return run_changes.segment_matches(conn, _resolve_run(conn, run_id))

    def retired_segments(self, run_id: int | None = None) -> list[RetiredSegment]:
        """The previous run's segments that ``run_id`` (default: current) did not continue."""
        with self._reading() as conn:
            return run_changes.retired_segments(conn, _resolve_run(conn, run_id))

    def movement(self, run_id: int | None = None) -> pd.DataFrame:
        """Customers per (from, to) segment since the previous run: from, to, customers.

        "new" in ``from`` counts arrivals, "gone" in ``to`` departures; empty for a run that
        had no previous run.
        """
        with self._reading() as conn:
            return run_changes.movement(conn, _resolve_run(conn, run_id))

    def movers(self, run_id: int | None = None) -> pd.DataFrame:
        """Customers whose segment changed since the previous run, by customer id.

        Columns: customer_id, from_segment, from_name, to_segment, to_name.
        """
        with self._reading() as conn:
            run_id = _resolve_run(conn, run_id)
            return run_changes.movers(conn, run_id, _previous_run_id(conn, run_id))

    def segment_history(self, limit: int = 26) -> SegmentHistory:
        """Every segment's size, share and means in the newest ``limit`` runs, pruned or not."""
        with self._reading() as conn:
            return segment_history.load(conn, limit)

    def claim_delivery(self, run_id: int, channel: str, *, at: datetime) -> bool:
        """Claim the right to post run ``run_id``'s digest to ``channel``; False if it is
        posted, being posted, or was claimed by another process first."""
        with self._writing() as db:
            if deliveries.claim(db.conn, run_id, channel, at):
                return True
            _fetch_run(db.conn, run_id)  # an unknown run is an error, not "already posted"
            return False

    def record_digest_message(self, run_id: int, channel: str, ts: str) -> None:
        """Note that the digest message is in the channel, so a retry only sends its files."""
        with self._writing() as db:
            deliveries.record_message(db.conn, run_id, channel, ts)

    def mark_delivered(self, run_id: int, channel: str, *, at: datetime) -> None:
        """The digest and its files are in the channel."""
        with self._writing() as db:
            deliveries.mark_posted(db.conn, run_id, channel, at)

    def mark_failed(self, run_id: int, channel: str, error: str) -> None:
        """The post failed with ``error``; the delivery is pending again."""
        with self._writing() as db:
            deliveries.mark_failed(db.conn, run_id, channel, error)

    def mark_unconfirmed(self, run_id: int, channel: str, error: str) -> None:
        """Slack may have taken the post without confirming it: never retried automatically."""
        with self._writing() as db:
            deliveries.mark_unconfirmed(db.conn, run_id, channel, error)

    def get_delivery(self, run_id: int, channel: str) -> Delivery | None:
        """Where run ``run_id``'s digest stands in ``channel``, or None if never claimed."""
        with self._reading() as conn:
            return deliveries.get(conn, run_id, channel)

    def pending_deliveries(self) -> list[Delivery]:
        """Digests whose last post failed, oldest run first: to retry."""
        with self._reading() as conn:
            return deliveries.failed(conn)

    def record_home_opened(self, user_id: str, channel_id: str | None, *,
                           at: datetime) -> None:
        """Remember that ``user_id`` opened the Home tab, in their DM ``channel_id``."""
        with self._writing() as db:
            home_viewers.record_opened(db.conn, user_id, channel_id, at)

    def home_viewers(self) -> list[HomeViewer]:
        """Everyone who has opened the Home tab, most recent first."""
        with self._reading() as conn:
            return home_viewers.viewers(conn)

    def forget_home_viewer(self, user_id: str) -> bool:
        """Stop publishing the Home to ``user_id`` (gone from Slack); False if not listed."""
        with self._writing() as db:
            return home_viewers.forget(db.conn, user_id)

    def prune_runs(self, keep: int) -> retention.PruneReport:
        """Delete every run but the newest ``keep`` (at least 2), in one transaction; their
        summaries stay for `segment_history`.

        Segment ids of deleted runs are never given out again. The file keeps its size:
        SQLite reuses the freed pages for the next runs (``vacuum`` returns them to the disk).
        """
        try:
            with self._writing() as db:
                return retention.prune_runs(db.conn, keep, _current_run_id(db.conn))
        except sqlite3.Error as error:  # rolled back: every run is still there
            raise StoreError(f"could not delete old runs from {self.path}: {error}") from error

    def free_bytes(self) -> int:
        """Space inside the file that deleted runs left free."""
        with self._reading() as conn:
            return retention.free_bytes(conn)

    def vacuum(self) -> None:
        """Rewrite the file without its free pages (needs as much free disk as the store)."""
        with self._connect(Access.WRITE) as conn:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextmanager
    def _connect(self, access: Access) -> Iterator[sqlite3.Connection]:
        """Yield a fresh connection, closed afterwards: one per unit of work and thread.

        A fault of the file (damaged, read-only, its disk full or failing) raises
        `StoreUnavailable` saying what to do; the unit of work was rolled back whole.
        """
        try:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout)
            if self._trace is not None:
                conn.set_trace_callback(self._trace)
            try:
                # WAL + NORMAL stays consistent on power loss but may lose the latest commits;
                # a lost publish is redone by the next refresh. fsync per commit is not worth it.
                conn.execute("PRAGMA synchronous = NORMAL")
                # A 1M-customer publish grows the WAL by ~150 MB; shrink it after checkpoints.
                conn.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")
                yield conn
            finally:
                conn.close()
        except sqlite3.Error as error:
            fault = unavailable(error, self.path, access)
            if fault is None:
                raise
            raise fault from error

    @contextmanager
    def _writing(self, *, durable: bool = False) -> Iterator[Database]:
        """Yield a connection inside one write transaction that holds the write lock from
        the start (BEGIN IMMEDIATE). A deferred transaction that reads first (sqlite-utils
        reads the schema before inserting) fails at once with "database is locked" when
        another connection wrote since; this one waits its turn (busy_timeout).

        ``durable`` (a publish) syncs the commit to disk (see `_PUBLISH_PRAGMAS`)."""
        from sqlite_utils import Database

        with self._connect(Access.WRITE) as conn:
            if durable:
                for pragma in _PUBLISH_PRAGMAS:
                    conn.execute(pragma)
            with immediate_transaction(conn):
                yield Database(conn, execute_plugins=False)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """Yield a connection inside one read transaction: a single consistent snapshot."""
        with self._connect(Access.READ) as conn, read_transaction(conn):
            yield conn


def _insert_run(db: Database, run: dict) -> int:
    # runs.id is an INTEGER PRIMARY KEY, so the new row's rowid is its id.
    return _inserted_id(db.table("runs").insert(run, pk="id").last_rowid)


def _inserted_id(rowid: int | None) -> int:
    """The id SQLite gave the row just inserted; None would mean no row was inserted."""
    if rowid is None:
        raise StoreError("SQLite inserted no row and returned no id")
    return rowid


def _insert_segments(db: Database, run_id: int, segments: list[dict]) -> None:
    db.table("segments").insert_all(({"run_id": run_id, **row} for row in segments),
                                    pk=("run_id", "segment_id"))


def _insert_customers(conn: sqlite3.Connection, run_id: int, members: CustomerRows) -> None:
    from storage import customers

    customers.insert_customers(conn, run_id, members)


def _insert_exclusions(conn: sqlite3.Connection, run_id: int,
                       excluded: list[tuple[str, str]]) -> None:
    conn.executemany("INSERT INTO exclusions (run_id, customer_id, reason) VALUES (?, ?, ?)",
                     ((run_id, customer_id, reason) for customer_id, reason in excluded))


def _insert_changes(conn: sqlite3.Connection, run_id: int, changes: RunChanges) -> None:
    run_changes.insert_changes(conn, run_id, changes)


def _previous_run_id(conn: sqlite3.Connection, run_id: int) -> int | None:
    row = conn.execute("SELECT max(id) FROM runs WHERE id < ? AND status = ?",
                       [run_id, codec.RUN_STATUS_PUBLISHED]).fetchone()
    return row[0]


def _set_current_run(db: Database, run_id: int) -> None:
    db.table("meta").upsert({"key": CURRENT_RUN_KEY, "value": str(run_id)}, pk="key")


def _current_run_id(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", [CURRENT_RUN_KEY]).fetchone()
    return None if row is None else int(row[0])


def _resolve_run(conn: sqlite3.Connection, run_id: int | None) -> int:
    """Return ``run_id``, or the current run's id when None; raise if there is none."""
    if run_id is None:
        current = _current_run_id(conn)
        if current is None:
            raise NoPublishedRun()
        return current
    if conn.execute("SELECT 1 FROM runs WHERE id = ?", [run_id]).fetchone() is None:
        raise _run_not_found(conn, run_id)
    return run_id


def _fetch_run(conn: sqlite3.Connection, run_id: int) -> RunRecord:
    runs = _select_runs(conn, "WHERE id = ?", [run_id])
    if not runs:
        raise _run_not_found(conn, run_id)
    return runs[0]


def _select_runs(conn: sqlite3.Connection, clause: str, parameters: list) -> list[RunRecord]:
    """The runs that ``clause`` (WHERE, ORDER BY, LIMIT) selects, in its order."""
    rows = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs {clause}", parameters)
    return [codec.run_record(dict(zip(codec.RUN_RECORD_COLUMNS, row, strict=True)))
            for row in rows]


def _stored_attributes(conn: sqlite3.Connection,
                       run_id: int) -> tuple[customer_table.AttributeColumn, ...]:
    (text,) = conn.execute("SELECT attribute_columns FROM runs WHERE id = ?", [run_id]).fetchone()
    return customer_table.stored_attributes(conn, run_id, json.loads(text))


def _run_fields(conn: sqlite3.Connection, run_id: int) -> Fields:
    """The fields of run ``run_id`` a condition may name: columns, labels, category values."""
    (labels,) = conn.execute("SELECT feature_labels FROM runs WHERE id = ?", [run_id]).fetchone()
    categories: dict[str, dict[str, None]] = {}
    for (profile,) in conn.execute("SELECT profile FROM segments WHERE run_id = ?", [run_id]):
        for name, shares in json.loads(profile).get("categories", {}).items():
            categories.setdefault(name, {}).update(dict.fromkeys(map(str, shares)))
    return Fields.of_run(_stored_attributes(conn, run_id), json.loads(labels),
                         {name: list(values) for name, values in categories.items()})


def _customer_history(conn: sqlite3.Connection, customer_id: str) -> tuple[HistoryEntry, ...]:
    tables = run_tables(conn, CUSTOMERS)
    if not tables:
        return ()
    searches = " UNION ALL ".join(
        f"SELECT {run_id} AS run_id, segment_id FROM {table} WHERE customer_id = :customer"
        for run_id, (table,) in tables.items())
    rows = conn.execute(_CUSTOMER_HISTORY.format(searches=searches), {"customer": customer_id})
    return tuple(HistoryEntry(run, datetime.fromisoformat(finished), segment, name)
                 for run, finished, segment, name in rows)


def _run_not_found(conn: sqlite3.Connection, run_id: int) -> NotFound:
    (latest,) = conn.execute("SELECT max(id) FROM runs").fetchone()
    if latest is None:
        return NotFound(f"no run {run_id}; nothing has been published yet")
    return NotFound(f"no run {run_id}; the latest run is {latest}")


def _segment_not_found(conn: sqlite3.Connection, run_id: int, segment_id: int) -> NotFound:
    ids = [row[0] for row in conn.execute(
        "SELECT segment_id FROM segments WHERE run_id = ? ORDER BY segment_id", [run_id])]
    return NotFound(f"no segment {segment_id} in run {run_id}; segments are "
                    f"{describe_ids(ids)}")


def _customer_not_found(customer_id: str, run_id: int,
                        history: tuple[HistoryEntry, ...]) -> NotFound:
    message = f"no customer {customer_id} in run {run_id}"
    if history:
        last = history[0]
        message += (f"; they were last segmented in run {last.run_id} "
                    f"(segment {last.segment_id}, {last.segment_name})")
    return NotFound(message)


def describe_ids(ids: list[int]) -> str:
    """Return ids as a short phrase: "1-5" when consecutive, else "1, 3, 4"."""
    if not ids:
        return "none"
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    return ", ".join(str(i) for i in ids)
