"""segbot refresh --engine spark publishes a run every answer reads as a local run's, and
writes the assignments as Parquet beside the input, by run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from bot.cli import main
from storage.store import Store


@pytest.mark.spark
@pytest.mark.slow
def test_a_spark_refresh_is_answered_as_a_local_one(spark: Any, reference_csv: Path,
                                                    tmp_path: Path, capsys) -> None:
    data = tmp_path / "lake" / "customers.csv"
    data.parent.mkdir()
    shutil.copy(reference_csv, data)
    spark_db, local_db = tmp_path / "spark.db", tmp_path / "local.db"
    # the session the fixture started is the one getOrCreate finds: its master applies
    spark_refresh = ["refresh", "--engine", "spark", "--spark-conf",
                     "spark.sql.shuffle.partitions=4", "--data", str(data), "--db", str(spark_db)]
    assert main(spark_refresh, environ={}) == 0
    assert main(["refresh", "--data", str(data), "--db", str(local_db)], environ={}) == 0
    capsys.readouterr()

    for command in (["segments"], ["cluster", "2"], ["customer", "5524"]):
        answers = []
        for db in (spark_db, local_db):
            assert main([*command, "--db", str(db)], environ={}) == 0
            answers.append(capsys.readouterr().out)
        assert _without_times(answers[0]) == _without_times(answers[1]), command

    assert main(spark_refresh, environ={}) == 0  # the next week's run continues the first
    second = Store(spark_db).current_run()
    assert second is not None and second.id == 2
    written = pq.read_table(data.parent / "customers.csv.segbot-assignments").to_pandas()
    assert sorted(written["run"].astype(int).unique()) == [1, 2]
    published = Store(spark_db).assignment_frame(2).set_index("customer_id")["segment_id"]
    latest = written[written["run"].astype(int) == 2].set_index("customer_id")["segment_id"]
    assert (latest.loc[published.index] == published).all()
    # the customers were streamed into the store from staged Parquet, which is gone after
    assert not list(data.parent.glob("**/_staging-*"))
    # and the movement the store counted is the one the local engine's second run computes
    assert main(["refresh", "--data", str(data), "--db", str(local_db)], environ={}) == 0
    assert Store(spark_db).movement(2).equals(Store(local_db).movement(2))


def _without_times(answer: str) -> str:
    """An answer with its run's times of day blanked: the two refreshes above run one after
    the other and may finish in different minutes."""
    return re.sub(r"(\d{4}-\d{2}-\d{2}) \d{2}:\d{2}", r"\1 HH:MM", answer)


def test_spark_settings_without_the_spark_engine_are_refused(tmp_path: Path, capsys) -> None:
    code = main(["refresh", "--spark-conf", "spark.driver.memory=4g", "--data",
                 str(tmp_path / "x.csv"), "--db", str(tmp_path / "s.db")], environ={})
    assert code == 2
    assert "--spark-conf applies to --engine spark" in capsys.readouterr().err
