"""One call from a customer table to named, profiled segments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from segmentation import rfm_naming
from segmentation.cleaning import ID
from segmentation.forecast import HORIZON_DAYS, add_forecast
from segmentation.model import FittedModel, ModelConfig, fit_model
from segmentation.order_profile import order_columns_for, prepare_orders
from segmentation.prepare import PreparedData, prepare_customers
from segmentation.profiling import profiles_from_tables, segment_tables
from segmentation.result import SegmentationResult, order_roles
from segmentation.schema import SchemaOverrides
from segmentation.sources import LoadedTable

PROJECTION_POINTS = 5_000

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def segment_customers(raw: pd.DataFrame, *, source: str, config: ModelConfig | None = None,
                      overrides: SchemaOverrides | None = None,
                      progress: Progress = _quiet) -> SegmentationResult:
    """Clean, derive features, fit, choose k, profile and name: the whole engine, no I/O.

    An order history (detected, or ``kind = "orders"`` in the schema file) is aggregated to
    one row of purchase features per customer first, and its segments get RFM names.
    """
    config = config or ModelConfig()
    overrides = overrides or SchemaOverrides()
    progress(f"cleaning {len(raw):,} row{'' if len(raw) == 1 else 's'}")
    columns = order_columns_for(raw, overrides)
    forecast = None
    if columns is None:
        prepared = prepare_customers(raw, overrides)
    else:
        progress(f"found an order history ({columns.describe()}): one row per customer next")
        prepared = prepare_orders(raw, columns, overrides.as_of)
        progress(f"forecasting the next {HORIZON_DAYS} days of {len(prepared.frame):,} "
                 "customers (BG/NBD, Gamma-Gamma)")
        prepared, forecast = add_forecast(prepared)
    progress(f"fitting the model on {len(prepared.frame):,} customers "
             f"({len(prepared.numeric) + len(prepared.categorical)} features)")
    fitted = fit_model(prepared.frame, prepared.numeric, prepared.categorical, config,
                       prepared.log_scaled)
    progress(f"profiling {fitted.selection.chosen_k} segments")
    result = _assemble(prepared, fitted, source, config)
    return replace(result, forecast=forecast)


def segment_table(loaded: LoadedTable, *, config: ModelConfig | None = None,
                  overrides: SchemaOverrides | None = None,
                  progress: Progress = _quiet) -> SegmentationResult:
    """`segment_customers` on a table as read: what reading left out leads the cleaning report."""
    result = segment_customers(loaded.frame, source=loaded.source, config=config,
                               overrides=overrides, progress=progress)
    if not loaded.steps:
        return result
    cleaning = result.cleaning
    return replace(result, cleaning=replace(
        cleaning, rows_in=cleaning.rows_in + loaded.rows_left_out,
        steps=loaded.steps + cleaning.steps))


def _assemble(prepared: PreparedData, fitted: FittedModel, source: str,
              config: ModelConfig) -> SegmentationResult:
    segment_ids = _ids_by_size(fitted.labels)
    frame = prepared.frame
    naming_features = prepared.numeric
    population, tables = segment_tables(frame, segment_ids, prepared.profile_features,
                                        _shown_categories(prepared))
    profiles = profiles_from_tables(tables, population, naming_features,
                                    prepared.feature_labels)
    if order_roles(prepared.columns):
        profiles = rfm_naming.name_segments(profiles)
    assignments = pd.DataFrame({ID: frame[ID].array, "segment_id": segment_ids,
                                "distance": fitted.distances.astype(float)})
    return SegmentationResult(
        source=source, seed=config.seed,
        as_of=prepared.as_of.date().isoformat() if prepared.as_of is not None else None,
        columns=prepared.columns, cleaning=prepared.cleaning, k_selection=fitted.selection,
        silhouette=fitted.silhouette, features=(*prepared.numeric, *prepared.categorical),
        profile_features=prepared.profile_features, feature_labels=prepared.feature_labels,
        # the labels are feature names and "mean"/"median"/"std"; pandas types them Hashable
        population={str(f): {str(k): (None if pd.isna(v) else float(v)) for k, v in row.items()}
                    for f, row in population.iterrows()},
        segments=profiles, assignments=assignments,
        attributes=frame[[ID, *prepared.display_columns]].reset_index(drop=True),
        excluded=prepared.excluded,
        projection=projection_sample(fitted.embedding[fitted.sample_rows],
                                     segment_ids[fitted.sample_rows]),
        explained_variance=fitted.explained_variance, model_spec=fitted.spec.to_dict(),
    )


def _shown_categories(prepared: PreparedData) -> tuple[str, ...]:
    if prepared.shown_categories is not None:
        return prepared.shown_categories
    return tuple(c for c in prepared.display_columns
                 if c in prepared.frame.columns
                 and not pd.api.types.is_numeric_dtype(prepared.frame[c]))


def _ids_by_size(labels: np.ndarray) -> np.ndarray:
    """Segment ids 1..k, largest segment first (K-Means' own numbering is arbitrary)."""
    counts = np.bincount(labels)
    order = np.argsort(-counts, kind="stable")
    mapping = np.empty_like(order)
    mapping[order] = np.arange(1, len(order) + 1)
    return mapping[labels]


def projection_sample(sample_embedding: np.ndarray, segment_ids: np.ndarray) -> pd.DataFrame:
    """The scatter chart's points: the hash sample's first PROJECTION_POINTS customers."""
    rows = slice(0, PROJECTION_POINTS)
    second = (sample_embedding[rows, 1] if sample_embedding.shape[1] > 1
              else np.zeros(len(sample_embedding[rows])))
    return pd.DataFrame({"pc1": sample_embedding[rows, 0].astype(float),
                         "pc2": second.astype(float), "segment_id": segment_ids[rows]})
