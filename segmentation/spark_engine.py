"""The segmentation on Apache Spark: the same decisions as `engine`, made where the data is.

On the cluster, as SQL column expressions and aggregates (no Python UDFs): the cleaning
(`spark_prepare` for the reference profile, `spark_generic` for any other customer table,
with the local engine's own role inference), the statistics pass that fixes the spec's
medians, log-scaling, means, population deviations and categories, the hash sample's
selection, the K-Means refinement (Lloyd steps as `groupBy` averages), every customer's
assignment and the profiles. On the driver, with the engine's own code: the PCA, the elbow
search for k and its centres on the hash sample (`model.fit_sample`), the names, and the
silhouette on the sample.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import reduce
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from segmentation.cleaning import ID
from segmentation.engine import Progress, projection_sample
from segmentation.errors import ConfigError
from segmentation.model import (
    ModelConfig,
    SampleFit,
    check_k,
    fit_sample,
    refinement_tolerance,
)
from segmentation.profiling import SegmentTables, profiles_from_tables
from segmentation.result import SegmentationResult
from segmentation.sampling import SPARK_KEY_SQL
from segmentation.schema import SchemaOverrides
from segmentation.sources import FileSource, SqlSource, TableSource
from segmentation.spark_generic import prepare_generic
from segmentation.spark_prepare import SparkPrepared, is_reference, one_row, prepare_reference
from segmentation.spec import ModelSpec, nearest_centres

LABEL, DISTANCE = "_label", "distance"
_TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
_EPS = float(np.finfo(np.float64).eps)
BATCH_ROWS = 50_000  # customers the driver holds at a time while publishing


@dataclass(frozen=True)
class StagedCustomers:
    """Every kept customer's row (customer_id, segment_id, distance, the display columns) as
    Parquet the executors wrote sorted by customer id, read back a batch at a time.

    Spark orders strings by their UTF-8 bytes, as SQLite's BINARY collation orders the
    store's customer ids, so the store appends the batches to its key b-tree in order.
    """

    folder: Path  # a temporary folder of the driver's; `discard` removes it
    rows: int

    def files(self) -> list[Path]:
        return sorted((self.folder / "rows").glob("part-*.parquet"))  # part number order

    def schema(self) -> pa.Schema:
        return pq.read_schema(self.files()[0])

    def batches(self, segment_ids: dict[int, int] | None = None,
                size: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
        """The rows in customer id order, ``size`` at a time, with each segment id replaced
        by ``segment_ids``' (the published ids) when given."""
        lookup = None
        if segment_ids:
            lookup = np.zeros(max(segment_ids) + 1, dtype=np.int64)
            lookup[list(segment_ids)] = list(segment_ids.values())
        for path in self.files():
            for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
                segments = batch.column(1).to_numpy().astype(np.int64)
                column = pa.array(lookup[segments] if lookup is not None else segments)
                yield pa.RecordBatch.from_arrays(
                    [batch.column(0), column, *batch.columns[2:]],
                    schema=batch.schema.set(1, pa.field("segment_id", pa.int64())))

    def frame(self) -> pd.DataFrame:
        """Every row at once, for small tables and tests."""
        tables = [pq.read_table(path) for path in self.files()]
        return pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame()

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class SparkRun:
    """A segmentation made on Spark: its result (whose assignments and attributes are empty:
    every customer's row is in ``customers``), and the assignments still on the cluster."""

    result: SegmentationResult
    customers: StagedCustomers
    assigned: DataFrame  # customer_id, _label (K-Means' own numbering), distance
    segment_of_label: dict[int, int]  # _label -> the result's segment id

    def collected(self) -> SegmentationResult:
        """The result with every customer's assignment and attributes, as the local engine
        gives it: for small tables and tests (the driver holds them all)."""
        rows = self.customers.frame()
        display = list(self.result.attributes.columns[1:])
        rows = rows.astype({ID: object, **{c: self.result.attributes[c].dtype for c in display}})
        return replace(self.result, assignments=pd.DataFrame({
            ID: rows[ID], "segment_id": rows["segment_id"].astype("int64"),
            DISTANCE: rows[DISTANCE].astype(float)}), attributes=rows[[ID, *display]])


def _quiet(_: str) -> None:
    return None


def read_spark_table(spark: SparkSession, source: TableSource) -> DataFrame:
    """A Parquet file or folder, a CSV/TSV file or folder, or a database table through JDBC."""
    if isinstance(source, SqlSource):
        return _read_jdbc(spark, source)
    path = source.path
    if not path.exists():
        raise ConfigError(f"no file or folder {path}")
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    kinds = {_kind(p) for p in files} - {None}
    if len(kinds) != 1:
        raise ConfigError(f"{path}: the Spark engine reads Parquet or CSV/TSV "
                          f"(found {', '.join(sorted(k for k in kinds if k)) or 'neither'})")
    if kinds == {"parquet"}:
        return spark.read.parquet(str(path))
    first = next(p for p in files if _kind(p) == "text")
    return (spark.read.option("header", True).option("inferSchema", True)
            .option("sep", _delimiter(first)).option("mode", "PERMISSIVE").csv(str(path)))


def _kind(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2"):
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if suffixes and suffixes[-1] in _TEXT_SUFFIXES:
        return "text"
    return None


def _delimiter(path: Path) -> str:
    import gzip

    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        header = handle.readline()
    return max(("\t", ";", ",", "|"), key=header.count)


def _read_jdbc(spark: SparkSession, source: SqlSource) -> DataFrame:
    from sqlalchemy.engine import make_url

    url = make_url(source.url)
    dialect = url.get_backend_name()
    port = f":{url.port}" if url.port else ""
    reader = (spark.read.format("jdbc")
              .option("url", f"jdbc:{dialect}://{url.host or 'localhost'}{port}/{url.database}"))
    if url.username:
        reader = reader.option("user", url.username)
    if url.password:
        reader = reader.option("password", url.password)
    reader = (reader.option("dbtable", source.table) if source.table
              else reader.option("query", source.query or ""))
    return reader.load()


def segment_with_spark(spark: SparkSession, source: TableSource, *,
                       config: ModelConfig | None = None,
                       overrides: SchemaOverrides | None = None,
                       progress: Progress = _quiet, staging: Path | None = None) -> SparkRun:
    """`engine.segment_table` on Spark, for a customer table (one row per customer).

    Every customer's row reaches the driver through Parquet the executors write, sorted by
    customer id, into a temporary folder in ``staging`` (a folder the driver can read;
    default: the system's temporary folder, which serves local mode), for the store to read
    a batch at a time (`StagedCustomers`; `discard` it after): a collect would hold them all
    in the JVM first (spark.driver.maxResultSize), and then in Python.
    """
    config = config or ModelConfig()
    overrides = overrides or SchemaOverrides()
    raw = read_spark_table(spark, source)
    progress("cleaning on Spark")
    prepared = (prepare_reference(raw, overrides) if is_reference(raw, overrides)
                else prepare_generic(raw, overrides))
    check_k(prepared.cleaning.rows_kept, config)
    progress(f"fitting the model on {prepared.cleaning.rows_kept:,} customers "
             f"({len(prepared.numeric) + len(prepared.categorical)} features)")
    scaling = scaling_spec(prepared.frame, prepared.numeric, config,
                           categorical=prepared.categorical)
    progress(f"drawing the hash sample ({config.selection_sample:,}) and choosing k on the driver")
    sample_frame = hash_sample_frame(prepared.frame, (*scaling.numeric, *scaling.categorical),
                                     config.selection_sample)
    sample = fit_sample(scaling.scale(sample_frame), config)
    spec = replace(scaling, pca_mean=tuple(float(v) for v in sample.pca.mean_),
                   components=tuple(tuple(float(v) for v in row)
                                    for row in sample.pca.components_))
    progress(f"refining {sample.selection.chosen_k} centres on every customer")
    centres, _ = refine(prepared.frame, spec, sample.centres, config)
    spec = spec.with_centres(centres)
    assigned = assign(prepared.frame, spec, centres)
    progress(f"profiling {len(centres)} segments")
    sizes = {int(r[LABEL]): int(r["count"]) for r in assigned.groupBy(LABEL).count().collect()}
    segment_of_label = _ids_by_size(sizes, len(centres))
    result, staged = _assemble(prepared, spec, sample, assigned, segment_of_label, config,
                               progress, staging)
    return SparkRun(replace(result, source=source.describe()), staged,
                    assigned.select(ID, LABEL, DISTANCE), segment_of_label)


def scaling_spec(frame: DataFrame, numeric: tuple[str, ...], config: ModelConfig,
                 log_scaled: tuple[str, ...] = (),
                 categorical: tuple[str, ...] = ()) -> ModelSpec:
    """Medians (exact), the skewness test, means and population deviations over everyone, and
    each category's labels: `model.build_preprocessor`'s fitted numbers, as a spec without
    PCA or centres."""
    first = one_row(frame.agg(*[
        F.struct(F.min(c), F.percentile(c, F.array(*map(F.lit, (.25, .5, .75))))).alias(c)
        for c in numeric]))
    kept, medians, skewed = [], [], []
    for column in numeric:
        low, quartiles = first[column]
        if quartiles is None:  # no values at all: the imputer drops the column
            continue
        q1, q2, q3 = quartiles
        kept.append(column)
        medians.append(float(q2))
        if column in log_scaled or (low >= 0 and q3 > q1 and (q3 + q1 - 2 * q2) / (q3 - q1) > 0.2):
            skewed.append(column)
    # scikit-learn's column order: the log-scaled features, then the others
    order = [c for c in kept if c in skewed] + [c for c in kept if c not in skewed]
    median_of = dict(zip(kept, medians, strict=True))
    values = {c: _imputed(c, median_of[c], c in skewed) for c in order}
    moments = one_row(frame.agg(*[F.struct(F.avg(v), F.stddev_pop(v)).alias(c)
                                  for c, v in values.items()]))
    scales = [float(moments[c][1]) for c in order]
    # OneHotEncoder's categories: each column's distinct labels, sorted as Python sorts them
    labels: dict[str, list[str]] = (one_row(frame.agg(*[
        F.collect_set(c).alias(c) for c in categorical])).asDict() if categorical else {})
    return ModelSpec(tuple(order), tuple(skewed), tuple(median_of[c] for c in order),
                     tuple(float(moments[c][0]) for c in order),
                     tuple(s if s > 10 * _EPS else 1.0 for s in scales), categorical,
                     tuple(tuple(sorted(labels[c])) for c in categorical),
                     config.categorical_weight, (), ())


def _imputed(column: str, median: float, log: bool) -> Column:
    value = F.coalesce(F.col(column).cast("double"), F.lit(median))
    return F.log1p(value) if log else value


def hash_sample_frame(frame: DataFrame, columns: tuple[str, ...], size: int) -> pd.DataFrame:
    """The hash sample (`sampling.hash_sample`) on the driver, in key order."""
    key = F.expr(SPARK_KEY_SQL.format(column=ID))
    rows = frame.select(ID, *columns).withColumn("_key", key).orderBy("_key", ID).limit(size)
    return rows.toArrow().to_pandas()


def embedding_columns(spec: ModelSpec) -> list[Column]:
    """The spec's PCA coordinates as column expressions e0, e1, ..."""
    scaled = [(_imputed(c, spec.medians[i], c in spec.log_scaled) - spec.means[i])
              / spec.scales[i] for i, c in enumerate(spec.numeric)]
    scaled += [F.when(F.col(c) == label, spec.categorical_weight).otherwise(0.0)
               for c, labels in zip(spec.categorical, spec.categories, strict=True)
               for label in labels]  # an unknown label: all zeros, as handle_unknown="ignore"
    scaled = [z - mean for z, mean in zip(scaled, spec.pca_mean, strict=True)]
    return [reduce(lambda a, b: a + b, [z * w for z, w in zip(scaled, row, strict=True)])
            .alias(f"e{j}") for j, row in enumerate(spec.components)]


def _nearest(embedded: list[Column], centres: np.ndarray) -> tuple[Column, Column]:
    """The nearest centre (the first of equals, as numpy's argmin) and the squared distance."""
    squared = [reduce(lambda a, b: a + b, [(e - float(c)) * (e - float(c))
                                           for e, c in zip(embedded, centre, strict=True)])
               for centre in centres]
    best = F.least(*squared) if len(squared) > 1 else squared[0]
    label = reduce(lambda acc, k: acc.when(squared[k] == best, k),
                   range(1, len(squared)), F.when(squared[0] == best, 0))
    return label, best


def assign(frame: DataFrame, spec: ModelSpec, centres: np.ndarray) -> DataFrame:
    """``frame`` with each customer's segment (K-Means' numbering, ``_label``) and distance."""
    embedded = frame.select("*", *embedding_columns(spec))
    label, squared = _nearest(_coordinates(spec), centres)
    return embedded.select(*frame.columns, label.alias(LABEL), F.sqrt(squared).alias(DISTANCE))


def _coordinates(spec: ModelSpec) -> list[Column]:
    return [F.col(f"e{j}") for j in range(len(spec.components))]


def refine(frame: DataFrame, spec: ModelSpec, centres: np.ndarray,
           config: ModelConfig) -> tuple[np.ndarray, int]:
    """Lloyd steps from the sample's centres over everyone, as scikit-learn's KMeans with
    ``init=centres, max_iter=refine_steps, tol=refine_tol`` runs them (a centre left without
    customers stays where it was). Returns the centres and the steps taken."""
    embedded = frame.select(*embedding_columns(spec))
    coordinates = _coordinates(spec)
    tolerance = None
    steps = 0
    for steps in range(1, config.refine_steps + 1):  # noqa: B007 (steps is returned)
        label, _ = _nearest(coordinates, centres)
        sums = [F.sum(e).alias(f"s{j}") for j, e in enumerate(coordinates)]
        squares = [F.sum(e * e).alias(f"q{j}") for j, e in enumerate(coordinates)]
        rows = (embedded.select(label.alias(LABEL), *coordinates).groupBy(LABEL)
                .agg(F.count("*").alias("n"), *sums, *(squares if tolerance is None else []))
                .collect())
        if tolerance is None:  # the coordinates' variance over everyone, from the first pass
            n = sum(r["n"] for r in rows)
            means = np.array([sum(r[f"s{j}"] for r in rows) / n for j in range(len(coordinates))])
            squared = np.array([sum(r[f"q{j}"] for r in rows) / n
                                for j in range(len(coordinates))])
            tolerance = refinement_tolerance(squared - means ** 2, config)
        moved = centres.copy()
        for r in rows:
            moved[r[LABEL]] = [r[f"s{j}"] / r["n"] for j in range(len(coordinates))]
        shift = float(((moved - centres) ** 2).sum())
        centres = moved
        if shift <= tolerance:
            break
    return centres, steps


def _ids_by_size(sizes: dict[int, int], k: int) -> dict[int, int]:
    """Segment ids 1..k, largest first, ties in K-Means' order (as engine._ids_by_size)."""
    counts = np.array([sizes.get(label, 0) for label in range(k)])
    order = np.argsort(-counts, kind="stable")
    return {int(label): rank + 1 for rank, label in enumerate(order)}


def _segment_id(segment_of_label: dict[int, int]) -> Column:
    table = F.create_map(*[F.lit(v) for pair in segment_of_label.items() for v in pair])
    return table[F.col(LABEL)]


def segment_tables(assigned: DataFrame, features: tuple[str, ...],
                   categorical: tuple[str, ...]) -> tuple[SegmentTables, pd.DataFrame]:
    """Per-segment means, medians (exact), sizes and label shares, and everyone's mean,
    median and population deviation: `profiling.segment_tables`, by groupBy."""
    # rollup: every segment and, where segment_id is null, everyone, in one pass
    grouped = assigned.rollup("segment_id").agg(
        F.count("*").alias("_n"),
        *[F.struct(F.avg(f), F.percentile(f, F.lit(0.5)), F.stddev_pop(f), F.min(f)).alias(f)
          for f in features]).collect()
    everyone = next(row for row in grouped if row["segment_id"] is None)
    segments = sorted((row for row in grouped if row["segment_id"] is not None),
                      key=lambda row: row["segment_id"])
    index = pd.Index([row["segment_id"] for row in segments])
    means = pd.DataFrame({f: [row[f][0] for row in segments] for f in features}, index=index,
                         columns=list(features), dtype=float)
    medians = pd.DataFrame({f: [row[f][1] for row in segments] for f in features}, index=index,
                           columns=list(features), dtype=float)
    sizes = pd.Series([row["_n"] for row in segments], index=index, dtype="int64")
    population = pd.DataFrame([tuple(everyone[f])[:3] for f in features], index=list(features),
                              columns=["mean", "median", "std"], dtype=float)
    minimum = pd.Series({f: everyone[f][3] for f in features}, dtype=float)
    mixes = {}
    for column in categorical:
        counts = (assigned.where(F.col(column).isNotNull()).groupBy("segment_id", column)
                  .count().toArrow().to_pandas()
                  .pivot(index="segment_id", columns=column, values="count").fillna(0))
        counts = counts.reindex(index=index, columns=sorted(counts.columns), fill_value=0)
        mixes[column] = counts.div(counts.sum(axis=1), axis=0)
    return SegmentTables(means, medians, sizes, minimum, mixes), population


def _assemble(prepared: SparkPrepared, spec: ModelSpec, sample: SampleFit, assigned: DataFrame,
              segment_of_label: dict[int, int], config: ModelConfig,
              progress: Progress, staging: Path | None
              ) -> tuple[SegmentationResult, StagedCustomers]:
    sample_labels, _ = nearest_centres(sample.embedding, np.asarray(spec.centres))
    sample_ids = np.array([segment_of_label[int(v)] for v in sample_labels])
    with_ids = assigned.withColumn("segment_id", _segment_id(segment_of_label))
    tables, population = segment_tables(with_ids, prepared.profile_features,
                                         prepared.categorical_shown)
    profiles = profiles_from_tables(tables, population, prepared.numeric,
                                    prepared.feature_labels)
    display = list(prepared.display_columns)
    progress("writing the assignments in customer id order for the store (Parquet)")
    staged = _stage(with_ids.select(ID, "segment_id", DISTANCE, *display), staging,
                    prepared.cleaning.rows_kept)
    shown = set(prepared.categorical_shown)
    return SegmentationResult(
        source="", seed=config.seed,
        as_of=prepared.as_of.date().isoformat() if prepared.as_of is not None else None,
        columns=prepared.columns, cleaning=prepared.cleaning, k_selection=sample.selection,
        silhouette=sample.silhouette(sample_labels),
        features=(*prepared.numeric, *prepared.categorical),
        profile_features=prepared.profile_features, feature_labels=prepared.feature_labels,
        population={str(f): {str(k): (None if pd.isna(v) else float(v)) for k, v in row.items()}
                    for f, row in population.iterrows()},
        segments=profiles,
        assignments=pd.DataFrame({ID: pd.Series(dtype=object),
                                  "segment_id": pd.Series(dtype="int64"),
                                  DISTANCE: pd.Series(dtype=float)}),
        attributes=pd.DataFrame({c: pd.Series(dtype=object if c in shown or c == ID else float)
                                 for c in (ID, *display)}),
        excluded=prepared.excluded,
        projection=projection_sample(sample.embedding, sample_ids),
        explained_variance=tuple(float(v) for v in sample.pca.explained_variance_ratio_),
        model_spec=spec.to_dict()), staged


def _stage(frame: DataFrame, staging: Path | None, rows: int) -> StagedCustomers:
    if staging is not None:
        staging.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="_staging-", dir=staging))
    try:
        frame.orderBy(ID).write.mode("overwrite").parquet(str(folder / "rows"))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return StagedCustomers(folder, rows)


def write_assignments(run: SparkRun, segment_ids: dict[int, int], folder: Path,
                      run_id: int) -> Path:
    """The run's assignments as Parquet in ``folder``/run=<run_id>, with the published
    segment ids (``segment_ids``: the result's id -> the published one)."""
    published = {label: segment_ids[segment] for label, segment in run.segment_of_label.items()
                 if segment in segment_ids}
    target = folder / f"run={run_id}"
    (run.assigned.select(ID, _segment_id(published).alias("segment_id"), DISTANCE)
     .write.mode("overwrite").parquet(str(target)))
    return target


def assignments_folder(source: TableSource) -> Path | None:
    """Where a run's Parquet assignments go: beside a file or folder input; None for a
    database."""
    if not isinstance(source, FileSource):
        return None
    return source.path.parent / f"{source.path.name}.segbot-assignments"
