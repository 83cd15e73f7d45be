"""The scikit-learn pipeline (preprocess → PCA → K-Means) and the automatic choice of k."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Self

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial.distance import pdist, squareform
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from segmentation.cleaning import ID, id_strings, is_right_skewed
from segmentation.config import ModelConfig
from segmentation.counted import ValueCounts
from segmentation.errors import DataError
from segmentation.result import KSelection
from segmentation.sampling import hash_sample
from segmentation.spec import ModelSpec, spec_from_fitted

SILHOUETTE_TOLERANCE = 0.03  # a neighbouring k is preferred only if clearly better separated


# Rows transformed at a time where each row's result is its own: ~3 MB of float64 temporaries.
BLOCK_ROWS = 1 << 16


@dataclass(frozen=True)
class SampleFit:
    """What is decided on the hash sample, on one machine whichever engine runs: the PCA, the
    sample's coordinates, the choice of k and the centres the refinement starts from."""

    pca: PCA
    embedding: np.ndarray  # the sample's PCA coordinates, in sample order (float64)
    selection: KSelection
    centres: np.ndarray
    pairwise: np.ndarray  # distances between the first silhouette_sample customers

    def silhouette(self, labels: np.ndarray) -> float | None:
        """The mean silhouette (Euclidean, in PCA coordinates) of the sample's first
        ``silhouette_sample`` customers, given the whole sample's final labels."""
        return silhouette_from_distances(self.pairwise, labels[:len(self.pairwise)])


@dataclass(frozen=True)
class FittedModel:
    """A fitted pipeline with its labels, distances, the spec and the evidence for k."""

    pipeline: Pipeline
    spec: ModelSpec
    labels: np.ndarray
    distances: np.ndarray
    embedding: np.ndarray  # PCA coordinates of every customer (float32)
    sample_rows: np.ndarray  # positions of the hash sample, in sample order
    iterations: int  # Lloyd steps the refinement took
    selection: KSelection
    silhouette: float | None
    explained_variance: tuple[float, ...]


class MedianImputer(TransformerMixin, BaseEstimator):
    """Fill missing numbers with each column's median, as SimpleImputer(strategy="median").

    SimpleImputer sorts a masked copy of every column (3 s for a million customers, growing
    faster than the rows); np.nanmedian selects in linear time. Like SimpleImputer, a column
    with no values at all has no median and is dropped.
    """

    def fit_transform(self, X: npt.ArrayLike, y: object = None, **fit_params: object
                      ) -> np.ndarray:
        # fit then transform converted and checked the whole table twice (0.1 s a million)
        if not isinstance(X, pd.DataFrame):
            values: np.ndarray = validate_data(self, X, dtype=np.float64,
                                               ensure_all_finite="allow-nan", copy=True)
            self._fit_values(values)
            return self._fill(values)
        validate_data(self, X, skip_check_array=True)  # the names and count of columns
        self.statistics_ = column_medians(X)
        return self._fill(float_matrix(X))

    def fit(self, X: npt.ArrayLike, y: object = None) -> Self:
        values: np.ndarray = validate_data(self, X, dtype=np.float64,
                                           ensure_all_finite="allow-nan")
        self._fit_values(values)
        return self

    def _fit_values(self, values: np.ndarray) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: NaN, dropped
            self.statistics_ = np.nanmedian(values, axis=0)

    def transform(self, X: npt.ArrayLike) -> np.ndarray:
        check_is_fitted(self)
        values: np.ndarray = validate_data(self, X, dtype=np.float64,
                                           ensure_all_finite="allow-nan", reset=False, copy=True)
        return self._fill(values)

    def _fill(self, values: np.ndarray) -> np.ndarray:
        """``values`` (a copy: filled in place) with each missing number as its median, a
        column at a time; without the columns that have none. A mask of the whole table and
        a copy of it when no column is dropped cost 1.3 s a call at ten million customers."""
        for i, median in enumerate(self.statistics_.tolist()):
            column = values[:, i]
            missing = np.isnan(column)
            if missing.any():
                column[missing] = median
        kept = ~np.isnan(self.statistics_)
        return values if kept.all() else values[:, kept]

    def get_feature_names_out(self, input_features: npt.ArrayLike | None = None
                              ) -> np.ndarray:
        check_is_fitted(self)
        names = (np.asarray(input_features, dtype=object) if input_features is not None
                 else getattr(self, "feature_names_in_",
                              np.array([f"x{i}" for i in range(self.n_features_in_)],
                                       dtype=object)))
        return names[~np.isnan(self.statistics_)]


class Standardiser(StandardScaler):
    """StandardScaler whose fit reads a float64 table a column at a time: the same mean_,
    var_ and scale_ to the bit, without the whole-table NaN mask StandardScaler casts to
    float64 to count each column's values (3 s of a ten-million-customer fit, and a second
    copy of the table). A table with gaps, sample weights or other input go to
    StandardScaler's own fit."""

    def fit(self, X: npt.ArrayLike, y: object = None,
            sample_weight: npt.ArrayLike | None = None) -> Self:
        if not self._fits_by_column(X, sample_weight):
            return super().fit(X, y, sample_weight)
        assert isinstance(X, np.ndarray)
        validate_data(self, X, skip_check_array=True)  # n_features_in_
        rows = float(len(X))
        sums = np.array([column.sum() for column in X.T])
        self.mean_ = (0.0 + sums) / rows
        unnormalised = np.empty(X.shape[1])
        for i, column in enumerate(X.T):  # StandardScaler's corrected two-pass variance
            offsets = column - sums[i] / rows
            correction = offsets.sum()
            offsets **= 2
            unnormalised[i] = offsets.sum() - correction ** 2 / rows
        self.var_ = unnormalised / rows
        self.n_samples_seen_ = np.float64(rows)
        self.scale_ = np.sqrt(self.var_)
        eps = np.finfo(np.float64).eps  # near-constant columns are left unscaled
        self.scale_[self.var_ <= rows * eps * self.var_ + (rows * self.mean_ * eps) ** 2] = 1.0
        return self

    def _fits_by_column(self, X: npt.ArrayLike, sample_weight: npt.ArrayLike | None) -> bool:
        # column by column sums in the order np.sum(axis=0) does only for columns laid out
        # one after another (as the imputer makes them)
        return (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == np.float64
                and X.flags.f_contiguous and len(X) > 0 and sample_weight is None
                and self.with_mean and self.with_std
                and not any(np.isnan(column).any() for column in X.T))


def log1p_in_place(values: np.ndarray) -> np.ndarray:
    """np.log1p of ``values`` written over them (the imputer's own copy): a new table of
    the same size cost 0.6 s at ten million customers."""
    return np.log1p(values, out=values)


def float_matrix(frame: pd.DataFrame) -> np.ndarray:
    """The frame's numbers as one new float64 array, laid out as pandas makes it (column by
    column), each column cast once into its place: pandas' own conversion casts each
    integer column to a float copy first (ten million customers: 2 s a call). Infinite
    values are refused as scikit-learn's checks refuse them."""
    values = np.empty(frame.shape, dtype=np.float64, order="F")
    for i, (_, column) in enumerate(frame.items()):
        if isinstance(column.dtype, np.dtype):
            np.copyto(values[:, i], column.to_numpy(), casting="unsafe")
        else:  # nullable or Arrow-backed numbers: missing as NaN
            values[:, i] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        if column.dtype.kind == "f" and np.isinf(values[:, i]).any():
            raise ValueError(f"Input X contains infinity or a value too large for "
                             f"dtype('float64') (column {column.name!r}).")
    return values


def column_medians(frame: pd.DataFrame) -> np.ndarray:
    """np.nanmedian(frame, axis=0) of the table's numbers, each column as it is typed: whole
    numbers read off their counts (`counted`), where np.nanmedian partitions a float copy of
    every column (ten million customers: 1.5 s)."""
    medians = np.full(frame.shape[1], np.nan)
    for i, (_, column) in enumerate(frame.items()):
        values = column.to_numpy()
        counts = ValueCounts.of(values) if isinstance(column.dtype, np.dtype) else None
        if counts is not None:
            medians[i] = counts.median()
            continue
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        present = values[~np.isnan(values)]
        if len(present):
            medians[i] = np.median(present, overwrite_input=True)
    return medians


def build_preprocessor(frame: pd.DataFrame, numeric: tuple[str, ...],
                       categorical: tuple[str, ...], config: ModelConfig,
                       log_scaled: tuple[str, ...] = ()) -> ColumnTransformer:
    """Impute, log-scale right-skewed numbers (and ``log_scaled``), standardise; one-hot the
    categories."""
    skewed = [c for c in numeric if c in log_scaled or is_right_skewed(frame[c])]
    plain = [c for c in numeric if c not in skewed]
    transformers = []
    if skewed:
        transformers.append(("skewed", Pipeline([
            ("impute", MedianImputer()),
            ("log", FunctionTransformer(log1p_in_place, feature_names_out="one-to-one")),
            ("scale", Standardiser(copy=False))]), skewed))  # scales the imputer's copy
    if plain:
        transformers.append(("numeric", Pipeline([
            ("impute", MedianImputer()),
            ("scale", Standardiser(copy=False))]), plain))  # scales the imputer's copy
    if categorical:
        transformers.append(("categorical", OneHotEncoder(
            handle_unknown="ignore", sparse_output=False), list(categorical)))
    return ColumnTransformer(transformers, transformer_weights={
        "categorical": config.categorical_weight}, verbose_feature_names_out=False)


def build_pca(config: ModelConfig) -> PCA:
    """The unfitted PCA keeping ``pca_variance`` of the variance."""
    # n >> d: the eigendecomposition of the small covariance matrix gives the same
    # components as a full SVD of the data, ten times faster
    return PCA(n_components=config.pca_variance, svd_solver="covariance_eigh",
               random_state=config.seed)


def build_pipeline(preprocessor: ColumnTransformer, k: int, config: ModelConfig) -> Pipeline:
    """The unfitted Pipeline(preprocess, PCA, KMeans) with explicit seeds and n_init."""
    return Pipeline([
        ("preprocess", preprocessor),
        ("pca", build_pca(config)),
        ("kmeans", KMeans(n_clusters=k, n_init=config.n_init, random_state=config.seed)),
    ])


def fit_sample(scaled: np.ndarray, config: ModelConfig) -> SampleFit:
    """PCA, the elbow search for k and its centres on the scaled hash sample (in sample order)."""
    pca = build_pca(config).fit(scaled)
    embedding = pca.transform(scaled)
    silhouette_points = embedding[:config.silhouette_sample]
    pairwise = _distances(silhouette_points)  # for every silhouette of the search
    selection, centres = choose_k(embedding, silhouette_points, config, pairwise)
    return SampleFit(pca, embedding, selection, centres, pairwise)


def refinement_tolerance(variances: np.ndarray, config: ModelConfig) -> float:
    """The total squared centre shift below which refining stops: scikit-learn's rule,
    ``tol`` times the mean variance of the coordinates over every customer."""
    return float(np.mean(variances) * config.refine_tol)


def fit_model(frame: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...],
              config: ModelConfig, log_scaled: tuple[str, ...] = ()) -> FittedModel:
    """Scale on everyone, choose k on the hash sample, then refine the centres on everyone.

    Right-skewed numbers are log-scaled, and so are ``log_scaled`` whatever their shape. The
    sample is drawn by the customer ids (`sampling.hash_sample`), so the result does not
    depend on the order of the rows.
    """
    check_k(len(frame), config)
    preprocessor = build_preprocessor(frame, numeric, categorical, config, log_scaled)
    # Products of n x 10 matrices are memory-bound; two BLAS threads on a busy 2-core machine
    # made the PCA projection of a million rows take 0.4 s instead of 0.02 s.
    with threadpool_limits(limits=1, user_api="blas"):
        scaled = preprocessor.fit_transform(frame)
        sample_rows = hash_sample(id_strings(frame[ID]), config.selection_sample)
        sample = fit_sample(scaled[sample_rows], config)
        embedding = project(sample.pca, scaled)
    del scaled
    kmeans = KMeans(n_clusters=sample.selection.chosen_k, init=sample.centres, n_init=1,
                    max_iter=config.refine_steps, tol=_sklearn_tol(embedding, config),
                    random_state=config.seed).fit(embedding)
    distances = _distances_to_centres(embedding, kmeans.cluster_centers_, kmeans.labels_)
    spec = spec_from_fitted(preprocessor, sample.pca, config.categorical_weight)
    return FittedModel(
        Pipeline([("preprocess", preprocessor), ("pca", sample.pca), ("kmeans", kmeans)]),
        spec.with_centres(kmeans.cluster_centers_), kmeans.labels_, distances, embedding,
        sample_rows, int(kmeans.n_iter_), sample.selection,
        sample.silhouette(kmeans.labels_[sample_rows]),
        tuple(float(v) for v in sample.pca.explained_variance_ratio_))


def _sklearn_tol(embedding: np.ndarray, config: ModelConfig) -> float:
    """The ``tol`` that makes scikit-learn stop where `refinement_tolerance` says.

    scikit-learn multiplies ``tol`` by its own variance of the coordinates, np.var along the
    rows of float32 data, which drifts from the exact value as rows add up (1.4 % at 10M):
    the Spark engine, whose variance is exact, then stopped one Lloyd step earlier and 0.1 %
    of customers changed segment.
    """
    exact = refinement_tolerance(column_variances(embedding), config)
    theirs = float(np.mean(np.var(embedding, axis=0)))
    return exact / theirs if theirs > 0 else config.refine_tol


def column_variances(points: np.ndarray) -> np.ndarray:
    """Each column's variance in float64, a block of rows at a time (as `project`).

    ``points.var(axis=0, dtype=np.float64)`` makes a float64 copy of the whole table, twice
    the float32 embedding: 1.2-1.9 s at ten million customers against ~0.5 s."""
    sums = np.zeros(points.shape[1])
    for start in range(0, len(points), BLOCK_ROWS):
        sums += points[start:start + BLOCK_ROWS].sum(axis=0, dtype=np.float64)
    means = sums / len(points)
    squares = np.zeros(points.shape[1])
    for start in range(0, len(points), BLOCK_ROWS):
        offsets = points[start:start + BLOCK_ROWS] - means
        squares += np.einsum("ij,ij->j", offsets, offsets)
    return squares / len(points)


def project(pca: PCA, scaled: np.ndarray) -> np.ndarray:
    """``pca.transform(scaled)`` as float32, a block of rows at a time.

    Each row's coordinates are its own, so the numbers are the same; the block's float64
    temporaries stay small enough for malloc to reuse instead of the kernel mapping fresh
    pages for a whole-table copy (ten million customers: two 0.5 GB temporaries)."""
    embedding = np.empty((len(scaled), pca.n_components_), dtype=np.float32)
    for start in range(0, len(scaled), BLOCK_ROWS):
        embedding[start:start + BLOCK_ROWS] = pca.transform(scaled[start:start + BLOCK_ROWS])
    return embedding


def _distances_to_centres(points: np.ndarray, centres: np.ndarray,
                          labels: np.ndarray) -> np.ndarray:
    """Each point's distance to its own centre: the nearest, K-Means' last step assigned it.

    A block of rows at a time, as `project`: each distance is its row's own."""
    centres = centres.astype(points.dtype)
    distances = np.empty(len(points), dtype=points.dtype)
    for start in range(0, len(points), BLOCK_ROWS):
        block = slice(start, start + BLOCK_ROWS)
        offsets = points[block] - centres[labels[block]]
        np.sqrt(np.einsum("ij,ij->i", offsets, offsets), out=distances[block])
    return distances


def check_k(rows: int, config: ModelConfig) -> None:
    """Refuse a hand-set k below 2 or above the number of customers."""
    if config.k is not None:
        if config.k < 2:
            raise DataError(f"k must be at least 2 (got {config.k}): one segment is everyone")
        if config.k > rows:
            raise DataError(f"k={config.k} is larger than the {rows:,} customers kept")


def choose_k(sample: np.ndarray, silhouette_sample: np.ndarray, config: ModelConfig,
             distances: np.ndarray | None = None) -> tuple[KSelection, np.ndarray]:
    """Elbow of the inertia curve, cross-checked by silhouette; returns centres to start from.

    ``distances`` are the pairwise distances of ``silhouette_sample``, if already computed.
    """
    k_max = min(config.k_max, len(sample) - 1)
    ks = list(range(config.k_min, max(k_max, config.k_min) + 1))
    if config.k is not None and config.k not in ks:
        ks = sorted({*ks, config.k})
    if distances is None:  # once, shared by every k's silhouette
        distances = _distances(silhouette_sample)
    sample = sample.astype(np.float64)  # kmeans++ upcasts float32 chunk by chunk: slower
    restarts = sample[:config.restart_sample]  # the sample is in hash order: a sample too
    with warnings.catch_warnings():
        # Tiny tables with fewer distinct points than k make K-Means warn; the curve and
        # silhouette say what matters.
        warnings.simplefilter("ignore", ConvergenceWarning)
        models = _fit_each_k(sample, restarts, [k for k in ks if k <= len(sample)], config)
    ks = ks[:len(models)]
    inertias = [float(model.inertia_) for model in models]
    silhouette_sample = silhouette_sample.astype(np.float64)
    silhouettes = silhouettes_from_distances(  # outside the limit: the product is threaded
        distances, [model.predict(silhouette_sample) for model in models])
    centres = {k: model.cluster_centers_ for k, model in zip(ks, models, strict=True)}
    if config.k is not None:
        return KSelection(tuple(ks), tuple(inertias), tuple(silhouettes), config.k,
                          f"k={config.k} was set by hand (--k).", "override"), centres[config.k]
    chosen, reason = _pick_k(ks, inertias, silhouettes, config.previous_k)
    return KSelection(tuple(ks), tuple(inertias), tuple(silhouettes), chosen, reason,
                      "elbow"), centres[chosen]


def _fit_each_k(sample: np.ndarray, restarts: np.ndarray, ks: list[int],
                config: ModelConfig) -> list[KMeans]:
    """`_best_of_restarts` for each k, the values of k shared among the machine's cores.

    Each fit is many small K-Means runs, where a fit's own threads only add contention; one
    thread a fit, fits side by side, uses every core instead. Each fit depends
    on its k and seed alone, so the models are the same however the fits are spread.
    """
    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(max_workers=min(len(ks), available_cores()) or 1) as pool:
        return list(pool.map(lambda k: _single_threaded(_best_of_restarts, sample, restarts,
                                                          k, config), ks))


def _single_threaded(fit: Callable[..., KMeans], *args: object) -> KMeans:
    # OpenMP's thread count is set per calling thread: each worker limits its own
    with threadpool_limits(limits=1, user_api="openmp"):
        return fit(*args)


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        os.cpu_count() or 1


def _best_of_restarts(sample: np.ndarray, restarts: np.ndarray, k: int,
                      config: ModelConfig) -> KMeans:
    """K-Means on ``sample`` from the best of ``n_init`` restarts run on the smaller ``restarts``.

    The restarts only need to find the right basin; one Lloyd run on the whole sample then
    settles the centres, so the inertia curve is the sample's own at about half the cost.
    Restarts on 5,000 rows chose the same k as restarts on all 10,000 for 12 seeds on each of
    30k, 100k and 300k synthetic tables; on 2,500 rows k moved for 3 seeds in 36.
    """
    best = KMeans(n_clusters=k, n_init=config.n_init, random_state=config.seed).fit(restarts)
    if len(restarts) == len(sample):
        return best
    return KMeans(n_clusters=k, init=best.cluster_centers_, n_init=1,
                  random_state=config.seed).fit(sample)


def _pick_k(ks: list[int], inertias: list[float], silhouettes: list[float | None],
            previous_k: int | None = None) -> tuple[int, str]:
    knee = knee_point(ks, inertias)
    score = {k: s for k, s in zip(ks, silhouettes, strict=True) if s is not None}
    if previous_k is not None and previous_k in score and abs(previous_k - knee) <= 1:
        best_near_knee = max(score.get(k, -1.0) for k in (knee - 1, knee, knee + 1))
        if score[previous_k] >= best_near_knee - SILHOUETTE_TOLERANCE:
            return previous_k, (f"k={previous_k}, as in the previous run: the elbow is still "
                                f"there (bend at k={knee}) and it separates customers as well "
                                f"as any neighbour (silhouette {score[previous_k]:.2f}).")
    neighbours = [k for k in (knee - 1, knee + 1) if k in score and k >= 3]
    best = max(neighbours, key=lambda k: score[k], default=None)
    knee_score = score.get(knee)
    if best is not None and knee_score is not None and \
            score[best] > knee_score + SILHOUETTE_TOLERANCE:
        return best, (f"k={best}: the inertia curve bends at k={knee} (elbow), and k={best} "
                      f"separates customers clearly better (silhouette {score[best]:.2f} vs "
                      f"{knee_score:.2f}).")
    tail = f", with silhouette {knee_score:.2f}" if knee_score is not None else ""
    return knee, (f"k={knee}: the elbow of the inertia curve; adding segments beyond it "
                  f"gains little{tail}.")


def knee_point(ks: list[int], inertias: list[float]) -> int:
    """The k farthest below the straight line from the first to the last point (Kneedle)."""
    if len(ks) < 3:
        return ks[0]
    x = np.asarray(ks, dtype=float)
    y = np.asarray(inertias, dtype=float)
    x = (x - x[0]) / (x[-1] - x[0])
    span = y[0] - y[-1]
    y = (y - y[-1]) / span if span > 0 else np.zeros_like(y)
    gap = (1 - x) - y  # the chord runs from (0, 1) to (1, 0); a convex curve lies below it
    return ks[int(np.argmax(gap))]


def _distances(points: np.ndarray) -> np.ndarray:
    """The square matrix of Euclidean distances (pdist: each pair once, half the work)."""
    return squareform(pdist(points.astype(np.float64)))


def silhouette_from_distances(distances: np.ndarray, labels: np.ndarray) -> float | None:
    """Mean silhouette (as sklearn's silhouette_score) from a square distance matrix."""
    return silhouettes_from_distances(distances, [labels])[0]


def silhouettes_from_distances(distances: np.ndarray,
                               labellings: Sequence[np.ndarray]) -> list[float | None]:
    """The mean silhouette of each labelling of the same points, from one distance matrix.

    One matrix product gives every point's summed distance to every segment of every
    labelling, so scoring nine values of k reads the 3,000² matrix once instead of nine times.
    None where a labelling has fewer than two segments or no point to compare.
    """
    memberships = [_membership(labels) for labels in labellings]
    sums = distances @ np.hstack([members for _, members in memberships])
    scores, start = [], 0
    for codes, members in memberships:
        k = members.shape[1]
        scores.append(_mean_silhouette(sums[:, start:start + k], codes, members.sum(axis=0)))
        start += k
    return scores


def _membership(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's segment code, and the one-hot matrix of points by segment."""
    classes, codes = np.unique(labels, return_inverse=True)
    members = np.zeros((len(codes), len(classes)))
    members[np.arange(len(codes)), codes] = 1.0
    return codes, members


def _mean_silhouette(sums: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float | None:
    """From each point's summed distance to each segment (``sums`` is overwritten)."""
    n, k = sums.shape
    if k < 2 or n <= k:
        return None
    rows = np.arange(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        within = sums[rows, codes] / (sizes[codes] - 1)  # 0/0 for a segment of one: scores 0
        sums[rows, codes] = np.inf
        nearest = (sums / sizes).min(axis=1)
        scores = (nearest - within) / np.maximum(within, nearest)
    return float(np.nan_to_num(scores).mean())
