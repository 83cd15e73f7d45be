"""The model spec: every number that defines a segmentation, in one versioned, JSON-safe value.

Both executors apply the same spec: the single-machine engine reads it off its fitted
scikit-learn steps, the Spark engine builds it from its statistics pass and turns it into
SQL column expressions. A customer's coordinates are

    x = value, or the median where missing;  log1p(x) for log-scaled features
    z = (x - mean) / scale                    (scale: population deviation, 1 where 0)
    one-hot of each category x categorical_weight (an unknown label: all zeros)
    embedding = ([z, one-hot] - pca_mean) @ components.T

and the segment is the nearest centre (Euclidean; the first of equals).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA

from segmentation.errors import DataError

SPEC_VERSION = 1


@dataclass(frozen=True)
class ModelSpec:
    """Imputation, log-scaling, scaling, categories, PCA and the final centres."""

    numeric: tuple[str, ...]  # in the embedding's input order
    log_scaled: tuple[str, ...]  # the subset of numeric taken through log1p
    medians: tuple[float, ...]
    means: tuple[float, ...]  # after imputation and log1p
    scales: tuple[float, ...]
    categorical: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]
    categorical_weight: float
    pca_mean: tuple[float, ...]
    components: tuple[tuple[float, ...], ...]
    centres: tuple[tuple[float, ...], ...] = ()
    version: int = SPEC_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        if data.get("version") != SPEC_VERSION:
            raise DataError(f"model spec version {data.get('version')} is not "
                            f"{SPEC_VERSION}: refit the model")
        return cls(
            numeric=tuple(data["numeric"]), log_scaled=tuple(data["log_scaled"]),
            medians=tuple(data["medians"]), means=tuple(data["means"]),
            scales=tuple(data["scales"]), categorical=tuple(data["categorical"]),
            categories=tuple(tuple(c) for c in data["categories"]),
            categorical_weight=float(data["categorical_weight"]),
            pca_mean=tuple(data["pca_mean"]),
            components=tuple(tuple(row) for row in data["components"]),
            centres=tuple(tuple(row) for row in data["centres"]), version=data["version"])

    def scale(self, frame: pd.DataFrame) -> np.ndarray:
        """The scaled and one-hot columns PCA reads, as float64 (numpy's executor)."""
        blocks = []
        for i, column in enumerate(self.numeric):
            x = frame[column].to_numpy(dtype=float, na_value=np.nan)
            x = np.where(np.isnan(x), self.medians[i], x)
            if column in self.log_scaled:
                x = np.log1p(x)
            blocks.append(((x - self.means[i]) / self.scales[i])[:, None])
        for column, labels in zip(self.categorical, self.categories, strict=True):
            values = frame[column].astype(object).to_numpy()
            blocks.append(np.stack([(values == label) * self.categorical_weight
                                    for label in labels], axis=1).astype(float))
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def embed(self, frame: pd.DataFrame) -> np.ndarray:
        """PCA coordinates of every row of ``frame``."""
        return (self.scale(frame) - np.asarray(self.pca_mean)) @ np.asarray(self.components).T

    def with_centres(self, centres: np.ndarray) -> ModelSpec:
        return ModelSpec(**{**self.__dict__, "centres": tuple(
            tuple(float(v) for v in row) for row in centres)})


def spec_from_fitted(preprocessor: ColumnTransformer, pca: PCA,
                     categorical_weight: float) -> ModelSpec:
    """The spec of a fitted `model.build_preprocessor` and PCA (no centres yet)."""
    numeric: list[str] = []
    log_scaled: list[str] = []
    medians: list[float] = []
    means: list[float] = []
    scales: list[float] = []
    categorical: tuple[str, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()
    for name, transformer, columns in preprocessor.transformers_:
        if name in ("skewed", "numeric"):
            imputer, scaler = transformer.named_steps["impute"], transformer.named_steps["scale"]
            kept = ~np.isnan(imputer.statistics_)  # a column without values is dropped
            kept_columns = [c for c, k in zip(columns, kept, strict=True) if k]
            numeric += kept_columns
            log_scaled += kept_columns if name == "skewed" else []
            medians += [float(v) for v in imputer.statistics_[kept]]
            means += [float(v) for v in scaler.mean_]
            scales += [float(v) for v in scaler.scale_]
        elif name == "categorical":
            categorical = tuple(columns)
            categories = tuple(tuple(str(v) for v in c) for c in transformer.categories_)
    return ModelSpec(tuple(numeric), tuple(log_scaled), tuple(medians), tuple(means),
                     tuple(scales), categorical, categories, categorical_weight,
                     tuple(float(v) for v in pca.mean_),
                     tuple(tuple(float(v) for v in row) for row in pca.components_))


def nearest_centres(embedding: np.ndarray, centres: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's nearest centre (the first of equals) and its Euclidean distance to it."""
    squared = ((embedding[:, None, :].astype(np.float64) - centres[None, :, :]) ** 2).sum(axis=2)
    labels = squared.argmin(axis=1)
    return labels, np.sqrt(squared[np.arange(len(labels)), labels])
