"""The model's settings, apart from the model: commands read them before (and without)
importing scikit-learn, which the engine needs (~0.6 s), so a refresh can import the engine
while it reads the table."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelConfig:
    """Every knob of the model; the defaults suit tables from a thousand to a million rows."""

    k: int | None = None  # None = choose by the elbow method
    k_min: int = 2
    k_max: int = 10
    seed: int = 0
    n_init: int = 10  # restarts per k while drawing the elbow curve (a sample: cheap)
    pca_variance: float = 0.90
    selection_sample: int = 10_000  # customers the elbow curve is drawn on (hash sample)
    restart_sample: int = 5_000  # the sample's first rows the n_init restarts run on; the
    #                              best is refined on the whole sample (see choose_k)
    silhouette_sample: int = 3_000  # rows silhouette is computed on (it is quadratic)
    refine_steps: int = 10  # Lloyd steps on everyone from the sample's centres, at most
    refine_tol: float = 1e-4  # ... stopping when the centres move less (scikit-learn's tol)
    categorical_weight: float = 0.5
    previous_k: int | None = None  # the last run's k: kept while it is still at the elbow
