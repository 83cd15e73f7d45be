"""The purchase and spend models against their papers, and what a history too thin for them
gets: the paper's CDNOW sample reproduces BG/NBD's published estimates (Fader, Hardie & Lee
2005) and the Gamma-Gamma ones; a history without repeat buyers is never fitted."""

from __future__ import annotations

import sys
from datetime import date

import numpy as np
import pandas as pd
import pytest

from segmentation.errors import MissingPackage
from segmentation.forecast import (
    EXPECTED_PURCHASES,
    EXPECTED_VALUE,
    LIKELY_LOST,
    P_ACTIVE,
    describe_forecast,
    fit_forecast,
    purchase_histories,
)
from segmentation.forecast_holdout import holdout_purchases
from segmentation.order_features import customer_features
from segmentation.order_profile import prepare_orders
from segmentation.orders import detect_order_history, parse_orders
from tests.conftest import CDNOW_SAMPLE_CSV

CALIBRATION_END = date(1997, 9, 30)  # the paper's 39 weeks
PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LOG_LIKELIHOOD = -9582.4
# Gamma-Gamma on the same calibration period (Fader & Hardie's note on the model, as the
# lifetimes package reproduces it): p = 6.25, q = 3.74, v = 15.44
SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}


@pytest.fixture(scope="module")
def sample_orders() -> pd.DataFrame:
    return pd.read_csv(CDNOW_SAMPLE_CSV, dtype=str)


def calibration_histories(raw: pd.DataFrame) -> pd.DataFrame:
    columns = detect_order_history(raw)
    assert columns is not None
    prepared = prepare_orders(raw, columns, CALIBRATION_END)
    return purchase_histories(prepared.frame)


def test_histories_are_counted_in_weeks_from_one_occasion_per_customer_day() -> None:
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "date": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-29", "2024-01-08"],
        "amount": ["10", "5", "20", "40", "7"],
    })
    columns = detect_order_history(orders)
    assert columns is not None
    parsed, _ = parse_orders(orders, columns)
    features = customer_features(parsed, columns, pd.Timestamp("2024-02-05"))
    histories = purchase_histories(features).set_index(features["customer_id"])
    a, b = histories.loc["a"], histories.loc["b"]
    # a: three days with purchases (two rows on the first), the last 4 weeks after the first
    assert (a["frequency"], a["recency"], a["T"]) == (2, 4.0, 5.0)
    assert a["monetary_value"] == 30.0  # repeat purchases only: the first day's 15 is not one
    assert (b["frequency"], b["recency"], b["T"]) == (0, 0.0, 4.0)
    assert np.isnan(b["monetary_value"])


def test_an_order_placed_on_the_first_day_counts_with_the_first_purchase_for_spend() -> None:
    orders = pd.DataFrame({
        "order_id": ["1", "2", "3"], "customer_id": ["a", "a", "a"],
        "date": ["2024-01-01", "2024-01-01", "2024-01-08"], "amount": ["10", "30", "50"],
    })
    columns = detect_order_history(pd.concat([orders, orders.assign(customer_id="b")]))
    assert columns is not None and columns.order == "order_id"
    parsed, _ = parse_orders(orders, columns)
    features = customer_features(parsed, columns, pd.Timestamp("2024-01-15"))
    histories = purchase_histories(features)
    assert int(histories["frequency"].iloc[0]) == 2  # three orders: two repeat purchases
    assert int(histories["spend_purchases"].iloc[0]) == 1
    assert histories["monetary_value"].iloc[0] == 50.0


def test_a_history_with_almost_no_repeat_buyers_is_not_fitted_and_says_why() -> None:
    count = 500
    histories = pd.DataFrame({"customer_id": np.arange(count), "frequency": 0,
                              "recency": 0.0, "T": np.linspace(1, 30, count),
                              "monetary_value": np.nan, "spend_purchases": 0})
    histories.loc[:2, ["frequency", "recency"]] = [1, 2.0]
    forecast = fit_forecast(histories, as_of="2024-06-30")
    assert forecast.predictions is None and not forecast.report.fitted
    assert forecast.report.reason.startswith(
        "only 3 of 500 customers (0.6%) bought again after their first purchase by "
        "2024-06-30: too few to tell who is still active")
    assert describe_forecast(forecast.report) == [f"no predictions: {forecast.report.reason}"]


@pytest.mark.slow  # imports pymc-marketing and fits two models (~5 s)
def test_the_paper_sample_reproduces_bg_nbd_and_gamma_gamma_estimates(
        sample_orders: pd.DataFrame) -> None:
    histories = calibration_histories(sample_orders)
    assert len(histories) == 2357
    forecast = fit_forecast(histories, as_of="1997-09-30")
    report = forecast.report
    assert report.fitted, report.reason
    for name, published in PAPER.items():
        assert report.parameters[name] == pytest.approx(published, rel=0.03), name
    assert report.log_likelihood == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.5)
    for name, published in SPEND.items():
        assert report.spend_parameters[name] == pytest.approx(published, rel=0.03), name
    assert report.actual_repeats == 2457  # the paper's calibration repeat transactions
    assert report.expected_repeats == pytest.approx(2457, rel=0.03)
    predictions = forecast.predictions
    assert predictions is not None and len(predictions) == 2357
    assert predictions[P_ACTIVE].between(0, 1).all()
    one_time = histories["frequency"].to_numpy() == 0
    # BG/NBD: a customer who never bought again has not been seen to drop out
    assert np.allclose(predictions.loc[one_time, P_ACTIVE], 1.0)
    assert (predictions[EXPECTED_PURCHASES] >= 0).all()
    assert (predictions[EXPECTED_VALUE] >= 0).all()
    # customer 1 of the paper's sample: x = 2, t_x = 30.43, T = 38.86 weeks
    first = histories.iloc[0]
    assert (first["frequency"], round(first["recency"], 2), round(first["T"], 2)) == \
        (2, 30.43, 38.86)
    assert LIKELY_LOST not in predictions


def test_without_pymc_marketing_a_forecast_says_which_package_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymc_extras.prior", None)
    monkeypatch.setitem(sys.modules, "pymc_marketing", None)
    histories = pd.DataFrame({"customer_id": np.arange(100), "frequency": np.arange(100) % 3,
                              "recency": 1.0, "T": 10.0, "monetary_value": np.nan,
                              "spend_purchases": 0})
    with pytest.raises(MissingPackage, match=r"needs pymc-marketing.*pip install -e \."):
        fit_forecast(histories)


def test_the_holdout_counts_later_purchases_of_the_customers_who_bought_by_the_as_of_date(
        ) -> None:
    orders = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "a", "b", "c", "c"],
        "date": ["2024-01-01", "2024-01-01", "2024-01-09", "2024-01-20", "2024-01-22",
                 "2024-01-03", "2024-01-16", "2024-01-25"],
        "amount": ["10", "5", "20", "40", "-8", "7", "9", "3"],
    })
    columns = detect_order_history(orders)
    assert columns is not None
    parsed, _ = parse_orders(orders, columns)
    holdout = holdout_purchases(parsed, pd.Timestamp("2024-01-14"))
    assert holdout is not None
    assert list(holdout.ids) == ["a", "b"]  # c first bought after the as-of date
    assert holdout.purchases.tolist() == [1, 0]  # a's return on the 22nd is no purchase
    assert holdout.first_weeks.tolist() == [0.0, 2 / 7]
    assert holdout.calibration_weeks == 2.0
    assert holdout.holdout_weeks == 11 / 7  # to the last purchase in the data, c's on the 25th
    # a's repeat purchases: day 8 (week 2) and day 19 (week 3)
    assert holdout.weeks.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert holdout.cumulative.tolist() == [0.0, 1.0, 2.0, 2.0]
    assert holdout_purchases(parsed, pd.Timestamp("2024-01-31")) is None


@pytest.mark.slow  # imports pymc-marketing and fits (~5 s)
def test_customers_who_never_drop_out_give_no_predictions_and_say_which_estimate_ran_off(
        ) -> None:
    rng = np.random.default_rng(0)
    count = 2000
    age = rng.uniform(10, 52, count)
    repeats = rng.poisson(0.5 * age)  # one steady rate for everyone, and nobody drops out
    histories = pd.DataFrame({
        "customer_id": np.arange(count), "frequency": repeats,
        "recency": np.where(repeats > 0, age * rng.beta(np.maximum(repeats, 1), 1), 0.0),
        "T": age, "monetary_value": np.nan, "spend_purchases": 0})
    forecast = fit_forecast(histories, as_of="2024-06-30")
    assert forecast.predictions is None and not forecast.report.fitted
    assert forecast.report.reason.startswith(
        "the purchase model's estimates ran to the edge of their range (r = ")
    assert forecast.report.reason.endswith("the history cannot pin down a")
