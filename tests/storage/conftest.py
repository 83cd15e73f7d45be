"""Hand-built segmentation results and a store on a temp file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlite_utils import Database

from segmentation.result import (
    CleaningReport,
    CleaningStep,
    ColumnDecision,
    FeatureStat,
    KSelection,
    SegmentationResult,
    SegmentProfile,
)
from storage import Store, codec, schema
from storage.migrations import MigrationSet

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_result(*, n_customers: int = 30, k: int = 3, label: str = "A", first_id: int = 1000,
                shift: int = 0, excluded: tuple[str, ...] = ("X1", "X2"),
                seed: int = 7) -> SegmentationResult:
    """A small, internally consistent result.

    Customer ``first_id + i`` is in segment ``(i + shift) % k + 1`` with distance
    ``(i % 10) / 10 + i / 10_000`` (unique, so member order is known); the second customer (1001
    by default) has no income. Segment names start with ``label`` so tests can tell runs apart.
    """
    rng = np.random.default_rng(seed)
    ids = [str(first_id + i) for i in range(n_customers)]
    segment_ids = [(i + shift) % k + 1 for i in range(n_customers)]
    assignments = pd.DataFrame({
        "customer_id": ids, "segment_id": np.array(segment_ids, dtype="int64"),
        "distance": [(i % 10) / 10 + i / 10_000 for i in range(n_customers)],
    })
    income = rng.normal(50_000, 12_000, n_customers).round(2)
    income[1] = np.nan
    attributes = pd.DataFrame({
        "customer_id": ids,
        "Income": income,
        "Kidhome": np.arange(n_customers, dtype="int64") % 3,
        "Marital_Status": [("Single", "Married", 'Tog"ether')[i % 3]
                           for i in range(n_customers)],
        "Dt_Customer": pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(n_customers),
                                                                     unit="D"),
        "Complain": np.arange(n_customers) % 4 == 0,
    })
    sizes = pd.Series(segment_ids).value_counts()
    segments = tuple(_profile(segment_id, f"{label} segment {segment_id}",
                              int(sizes.get(segment_id, 0)), n_customers)
                     for segment_id in range(1, k + 1))
    projection = pd.DataFrame({"pc1": rng.normal(size=12), "pc2": rng.normal(size=12),
                               "segment_id": np.arange(12, dtype="int64") % k + 1})
    return SegmentationResult(
        source="customers.csv", seed=seed, as_of="2026-03-01",
        columns=(ColumnDecision("ID", "id", "unique per row"),
                 ColumnDecision("Income", "numeric", "money"),
                 ColumnDecision("Z_Revenue", "dropped", "constant")),
        cleaning=CleaningReport(n_customers + len(excluded), n_customers,
                                (CleaningStep("Income", "dropped rows", len(excluded),
                                              "income missing"),)),
        k_selection=KSelection((2, 3, 4), (900.0, 610.5, 540.25), (0.31, None, 0.27), k,
                               f"k={k} is where the elbow bends", "elbow"),
        silhouette=0.31, features=("Income", "Kidhome"), profile_features=("Income",),
        feature_labels={"Income": "Yearly income"},
        population={"Income": {"mean": 50_000.0, "median": 49_000.0, "std": None}},
        segments=segments, assignments=assignments, attributes=attributes,
        excluded=pd.DataFrame({"customer_id": list(excluded),
                               "reason": [f"{c}: income missing" for c in excluded]}),
        projection=projection, explained_variance=(0.42, 0.21),
    )


def _profile(segment_id: int, name: str, size: int, total: int) -> SegmentProfile:
    return SegmentProfile(
        segment_id=segment_id, name=name, description=f"{name}, described",
        action=f"Email {name}", size=size, share=size / total,
        traits=("high income",),
        stats=(FeatureStat("Income", "Yearly income", 60_000.0 + segment_id, 59_000.0,
                           50_000.0, 120.0, 0.8),),
        distinguishing=("Income",), centroid=(0.8, -0.1 * segment_id),
        categories={"Marital_Status": {"Married": 0.5, "Single": 0.5}},
    )


def publish(store: Store, result: SegmentationResult, minutes: int = 0) -> int:
    started = T0 + timedelta(minutes=minutes)
    return store.publish_run(result, started_at=started,
                             finished_at=started + timedelta(seconds=42))


def shipped_migrations() -> MigrationSet:
    """A copy of the store's migrations, for a test to append a later one to."""
    later = MigrationSet("segbot")
    for name, migration in schema.MIGRATIONS.migrations:
        later(name=name)(migration)
    return later


def legacy_migrations(last: str = "0005_audit_destination") -> MigrationSet:
    """The store's migrations up to ``last``: the schema of a release before later ones."""
    names = [name for name, _ in schema.MIGRATIONS.migrations]
    earlier = MigrationSet("segbot")
    for name, migration in schema.MIGRATIONS.migrations[:names.index(last) + 1]:
        earlier(name=name)(migration)
    return earlier


def publish_legacy(path: Path, result: SegmentationResult, minutes: int = 0) -> int:
    """Publish ``result`` as releases before 0006 did, into a store on their schema: the
    attributes of each customer one JSON array in ``assignments``."""
    started = T0 + timedelta(minutes=minutes)
    names = codec.attribute_columns(result.attributes)
    values = result.attributes[names].astype(object).to_numpy().tolist()
    row = codec.run_row(result, started_at=started, finished_at=started + timedelta(seconds=42))
    del row["forecast"], row["model_spec"]  # added by 0009 and 0010
    with Database(path) as db, db.conn:
        run_id = db.table("runs").insert(row).last_rowid
        db.table("segments").insert_all(
            {"run_id": run_id, **row} for row in codec.segment_rows(result))
        db.table("assignments").insert_all(
            {"run_id": run_id, "customer_id": str(customer), "segment_id": int(segment),
             "distance": float(distance), "attributes": codec.dumps([_legacy(v) for v in row])}
            for customer, segment, distance, row in zip(
                *(result.assignments[c] for c in ("customer_id", "segment_id", "distance")),
                values, strict=True))
        db.table("exclusions").insert_all(
            {"run_id": run_id, "customer_id": customer, "reason": reason}
            for customer, reason in codec.exclusion_rows(result))
        db.table("meta").upsert({"key": "current_run_id", "value": str(run_id)}, pk="key")
    assert run_id is not None
    return run_id


def _legacy(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return None if value is pd.NaT or value is pd.NA else value


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "segbot.db"


@pytest.fixture
def store(db_path: Path) -> Store:
    return Store(db_path)
