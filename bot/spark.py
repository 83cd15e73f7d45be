"""The Spark session a refresh with ``--engine spark`` runs on: made here, at the edge, from
the settings (master and pass-through Spark settings), and handed to the engine."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Ours unless the settings say otherwise: the driver collects with Arrow, not row by row.
DEFAULT_CONF = {"spark.sql.execution.arrow.pyspark.enabled": "true"}


class SparkMissing(Exception):
    """pyspark is not installed: the Spark engine is an optional extra."""


def spark_session(master: str, conf: Mapping[str, str]) -> SparkSession:
    """The running session, or a new one on ``master`` with ``conf`` (pyspark imported here).

    Under ``spark-submit`` or in a Databricks job a session already exists: it is used as it is,
    and the master and settings given to spark-submit apply.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkMissing("the Spark engine needs pyspark: pip install 'segbot[spark]' "
                           "(and Java 17 or later)") from None
    builder = SparkSession.builder.appName("segbot").master(master)
    for key, value in {**DEFAULT_CONF, **conf}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
