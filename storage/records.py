"""Read-side records: what the store hands back about runs and customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from segmentation.result import CleaningReport, ColumnDecision, ForecastReport, KSelection


@dataclass(frozen=True)
class RunRecord:
    """One published segmentation run: its provenance, model choice and cleaning report."""

    id: int
    status: str
    started_at: datetime
    finished_at: datetime
    source: str
    seed: int
    as_of: str | None
    rows_in: int
    rows_kept: int
    rows_dropped: int
    k: int
    k_method: str
    k_reason: str
    silhouette: float | None
    elbow: KSelection
    cleaning: CleaningReport
    columns: tuple[ColumnDecision, ...]
    features: tuple[str, ...]
    profile_features: tuple[str, ...]
    feature_labels: dict[str, str]
    population: dict[str, dict[str, float | None]]
    explained_variance: tuple[float, ...]
    attribute_columns: tuple[str, ...]
    # An order history's purchase and spend models, or why it has none; None for a
    # customer table (and runs published before forecasts existed).
    forecast: ForecastReport | None = None
    # The run's model spec (segmentation.spec.ModelSpec.to_dict(), versioned: ModelSpec
    # .from_dict rebuilds it), so a run records how it was made; None for runs before it.
    model_spec: dict[str, Any] | None = None

    @property
    def duration_seconds(self) -> float:
        """Wall-clock seconds the run took."""
        return (self.finished_at - self.started_at).total_seconds()


class HistoryEntry(NamedTuple):
    """The segment a customer was in for one stored run."""

    run_id: int
    finished_at: datetime
    segment_id: int
    segment_name: str


@dataclass(frozen=True)
class CustomerRecord:
    """One customer as of the current run, with their segment history.

    Either ``segment_id`` is set (the customer was segmented) or ``excluded_reason`` is
    (cleaning dropped them from the current run). ``history`` lists every stored run
    that segmented the customer, newest first, the current run included.
    """

    customer_id: str
    run_id: int
    segment_id: int | None
    segment_name: str | None
    distance: float | None
    attributes: dict[str, Any]
    excluded_reason: str | None
    history: tuple[HistoryEntry, ...]

    @property
    def excluded(self) -> bool:
        """Whether cleaning dropped the customer from the current run."""
        return self.excluded_reason is not None


@dataclass(frozen=True)
class AuditEntry:
    """One request for customer-level data: who, when, where, what, and whether allowed."""

    id: int
    at: datetime
    actor: str
    channel: str | None
    action: str
    subject: str
    allowed: bool
    destination: str | None = None  # where an export's file went, once delivered
