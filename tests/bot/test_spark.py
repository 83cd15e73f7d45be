"""The Spark engine is made from the settings, and starts no JVM until a refresh needs it."""

from __future__ import annotations

from bot.settings import load_settings
from bot.spark import spark_engine


def test_the_settings_name_the_master_and_the_spark_settings() -> None:
    assert spark_engine(load_settings({}, require_slack=False)) is None
    settings = load_settings({"SEGBOT_ENGINE": "spark", "SEGBOT_SPARK_MASTER": "local[2]",
                              "SEGBOT_SPARK_CONF": "spark.driver.memory=2g;spark.a=1"},
                             require_slack=False)
    engine = spark_engine(settings, {"spark.a": "2"})  # refresh --spark-conf wins
    assert engine is not None and engine.master == "local[2]"
    assert engine.conf == {"spark.driver.memory": "2g", "spark.a": "2"}
    assert engine._session is None  # no JVM yet: the scheduler builds this at start-up


def test_a_spark_setting_may_hold_semicolons() -> None:
    from bot.cli import build_parser

    java = ("spark.executor.extraJavaOptions", "-Da=1;-Db=2")
    args = build_parser().parse_args(["refresh", "--data", "x.csv", "--spark-conf",
                                      "=".join(java)])
    assert args.spark_conf == [java]  # one --spark-conf, one setting, taken whole
    settings = load_settings({"SEGBOT_SPARK_CONF": "spark.driver.memory=2g;"
                                                   "spark.executor.extraJavaOptions=-Da=1;-Db=2;"
                                                   "\nspark.a=1;"}, require_slack=False)
    # a ';' separates settings where the next one starts, or at the end
    assert settings.spark_conf == (("spark.driver.memory", "2g"), java, ("spark.a", "1"))
