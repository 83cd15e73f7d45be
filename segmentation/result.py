"""Plain result types produced by the engine and kept by the store.

Every type round-trips through ``to_dict``/``from_dict`` (JSON-safe dicts) so the store can
persist it without knowing the engine's internals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the frames are the engine's; reading a stored run needs no pandas
    import pandas as pd

# Movement between runs: where arrivals come from and departures go, beside segment ids.
NEW, GONE = "new", "gone"
# The role of an order history's column is "order:" + its role (order:customer, order:date,
# order:amount ...): a stored run says it was read as orders, and which column was what.
ORDER_ROLE_PREFIX = "order:"


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class ColumnDecision:
    """What the engine decided to do with one input column, and why."""

    column: str
    # "id" | "numeric" | "categorical" | "date" | "derived" | "dropped", or in an order
    # history ORDER_ROLE_PREFIX + "customer" | "date" | "amount" | "price" | "quantity" |
    # "order" | "category" | "channel"
    role: str
    reason: str


def order_roles(columns: Iterable[ColumnDecision]) -> dict[str, str]:
    """Role -> column of a table read as an order history; empty for a customer table."""
    return {decision.role.removeprefix(ORDER_ROLE_PREFIX): decision.column
            for decision in columns if decision.role.startswith(ORDER_ROLE_PREFIX)}


@dataclass(frozen=True)
class CleaningStep:
    """One cleaning action: how many rows or values it touched and why."""

    column: str | None
    # "dropped rows" | "imputed" | "relabelled" | "dropped column" | "numbered rows" | "decoded";
    # in an order history also "set apart" (returns), "counted" (zero amounts) and
    # "left out customers"
    action: str
    count: int
    reason: str


@dataclass(frozen=True)
class CleaningReport:
    """Every row dropped and value changed between the input table and the model.

    ``rows_in`` counts the rows read and ``rows_kept`` the customers segmented. In a
    customer table each kept row is a customer. An order history has many rows per
    customer: ``order_rows_used`` counts the order rows its customers were made from (None
    for a customer table), so ``rows_dropped`` stays a count of rows.
    """

    rows_in: int
    rows_kept: int
    steps: tuple[CleaningStep, ...] = ()
    order_rows_used: int | None = None

    @property
    def rows_dropped(self) -> int:
        used = self.rows_kept if self.order_rows_used is None else self.order_rows_used
        return self.rows_in - used

    def to_dict(self) -> dict[str, Any]:
        data = {"rows_in": self.rows_in, "rows_kept": self.rows_kept,
                "steps": [asdict(step) for step in self.steps]}
        if self.order_rows_used is not None:
            data["order_rows_used"] = self.order_rows_used
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleaningReport:
        return cls(data["rows_in"], data["rows_kept"],
                   tuple(CleaningStep(**step) for step in data.get("steps", ())),
                   data.get("order_rows_used"))


@dataclass(frozen=True)
class KSelection:
    """The elbow curve, silhouette per k, the chosen k and a one-sentence reason."""

    ks: tuple[int, ...]
    inertias: tuple[float, ...]
    silhouettes: tuple[float | None, ...]
    chosen_k: int
    reason: str
    method: str  # "elbow" | "override"

    def to_dict(self) -> dict[str, Any]:
        return {"ks": list(self.ks), "inertias": [float(v) for v in self.inertias],
                "silhouettes": [_finite_or_none(v) for v in self.silhouettes],
                "chosen_k": self.chosen_k, "reason": self.reason, "method": self.method}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KSelection:
        return cls(tuple(data["ks"]), tuple(data["inertias"]), tuple(data["silhouettes"]),
                   data["chosen_k"], data["reason"], data["method"])


@dataclass(frozen=True)
class FeatureStat:
    """One feature of one segment, in original units, against the whole population."""

    feature: str
    label: str
    mean: float | None
    median: float | None
    population_mean: float | None
    index: float | None  # segment mean / population mean x 100; None when undefined
    z: float  # (segment mean - population mean) / population std: how distinctive

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "label": self.label, "mean": _finite_or_none(self.mean),
                "median": _finite_or_none(self.median),
                "population_mean": _finite_or_none(self.population_mean),
                "index": _finite_or_none(self.index), "z": _finite_or_none(self.z) or 0.0}


@dataclass(frozen=True)
class SegmentProfile:
    """A named, described segment with its statistics."""

    segment_id: int
    name: str
    description: str
    action: str
    size: int
    share: float
    traits: tuple[str, ...]
    stats: tuple[FeatureStat, ...]
    distinguishing: tuple[str, ...]  # feature keys, most distinguishing first
    centroid: tuple[float, ...]  # segment mean per profile feature in population z units
    categories: dict[str, dict[str, float]] = field(default_factory=dict)

    def stat(self, feature: str) -> FeatureStat | None:
        return next((s for s in self.stats if s.feature == feature), None)

    def to_dict(self) -> dict[str, Any]:
        return {"segment_id": self.segment_id, "name": self.name,
                "description": self.description, "action": self.action, "size": self.size,
                "share": self.share, "traits": list(self.traits),
                "stats": [s.to_dict() for s in self.stats],
                "distinguishing": list(self.distinguishing),
                "centroid": [float(v) for v in self.centroid], "categories": self.categories}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SegmentProfile:
        return cls(
            segment_id=int(data["segment_id"]), name=data["name"],
            description=data["description"], action=data["action"], size=int(data["size"]),
            share=float(data["share"]), traits=tuple(data["traits"]),
            stats=tuple(FeatureStat(**s) for s in data["stats"]),
            distinguishing=tuple(data["distinguishing"]), centroid=tuple(data["centroid"]),
            categories=data.get("categories", {}),
        )


@dataclass(frozen=True)
class ForecastReport:
    """The purchase and spend models fitted to an order history's customers and their fit
    checks (`segmentation.forecast`), or, when ``fitted`` is False, why there are none.

    Times are in ``time_unit``. ``expected_repeats`` is the repeat purchases the model
    expects over each customer's own history, against the ``actual_repeats`` they made;
    ``largest_slope`` the log-likelihood's largest slope at the estimate (0 at an optimum).
    """

    fitted: bool
    reason: str  # why there are no predictions; empty when fitted
    customers: int
    repeat_buyers: int
    horizon_days: int
    actual_repeats: int
    time_unit: str = "weeks"
    parameters: dict[str, float] = field(default_factory=dict)  # BG/NBD r, alpha, a, b
    log_likelihood: float | None = None
    largest_slope: float | None = None
    expected_repeats: float | None = None
    spend_parameters: dict[str, float] = field(default_factory=dict)  # Gamma-Gamma p, q, v
    spend_reason: str = ""  # why there is no value prediction; empty when there is
    spend_correlation: float | None = None
    # When orders after the as-of date were left out: the forecast against them
    # (segmentation.forecast.holdout_check); empty otherwise.
    holdout: dict[str, Any] = field(default_factory=dict)

    def not_fitted(self, reason: str) -> ForecastReport:
        return replace(self, fitted=False, reason=reason)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("log_likelihood", "largest_slope", "expected_repeats", "spend_correlation"):
            data[key] = _finite_or_none(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastReport:
        return cls(**data)


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """Everything one segmentation run produced, ready to publish.

    Frames:
    - ``assignments``: customer_id (str), segment_id (int), distance (float); one row per
      kept customer.
    - ``attributes``: customer_id (str) then the display attributes in original units, rows
      aligned with ``assignments``.
    - ``excluded``: customer_id (str), reason (str): customers cleaning dropped.
    - ``projection``: pc1, pc2, segment_id for a fixed-size sample (scatter chart).

    An order history's run carries a ``forecast``; when it fitted, ``attributes`` holds each
    customer's P(active) and expected purchases and value (`segmentation.forecast`).
    """

    source: str
    seed: int
    as_of: str | None
    columns: tuple[ColumnDecision, ...]
    cleaning: CleaningReport
    k_selection: KSelection
    silhouette: float | None
    features: tuple[str, ...]
    profile_features: tuple[str, ...]
    feature_labels: dict[str, str]
    population: dict[str, dict[str, float | None]]  # feature -> {mean, median, std}
    segments: tuple[SegmentProfile, ...]
    assignments: pd.DataFrame
    attributes: pd.DataFrame
    excluded: pd.DataFrame
    projection: pd.DataFrame
    explained_variance: tuple[float, ...] = ()
    model_spec: dict[str, Any] | None = None  # spec.ModelSpec.to_dict(), kept with the run
    forecast: ForecastReport | None = None  # order histories only

    @property
    def k(self) -> int:
        return len(self.segments)

    def segment(self, segment_id: int) -> SegmentProfile:
        return next(s for s in self.segments if s.segment_id == segment_id)

    def with_segment_ids(self, mapping: dict[int, int]) -> SegmentationResult:
        """Return a copy whose segments are renumbered old id -> new id."""
        segments = tuple(sorted((replace(s, segment_id=mapping[s.segment_id])
                                 for s in self.segments), key=lambda s: s.segment_id))
        assignments = self.assignments.assign(
            segment_id=self.assignments["segment_id"].map(mapping).astype("int64"))
        projection = self.projection.assign(
            segment_id=self.projection["segment_id"].map(mapping).astype("int64"))
        return replace(self, segments=segments, assignments=assignments, projection=projection)


@dataclass(frozen=True)
class SegmentMatch:
    """How one segment of a new run relates to the previous run, as matching decided."""

    segment_id: int  # the id it is published under
    previous_id: int | None  # the previous run's segment it continues, if any
    distance: float | None  # RMS distance of the means in standard deviations
