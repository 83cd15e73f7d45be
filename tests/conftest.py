"""Fixtures shared by every test package."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.postgres_server import PostgresServer, find_bin_dir, running_server

ROOT = Path(__file__).resolve().parent.parent  # the checkout
DATA = ROOT / "tests" / "data"  # shipped fixtures: see tests/data/README.md
REFERENCE_CSV = DATA / "marketing_campaign.csv"
ORDERS_CSV = DATA / "cdnow_transactions.csv"
# The paper's 1/10 CDNOW sample (2,357 customers), which BG/NBD was published on.
CDNOW_SAMPLE_CSV = DATA / "cdnow_sample.csv"

# Tests talk only to servers on 127.0.0.1; slack-sdk would otherwise honour a proxy.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

os.environ.setdefault("MPLBACKEND", "Agg")

WORKERS = 2  # the machine's cores: many tests wait on processes, servers and Slack's fake


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """With pytest-xdist (the test extra), a plain `pytest` runs on WORKERS processes, the
    Spark tests all on one of them (one JVM); `-n 0` or `-p no:xdist` runs in this process."""
    if (config.pluginmanager.has_plugin("xdist") and config.option.numprocesses is None
            and not config.option.usepdb and not hasattr(config, "workerinput")):
        config.option.numprocesses = WORKERS
        if config.option.dist == "no":
            config.option.dist = "loadgroup"


SPARK_TIMEOUT = 900  # seconds: the first Spark test warms the JVM up, minutes on a busy machine


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The Spark tests share one session: on one xdist worker, started first, with room for
    its warm-up (a test stopped in a py4j call leaves the session unusable for the others)."""
    xdist = config.pluginmanager.has_plugin("xdist")
    spark = [item for item in items if "spark" in getattr(item, "fixturenames", ())
             or item.get_closest_marker("spark")]
    for item in spark:
        item.add_marker(pytest.mark.timeout(SPARK_TIMEOUT))
        if xdist:
            item.add_marker(pytest.mark.xdist_group("spark"))
    if xdist:  # the longest group first, while the other worker takes everything else
        items[:] = spark + [item for item in items if item not in spark]


@pytest.fixture(scope="session")
def reference_csv() -> Path:
    """The real customer table (Kaggle "Customer Personality Analysis", CC0), shipped."""
    return REFERENCE_CSV


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] SparkSession for every Spark test (a JVM start costs 10-30 s)."""
    if importlib.util.find_spec("pyspark") is None:
        reason = "pyspark is not installed: pip install -e '.[test,spark]'"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs the extra: a skip there would hide the parity test
        pytest.skip(reason)
    from bot.spark import spark_session

    session = spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on 127.0.0.1, started once per session (about 1 s)."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        reason = ("PostgreSQL is not installed: no pg_ctl on PATH or in "
                  "/usr/lib/postgresql/*/bin (`.ci/run` installs Debian's postgresql package)")
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: a skip there would hide the database tests
        pytest.skip(reason)
    with running_server(bin_dir) as server:
        yield server


@pytest.fixture(scope="session")
def crm(postgres: PostgresServer) -> PostgresServer:
    """The server with a database `crm` holding 600 customers in the reference schema, in a
    table `customers` (bigint ids, a date Dt_Customer)."""
    from segmentation.synthetic import generate_customers
    from tests.postgres_server import create_customer_table

    postgres.create_database("crm")
    create_customer_table(postgres, "crm", "customers", generate_customers(600, seed=3))
    return postgres
