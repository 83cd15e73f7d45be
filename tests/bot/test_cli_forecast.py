"""Predictions on an order history through the command line, as a marketer runs them: the
paper's CDNOW sample with its 39-week calibration, and a history too thin to forecast."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest

from storage.run_tables import CUSTOMERS, run_table
from storage.store import Store
from tests.bot.test_cli import run_cli
from tests.conftest import CDNOW_SAMPLE_CSV


@pytest.fixture(scope="module")
def calibration_schema(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "cdnow.toml"
    path.write_text('as_of = "1997-09-30"  # the paper\'s 39-week calibration period\n')
    return path


@pytest.mark.slow  # fits BG/NBD and Gamma-Gamma through pymc-marketing (~5-10 s)
def test_the_paper_sample_prints_the_published_estimates_and_customer_1_its_forecast(
        tmp_path: Path, calibration_schema: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    code, out, _ = run_cli(["refresh", "--data", str(CDNOW_SAMPLE_CSV), "--schema",
                            str(calibration_schema), "--db", str(db)], capsys)
    assert code == 0, out
    assert "read as orders: 6,919 rows → 2,357 customers, as of 1997-09-30" in out
    assert "dropped rows ×1,959 — after the as-of date 1997-09-30: left out of this run" in out
    assert ("purchase model (BG/NBD, time in weeks): r = 0.243, α = 4.414, a = 0.793, "
            "b = 2.426") in out
    assert "log-likelihood -9,582.4, converged" in out
    assert "946 of 2,357 customers bought again" in out
    assert re.search(r"spend model \(Gamma-Gamma\): p = 6\.2\d\d, q = 3\.7\d\d, v = 15\.4\d\d",
                     out)
    assert re.search(r"holdout, the 39 weeks after the as-of date: the model predicted 1,6\d\d "
                     r"repeat purchases, customers made 1,882; per customer correlation 0\.6\d",
                     out)
    run = Store(db).current_run()
    assert run is not None and run.forecast is not None and run.forecast.fitted
    assert run.forecast.parameters["alpha"] == pytest.approx(4.414, rel=0.03)

    code, out, _ = run_cli(["customer", "1", "--db", str(db)], capsys)
    assert code == 0
    record = Store(db).get_customer("1")
    p_active = record.attributes["p_active"]
    purchases = record.attributes["expected_purchases_90d"]
    value = record.attributes["expected_value_90d"]
    assert 0 < p_active < 1 and 0 < purchases < 3 and value > 0
    assert re.search(rf"P\(active\) +{p_active:.0%} \(segment \d+%\)", out)
    assert re.search(rf"Expected purchases next 90 days +{purchases:.1f} \(segment [\d.]+\)",
                     out)
    assert re.search(rf"Expected value next 90 days +{value:,.1f} \(segment [\d.,]+\)", out)

    charts = tmp_path / "charts"
    code, out, _ = run_cli(["segments", "--db", str(db), "--charts", str(charts)], capsys)
    assert code == 0
    assert (charts / f"forecast-run{run.id}.png").stat().st_size > 10_000
    assert (charts / f"tracking-run{run.id}.png").stat().st_size > 10_000
    assert len(re.findall(r"Next 90 days: [\d,]+ purchases \([\d.]+ each\), worth [\d,]+ "
                          r"\([\d.,]+ each\); \d+% likely lost", out)) == run.k

    with closing(sqlite3.connect(db)) as conn:
        likely_lost, customers = conn.execute(
            f"SELECT sum(p_active < 0.3), count(*) FROM {run_table(run.id, CUSTOMERS)}"
        ).fetchone()
    assert 0 < likely_lost < customers
    code, out, _ = run_cli(["ask", "/segments where p active < 0.3", "--db", str(db)], capsys)
    assert code == 0 and f"{likely_lost:,} customers match" in out

    export = tmp_path / "segment.csv"
    code, _, _ = run_cli(["cluster", "1", "--export", str(export), "--db", str(db)], capsys)
    assert code == 0
    exported = pd.read_csv(export)
    assert {"p_active", "expected_purchases_90d", "expected_value_90d"} <= set(exported)


def test_a_history_with_almost_no_repeat_purchases_publishes_without_predictions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    once = pd.DataFrame({"customer_id": range(1, 201),
                         "order_date": pd.date_range("2024-01-01", periods=200, freq="D"),
                         "amount": 20.0})
    again = pd.DataFrame({"customer_id": [1, 1, 2, 2, 3, 3],
                          "order_date": pd.to_datetime(["2024-08-01", "2024-08-05"] * 3),
                          "amount": 30.0})
    data = tmp_path / "orders.csv"
    pd.concat([once, again]).to_csv(data, index=False)
    db = tmp_path / "segbot.db"
    code, out, _ = run_cli(["refresh", "--data", str(data), "--db", str(db)], capsys)
    assert code == 0, out
    why = ("only 3 of 200 customers (1.5%) bought again after their first purchase by "
           "2024-08-05: too few to tell who is still active")
    assert f"  forecast:\n    - no predictions: {why}" in out
    run = Store(db).current_run()
    assert run is not None and run.forecast is not None and not run.forecast.fitted
    assert run.forecast.reason.startswith(why)
    assert "p_active" not in run.attribute_columns
    charts = tmp_path / "charts"
    code, out, _ = run_cli(["segments", "--db", str(db), "--charts", str(charts)], capsys)
    assert f"No predictions in this run: {why}" in out and "Next 90 days" not in out
    assert not list(charts.glob("forecast-*.png"))


def test_answers_and_the_bot_never_load_pymc_marketing() -> None:
    probe = ("import sys, bot.cli, bot.answers.build, bot.answers.digest, bot.slack.app; "
             "print(sorted({m.split('.')[0] for m in sys.modules} & "
             "{'pymc', 'pymc_marketing', 'pytensor', 'arviz'}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "[]"
