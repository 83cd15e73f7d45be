"""A refresh: load the customer table, segment it, continue the previous run, publish.

Segments keep their ids and names from run to run (`segmentation.matching`), and the
movement of customers between the previous run and this one is published with the run, in
one transaction. Only one refresh of a store runs at a time, across processes: a second one
is refused at once rather than queued behind a run that can take minutes.
"""

from __future__ import annotations

import fcntl
import gc
import os
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from bot.clock import Clock, utc_now
from segmentation.result import SegmentationResult
from segmentation.sources import FileSource, LoadedTable, TableSource, read_table
from storage.changes import RetiredSegment, RunChanges
from storage.records import RunRecord
from storage.store import Store

if TYPE_CHECKING:  # the engine (scikit-learn, ~0.6 s to import; pandas and numpy) loads on
    # the first refresh, beside the read, so `segbot customer` and the other read commands
    # start without it
    from bot.spark import SparkEngine
    from segmentation.config import ModelConfig
    from segmentation.engine import Progress
    from segmentation.matching import Matching
    from segmentation.schema_file import SchemaOverrides

LOCK_SUFFIX = ".refresh.lock"
ENGINE = "segmentation.engine"


class RefreshInProgress(Exception):
    """Another refresh of the same store is running; this one was refused and changed nothing."""



def refresh(store: Store, data: TableSource | Path, *, config: ModelConfig,
            overrides: SchemaOverrides | None = None, now: Clock = utc_now,
            progress: Progress = lambda _: None, spark: SparkEngine | None = None) -> RunRecord:
    """Segment the table `data` names and publish it as the current run, all or nothing.

    With `spark`, the table is read and segmented on Spark, the run is published the same
    way, and its assignments are also written as Parquet beside the input.
    Raises `RefreshInProgress` at once if another refresh of `store` is running.
    """
    source = FileSource(data) if isinstance(data, Path) else data

    with refresh_lock(store.path, now=now):
        started = now()
        previous = store.current_run()
        progress(f"reading {source.describe()}")
        if spark is not None:
            return _refresh_on_spark(store, source, spark, config=keep_k(config, previous),
                                     overrides=overrides, previous=previous, started=started,
                                     now=now, progress=progress)
        loaded = read_while_importing_engine(source)
        from segmentation.engine import segment_table

        result = segment_table(loaded, config=keep_k(config, previous),
                               overrides=overrides, progress=progress)
        if previous is not None:
            progress(f"matching segments to run {previous.id}")
        matched, changes = continue_run(store, result, previous)
        progress(f"publishing {len(matched.assignments):,} assignments")
        run_id = store.publish_run(matched, started_at=started, finished_at=now(),
                                   changes=changes)
        return store.get_run(run_id)


def _refresh_on_spark(store: Store, source: TableSource, spark: SparkEngine, *,
                      config: ModelConfig, overrides: SchemaOverrides | None,
                      previous: RunRecord | None, started: datetime, now: Clock,
                      progress: Progress) -> RunRecord:
    """Segment on Spark and publish the customers a batch at a time from the Parquet the
    executors wrote in id order; the movement is counted in the store."""
    from storage.customers import customer_batches

    run = spark.segment(source, config=config, overrides=overrides, progress=progress)
    try:
        if previous is not None:
            progress(f"matching segments to run {previous.id}")
        matching, changes = _matched(store, run.result, previous)
        customers = run.customers
        progress(f"publishing {customers.rows:,} assignments a batch at a time")
        members = customer_batches(customers.schema(), customers.batches(matching.mapping))
        run_id = store.publish_streamed_run(matching.result, members, started_at=started,
                                            finished_at=now(), changes=changes)
    finally:
        run.customers.discard()
    spark.write_assignments(run, matching.mapping, source, run_id, progress)
    return store.get_run(run_id)


def _matched(store: Store, result: SegmentationResult,
             previous: RunRecord | None) -> tuple[Matching, RunChanges]:
    """`continue_run` without the movement, which the store counts from its tables."""
    from segmentation.matching import match_segments

    segments = store.list_segments(previous.id) if previous is not None else []
    matching = match_segments(result, segments, store.next_segment_id())
    if previous is None:
        return matching, RunChanges(None, matching.matches)
    names = {segment.segment_id: segment.name for segment in segments}
    return matching, RunChanges(
        previous.id, matching.matches,
        tuple(RetiredSegment(segment_id, names[segment_id]) for segment_id in matching.retired))


def read_while_importing_engine(source: TableSource) -> LoadedTable:
    """Read the table on a thread while this one imports the engine.

    Reading a file is pyarrow's C++ (it lets go of the GIL) and importing scikit-learn is
    Python (it needs the GIL): side by side, the import (~0.6 s) costs a refresh nothing
    while a table of a million rows or more is read.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segbot-read") as pool:
        reading = pool.submit(read_table, source)
        import_long_lived(ENGINE)
        return reading.result()


def import_long_lived(name: str) -> None:
    """Import module ``name`` with the cyclic garbage collector paused, then freeze what the
    import made (`gc.freeze`: later collections pass it by); a no-op once imported.

    Importing the engine makes ~90,000 objects that live as long as the process. The
    collector kept sweeping them while they were made: three full sweeps, 0.2-0.25 s of a
    1M refresh, against 0.06 s for every collection of the refresh with them frozen.
    """
    if name in sys.modules:
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        import_module(name)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def keep_k(config: ModelConfig, previous: RunRecord | None) -> ModelConfig:
    """The config with the previous run's k to keep while it is still at the elbow."""
    if previous is None or config.k is not None or config.previous_k is not None:
        return config
    return replace(config, previous_k=previous.k)


def continue_run(store: Store, result: SegmentationResult,
                 previous: RunRecord | None) -> tuple[SegmentationResult, RunChanges]:
    """`result` with the previous run's ids and names, and how it differs from that run."""
    from segmentation.matching import match_segments, movement_matrix

    if previous is None:
        matching = match_segments(result, (), store.next_segment_id())
        return matching.result, RunChanges(None, matching.matches)
    segments = store.list_segments(previous.id)
    matching = match_segments(result, segments, store.next_segment_id())
    names = {segment.segment_id: segment.name for segment in segments}
    movement = movement_matrix(store.assignment_frame(previous.id),
                               matching.result.assignments)
    return matching.result, RunChanges(
        previous.id, matching.matches,
        tuple(RetiredSegment(segment_id, names[segment_id]) for segment_id in matching.retired),
        movement)


def lock_path(db_path: Path) -> Path:
    """The file whose lock marks a refresh of the store at `db_path` as running."""
    return db_path.with_name(db_path.name + LOCK_SUFFIX)


@contextmanager
def refresh_lock(db_path: Path, *, now: Clock = utc_now) -> Iterator[None]:
    """Hold the store's refresh lock, or raise `RefreshInProgress` without waiting.

    `flock` is released by the kernel when its holder exits, however it exits, so a crashed
    refresh never leaves the store locked. The file itself stays: deleting a lock file
    races with the next process opening it.
    """
    path = lock_path(db_path)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        holder = path.read_text(encoding="utf-8").strip() or "holder unknown"
        raise RefreshInProgress(
            f"a refresh of {db_path} is already running ({holder}); nothing was changed. "
            "Try again when it has finished.") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}, started {now():%Y-%m-%d %H:%M:%S %Z}".strip())
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
