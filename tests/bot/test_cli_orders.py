"""An order history through the command line and the weekly digest, as a marketer runs it.

The quick tests use a small generated history; the CDNOW acceptance tests and the weekly
refreshes, which segment tens of thousands of customers many times, are slow.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from bot.answers import terminal
from bot.answers.comparison import load_comparison
from bot.answers.digest import digest_answer
from bot.jobs.refresh import refresh
from segmentation.model import ModelConfig
from segmentation.orders import detect_order_history
from segmentation.result import SegmentProfile
from segmentation.rfm_naming import RfmName, base_name
from segmentation.synthetic_orders import generate_orders, write_orders
from storage.store import Store
from tests.bot.test_cli import run_cli
from tests.conftest import ORDERS_CSV

LAPSING = (RfmName.AT_RISK, RfmName.CANT_LOSE)


def mean_recency(segment: SegmentProfile) -> float:
    stat = segment.stat("recency_days")
    assert stat is not None and stat.mean is not None
    return stat.mean


@pytest.fixture(scope="module")
def small_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated order history of 300 customers, with order ids, categories and returns."""
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    return write_orders(generate_orders(300, seed=4), path)


def test_sample_orders_writes_that_many_order_lines(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "orders.csv"
    code, printed, _ = run_cli(["sample", "--orders", "--rows", "1500", "--out", str(out),
                                "--seed", "3"], capsys)
    assert code == 0 and "1,500 synthetic order lines of" in printed
    lines = pd.read_csv(out)
    assert len(lines) == 1500
    columns = detect_order_history(lines)
    assert columns is not None
    assert columns.roles() == {"customer": "customer_id", "date": "order_date",
                               "order": "order_id", "amount": "amount",
                               "quantity": "quantity", "category": "category",
                               "channel": "channel"}


@pytest.mark.slow  # over a second: the fast tier stays under a minute
def test_refreshing_an_order_history_says_so_and_names_each_columns_role(
        small_history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    code, out, _ = run_cli(["refresh", "--data", str(small_history), "--db", str(db)], capsys)
    assert code == 0
    rows = len(pd.read_csv(small_history))
    run = Store(db).current_run()
    assert run is not None and run.rows_in == rows
    assert f"read as orders: {rows:,} rows → {run.rows_kept:,} customers, as of " \
           f"{run.as_of}" in out
    for role, column in (("customer", "customer_id"), ("date", "order_date"),
                         ("amount", "amount"), ("order", "order_id"),
                         ("category", "category"), ("channel", "channel")):
        assert re.search(rf"^    {role} +{column} — ", out, re.MULTILINE), role
    assert "set apart" in out and "returns" in out  # returns are reported, not mixed in
    names = [segment.name for segment in Store(db).list_segments()]
    assert all(base_name(name) is not None for name in names), names


@pytest.mark.slow  # over a second: the fast tier stays under a minute
def test_a_customer_of_an_order_history_is_answered_with_their_purchases(
        small_history: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    store = Store(db)
    refresh(store, small_history, config=ModelConfig())
    customer = store.assignment_frame()["customer_id"].iloc[0]
    record = store.get_customer(customer)
    segment = store.get_segment(record.segment_id)
    code, out, _ = run_cli(["customer", customer, "--db", str(db)], capsys)
    assert code == 0
    labels = [line.split("  ")[1] for line in out.splitlines() if line.startswith("  ")][:4]
    assert labels == ["Last purchase", "Purchases", "Total spend", "Average order"]
    last = record.attributes["last_purchase"]
    assert re.match(r"\d{4}-\d{2}-\d{2}$", last)
    frequency = segment.stat("frequency")
    assert frequency is not None
    assert f"{record.attributes['recency_days']:,.0f} days before" in out
    assert f"(segment {frequency.mean:,.1f})" in out
    assert segment.action in out


@pytest.mark.slow  # segments 23,570 customers and publishes them
def test_cdnow_refresh_reads_orders_and_customer_1_gets_their_purchases(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "segbot.db"
    code, out, _ = run_cli(["refresh", "--data", str(ORDERS_CSV), "--db", str(db)], capsys)
    assert code == 0
    assert "read as orders: 69,659 rows → 23,570 customers, as of 1998-06-30" in out
    assert re.search(r"customer +customer_id — ", out)
    assert re.search(r"date +date — ", out) and re.search(r"amount +amount — ", out)
    segment_lines = out.split("  segments:\n")[1].splitlines()
    assert all(base_name(line.split(" · ", 1)[1].split(" — ")[0]) for line in segment_lines)
    code, out, _ = run_cli(["customer", "1", "--db", str(db)], capsys)
    assert code == 0
    assert "Last purchase                1997-01-01, 545 days before 1998-06-30" in out
    assert re.search(r"Purchases +1 \(segment", out)
    assert re.search(r"Total spend +11\.8 \(segment", out)
    assert re.search(r"Average order +11\.8 \(segment", out)
    assert base_name(Store(db).get_customer("1").segment_name or "") in (RfmName.LOST,
                                                                         RfmName.ONE_TIME)


@pytest.mark.slow  # two refreshes of CDNOW
def test_a_week_of_cdnow_orders_moves_buyers_forward_and_the_others_back(
        tmp_path: Path) -> None:
    history = pd.read_csv(ORDERS_CSV, dtype={"customer_id": str})
    first_week = tmp_path / "cdnow-1998-06-23.csv"
    history[history["date"] <= "1998-06-23"].to_csv(first_week, index=False)
    store = Store(tmp_path / "segbot.db")
    before = refresh(store, first_week, config=ModelConfig())
    after = refresh(store, ORDERS_CSV, config=ModelConfig())
    assert (before.as_of, after.as_of) == ("1998-06-23", "1998-06-30")
    flows = load_comparison(store).flows()
    assert flows.moved > 100 and flows.new == flows.gone == 0
    movers = store.movers()
    recency = {run.id: {s.segment_id: mean_recency(s)
                        for s in store.list_segments(run.id)} for run in (before, after)}
    fresher = movers["to_segment"].map(recency[after.id]) < \
        movers["from_segment"].map(recency[before.id])
    bought = movers["customer_id"].isin(history.loc[history["date"] > "1998-06-23",
                                                    "customer_id"])
    assert fresher[bought].mean() > 0.95  # who bought last week moved to fresher segments
    assert (~fresher[~bought]).mean() > 0.8  # who did not drifted the other way
    lapsing = movers[~bought]
    top = lapsing.groupby(["from_name", "to_name"]).size().idxmax()
    assert (base_name(top[0]), base_name(top[1])) == (RfmName.CHAMPIONS, RfmName.AT_RISK)
    digest = terminal.render_text(digest_answer(store))
    assert re.search(r"\d+ customers moved from Champions to At risk", digest)


@pytest.mark.slow  # eleven weekly refreshes
def test_champions_who_stop_buying_drift_to_at_risk_week_by_week(tmp_path: Path) -> None:
    orders = generate_orders(2000, seed=1)
    start = pd.Timestamp("2024-10-15")
    store = Store(tmp_path / "segbot.db")
    stopped: set[str] = set()
    in_champions, digests = [], []
    for week in range(11):
        cut = start + pd.Timedelta(days=7 * week + 1)  # orders up to the end of that day
        lines = orders[orders["order_date"] < cut]
        quiet = lines["customer_id"].astype(str).isin(stopped) & \
            (lines["order_date"] >= start + pd.Timedelta(days=1))
        path = write_orders(lines[~quiet], tmp_path / f"orders-week{week}.csv")
        run = refresh(store, path, config=ModelConfig())
        names = {s.segment_id: s.name for s in store.list_segments(run.id)}
        where = store.assignment_frame(run.id).set_index("customer_id")["segment_id"].map(names)
        if week == 0:  # a fifth of this week's champions stop buying from now on
            champions = where[where.map(base_name) == RfmName.CHAMPIONS]
            stopped = set(champions.sample(frac=0.2, random_state=0).index)
            kept_buying = set(champions.index) - stopped
        bases = where.map(base_name)
        in_champions.append(int((bases[list(stopped)] == RfmName.CHAMPIONS).sum()))
        digests.append(terminal.render_text(digest_answer(store)))
    final = bases[list(stopped)]
    assert in_champions[0] == len(stopped) >= 40
    assert in_champions == sorted(in_champions, reverse=True)  # none ever comes back
    assert final.isin(LAPSING).mean() >= 0.8 and (final == RfmName.CHAMPIONS).mean() <= 0.1
    assert (bases[list(kept_buying)] == RfmName.CHAMPIONS).mean() >= 0.7
    assert any(re.search(r"\d+ customers moved from Champions to At risk", text)
               for text in digests[1:])
