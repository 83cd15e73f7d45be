"""The synthetic order generator: shop-like order lines from customers who buy in RFM patterns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.loading import load_table
from segmentation.orders import customer_features, detect_order_history, parse_orders
from segmentation.synthetic_orders import (
    CATEGORIES,
    ORDER_COLUMNS,
    generate_orders,
    write_orders,
)

START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return generate_orders(5_000, seed=3)


@pytest.fixture(scope="module")
def features(orders: pd.DataFrame) -> pd.DataFrame:
    columns = detect_order_history(orders)
    assert columns is not None
    return customer_features(parse_orders(orders, columns)[0], columns)


def test_about_ten_lines_per_customer_in_time_order_within_the_period(
        orders: pd.DataFrame) -> None:
    assert tuple(orders.columns) == ORDER_COLUMNS
    assert 9 <= len(orders) / 5_000 <= 11
    assert orders["customer_id"].nunique() == 5_000
    assert orders["order_date"].is_monotonic_increasing
    assert orders["order_date"].min() >= START
    assert orders["order_date"].max() < END + pd.Timedelta(days=1)
    # Order ids rise with time, as a shop numbers them; returns reuse their order's id.
    purchases = orders[orders["amount"] >= 0]
    assert purchases["order_id"].is_monotonic_increasing
    # Times of day vary: these are timestamps, not dates.
    assert purchases["order_date"].dt.hour.nunique() > 12


def test_the_same_seed_gives_the_same_orders() -> None:
    pd.testing.assert_frame_equal(generate_orders(300, seed=5), generate_orders(300, seed=5))
    assert not generate_orders(300, seed=5).equals(generate_orders(300, seed=6))


def test_some_lines_are_returned_later_and_a_few_are_free(orders: pd.DataFrame) -> None:
    returns = orders[orders["amount"] < 0]
    assert 0.02 <= len(returns) / len(orders) <= 0.04
    assert (returns["quantity"] < 0).all()
    bought = orders[orders["amount"] > 0].groupby("order_id")["order_date"].min()
    assert (returns["order_date"].to_numpy() > bought[returns["order_id"]].to_numpy()).all()
    assert 0 < (orders["amount"] == 0).sum() < 0.01 * len(orders)


def test_every_role_of_the_export_is_recognised(orders: pd.DataFrame) -> None:
    columns = detect_order_history(orders)
    assert columns is not None
    assert columns.roles() == {"customer": "customer_id", "date": "order_date",
                               "order": "order_id", "amount": "amount", "quantity": "quantity",
                               "category": "category", "channel": "channel"}
    assert set(orders["category"].cat.categories) == set(CATEGORIES)


def test_customers_buy_in_the_patterns_marketers_name(features: pd.DataFrame) -> None:
    once = features["frequency"] == 1
    recent, lapsed = features["recency_days"] <= 30, features["recency_days"] >= 180
    frequent = features["frequency"] >= 10
    assert 0.25 <= once.mean() <= 0.45  # one-time buyers, and new or hibernating ones
    assert 0.05 <= (recent & frequent).mean() <= 0.25  # champions and loyal
    assert 0.05 <= (lapsed & frequent).mean() <= 0.25  # at risk: bought often, not lately
    assert 0.05 <= (features["tenure_days"] <= 90).mean() <= 0.25  # new customers
    assert 0.2 <= lapsed.mean() <= 0.6
    # Spend grows with frequency, and champions' baskets are bigger than hibernators'.
    assert features["monetary_total"].corr(features["frequency"]) > 0.5
    assert (features.loc[recent & frequent, "monetary_avg"].median()
            > features.loc[lapsed & ~frequent, "monetary_avg"].median())


@pytest.mark.parametrize("name", ["orders.csv", "orders.tsv", "orders.parquet"])
def test_written_orders_read_back_to_the_same_features(
        orders: pd.DataFrame, features: pd.DataFrame, tmp_path: Path, name: str) -> None:
    export = load_table(write_orders(orders, tmp_path / name))
    columns = detect_order_history(export)
    assert columns is not None
    pd.testing.assert_frame_equal(customer_features(parse_orders(export, columns)[0], columns),
                                  features)


def test_an_unknown_suffix_is_refused(orders: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="orders.xlsx"):
        write_orders(orders, tmp_path / "orders.xlsx")


def test_a_period_of_one_week_still_holds_every_customer() -> None:
    week = generate_orders(200, seed=1, start="2024-06-24", end="2024-06-30")
    assert week["customer_id"].nunique() == 200
    assert week["order_date"].dt.strftime("%Y-%m-%d").between("2024-06-24", "2024-06-30").all()


@pytest.mark.slow
def test_a_million_customers_make_about_ten_million_lines() -> None:
    lines = generate_orders(1_000_000, seed=0)
    assert 9_500_000 <= len(lines) <= 10_500_000
    assert np.isfinite(lines["amount"]).all()
