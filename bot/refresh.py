"""A refresh: load the customer table, segment it, publish the run to the store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from segmentation.engine import Progress, segment_customers
from segmentation.loading import load_table
from segmentation.model import ModelConfig
from segmentation.schema import SchemaOverrides
from storage.records import RunRecord
from storage.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def refresh(store: Store, data: Path, *, config: ModelConfig,
            overrides: SchemaOverrides | None = None, now: Clock = utc_now,
            progress: Progress = lambda _: None) -> RunRecord:
    """Segment the table at `data` and publish it as the current run, all or nothing."""
    started = now()
    progress(f"reading {data}")
    raw = load_table(data)
    result = segment_customers(raw, source=str(data), config=config, overrides=overrides,
                               progress=progress)
    progress(f"publishing {len(result.assignments):,} assignments")
    run_id = store.publish_run(result, started_at=started, finished_at=now())
    return store.get_run(run_id)
