"""The Spark side of a refresh with ``--engine spark``: the session, made here at the edge from
the settings (master and pass-through Spark settings), and the engine calls made on it.

pyspark is imported only when a session is first needed, so the rest of segbot runs without
the spark extra installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.settings import Engine, Settings
from segmentation.errors import ConfigError, MissingPackage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from segmentation.config import ModelConfig
    from segmentation.engine import Progress
    from segmentation.schema_file import SchemaOverrides
    from segmentation.sources import TableSource
    from segmentation.spark_engine import SparkRun

def spark_engine(settings: Settings, extra_conf: Mapping[str, str] | None = None
                 ) -> SparkEngine | None:
    """The Spark engine the settings ask for (SEGBOT_ENGINE=spark), else None: local."""
    if settings.engine is not Engine.SPARK:
        return None
    return SparkEngine(settings.spark_master, {**dict(settings.spark_conf), **(extra_conf or {})})


# Ours unless the settings say otherwise: the driver collects with Arrow, not row by row.
DEFAULT_CONF = {"spark.sql.execution.arrow.pyspark.enabled": "true"}


def spark_session(master: str, conf: Mapping[str, str]) -> SparkSession:
    """The running session, or a new one on ``master`` with ``conf`` (pyspark imported here).

    Under ``spark-submit`` or in a Databricks job a session already exists: it is used as it
    is, and the master and settings given to spark-submit apply.
    """
    try:
        from pyspark.errors import PySparkException
        from pyspark.sql import SparkSession
    except ImportError:
        raise MissingPackage("the Spark engine needs pyspark: pip install 'segbot[spark]' "
                             "(and Java 17 or later)") from None
    builder = SparkSession.builder.appName("segbot").master(master)
    for key, value in {**DEFAULT_CONF, **conf}.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except PySparkException as error:  # no Java, a master that does not answer ...
        raise ConfigError(f"Spark did not start on {master}: {error}") from None


@dataclass
class SparkEngine:
    """Segments on Spark; the session starts with the first refresh and is kept after it."""

    master: str
    conf: Mapping[str, str] = field(default_factory=dict)
    _session: SparkSession | None = field(default=None, repr=False)

    def session(self) -> SparkSession:
        if self._session is None:
            self._session = spark_session(self.master, self.conf)
        return self._session

    def segment(self, source: TableSource, *, config: ModelConfig,
                overrides: SchemaOverrides | None, progress: Progress) -> SparkRun:
        from segmentation.spark_engine import assignments_folder, segment_with_spark

        progress(f"starting Spark ({self.master})")
        return segment_with_spark(self.session(), source, config=config, overrides=overrides,
                                  progress=progress, staging=assignments_folder(source))

    def write_assignments(self, run: SparkRun, segment_ids: Mapping[int, int],
                          source: TableSource, run_id: int, progress: Progress) -> None:
        """The published run's assignments as Parquet beside the input, under run=<id>
        (``segment_ids``: the result's segment id -> the published one)."""
        from segmentation.spark_engine import assignments_folder, write_assignments

        folder = assignments_folder(source)
        if folder is None:
            progress("assignments not written as Parquet: the input is a database")
            return
        target = write_assignments(run, dict(segment_ids), folder, run_id)
        progress(f"assignments written as Parquet to {target}")
