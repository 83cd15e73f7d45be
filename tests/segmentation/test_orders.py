"""Order histories: recognised with no configuration, read as purchases, turned into features.

Most tests run on the real CDNOW purchase log (tests/data/cdnow_transactions.csv) and on the
same log rewritten the way a European shop would export it.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.errors import ConfigError, DataError
from segmentation.loading import load_table
from segmentation.order_features import MAX_SHARE_COLUMNS, _occasions, trend_window_days
from segmentation.order_roles import Role
from segmentation.order_values import guess_decimal, parse_dates, parse_numbers
from segmentation.orders import (
    FEATURE_LABELS,
    OrderColumns,
    customer_features,
    detect_order_history,
    feature_label,
    parse_orders,
)
from segmentation.result import CleaningStep
from tests.conftest import ORDERS_CSV

CDNOW_CUSTOMERS = 23_570
CDNOW_PURCHASES = 69_659
CDNOW_END = pd.Timestamp("1998-06-30")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_table(ORDERS_CSV)


@pytest.fixture(scope="module")
def cdnow_columns(cdnow: pd.DataFrame) -> OrderColumns:
    columns = detect_order_history(cdnow)
    assert columns is not None
    return columns


@pytest.fixture(scope="module")
def cdnow_parsed(cdnow: pd.DataFrame, cdnow_columns: OrderColumns
                 ) -> tuple[pd.DataFrame, tuple[CleaningStep, ...]]:
    return parse_orders(cdnow, cdnow_columns)


@pytest.fixture(scope="module")
def cdnow_features(cdnow_parsed: tuple[pd.DataFrame, tuple[CleaningStep, ...]],
                   cdnow_columns: OrderColumns) -> pd.DataFrame:
    return customer_features(cdnow_parsed[0], cdnow_columns)


def european_export(cdnow: pd.DataFrame) -> pd.DataFrame:
    """CDNOW as a European shop exports it: other names, day-first dates, 1.286,01 €."""
    def euros(value: float) -> str:
        return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") + " €"

    return pd.DataFrame({
        "Kaufbetrag": cdnow["amount"].map(euros),
        "purchase_date": pd.to_datetime(cdnow["date"]).dt.strftime("%d/%m/%Y"),
        "units": cdnow["cds"],
        "client_no": cdnow["customer_id"],
    })


def orders_frame(rows: list[tuple[str, str, float]], **extra: list[object]) -> pd.DataFrame:
    customer, date, amount = zip(*rows, strict=True)
    return pd.DataFrame({"customer_id": customer, "order_date": date, "amount": amount, **extra})


# --- detection -------------------------------------------------------------------------------

def test_cdnow_is_read_as_orders_with_its_columns_roles(cdnow_columns: OrderColumns) -> None:
    assert cdnow_columns.roles() == {"customer": "customer_id", "date": "date",
                                     "amount": "amount"}
    assert cdnow_columns.describe() == "customer: customer_id, date: date, amount: amount"


def test_the_reference_customer_table_is_not_an_order_history(reference_csv: Path) -> None:
    assert detect_order_history(load_table(reference_csv)) is None


def test_a_customer_table_with_a_duplicated_id_is_not_an_order_history() -> None:
    ids = [str(n) for n in range(200)] + ["7"]  # one duplicate: a data error, not repeat buying
    table = pd.DataFrame({"customer_id": ids, "signup_date": ["2024-01-05"] * 201,
                          "total_spend": np.arange(201.0)})
    assert detect_order_history(table) is None


def test_other_words_other_formats_and_timestamps_are_recognised() -> None:
    export = pd.DataFrame({
        "Buyer ID": ["b1", "b2", "b1", "b3", "b1", "b2"],
        "InvoiceNo": ["10", "11", "12", "13", "14", "15"],
        "ship_date": ["2024-03-09"] * 6,
        "Order Date": ["2024-03-01T10:15:00Z", "2024-03-01T23:59:59+02:00", "2024-03-02 08:00",
                       "2024-03-04T12:00:00", "2024-03-05", "2024-03-07 18:30:00"],
        "Qty": [1, 2, 1, 1, 3, 1],
        "Sales (USD)": ["$1,234.00", "$12.50", "($5.00)", "$80.00", "$7.25", "$3.00"],
        "Product Category": ["Books", "Toys", "Books", "Home", "Books", "Toys"],
        "Sales channel": ["web", "store", "web", "web", "app", "store"],
    })
    columns = detect_order_history(export)
    assert columns is not None
    assert columns.roles() == {"customer": "Buyer ID", "date": "Order Date",
                               "amount": "Sales (USD)", "quantity": "Qty", "order": "InvoiceNo",
                               "category": "Product Category", "channel": "Sales channel"}
    orders, _ = parse_orders(export, columns)
    assert orders["amount"].tolist() == [1234.0, 12.5, -5.0, 80.0, 7.25, 3.0]
    # Offsets are applied: 23:59:59 at UTC+2 is 21:59:59 UTC, still the first of March.
    assert orders["date"].dt.strftime("%Y-%m-%d %H:%M").tolist()[:3] == [
        "2024-03-01 10:15", "2024-03-01 21:59", "2024-03-02 08:00"]


def test_a_unit_price_times_quantity_is_the_value_of_a_line() -> None:
    export = pd.DataFrame({"CustomerID": ["1", "1", "2", "2"], "InvoiceNo": ["a", "b", "c", "C9"],
                           "InvoiceDate": ["12/1/2010 8:26", "12/13/2010 9:41", "12/14/2010 9:00",
                                           "12/20/2010 10:00"],
                           "Quantity": [6, 2, 3, -1], "UnitPrice": [2.55, 1.0, 2.0, 2.0]})
    columns = detect_order_history(export)
    assert columns is not None
    assert (columns.price, columns.quantity, columns.amount) == ("UnitPrice", "Quantity", None)
    assert columns.date_format == "%m/%d/%Y"  # 12/13 and 12/14 and 12/20 read one way only
    orders, _ = parse_orders(export, columns)
    assert orders["amount"].tolist() == pytest.approx([15.3, 2.0, 6.0, -2.0])


# --- CDNOW facts -----------------------------------------------------------------------------

def test_every_cdnow_purchase_and_customer_is_kept(
        cdnow_parsed: tuple[pd.DataFrame, tuple[CleaningStep, ...]],
        cdnow_features: pd.DataFrame) -> None:
    orders, steps = cdnow_parsed
    assert len(orders) == CDNOW_PURCHASES
    assert not [step for step in steps if step.action == "dropped rows"]
    assert len(cdnow_features) == CDNOW_CUSTOMERS
    assert cdnow_features["customer_id"].is_unique
    assert cdnow_features["monetary_total"].sum() == pytest.approx(orders["amount"].sum())


def test_half_the_cdnow_customers_bought_on_one_day_only(cdnow_features: pd.DataFrame) -> None:
    once = cdnow_features["frequency"] == 1
    assert once.mean() == pytest.approx(0.511, abs=0.001)
    # A customer seen once has no interval, and exactly those customers have none.
    assert (cdnow_features["median_interval_days"].isna() == once).all()
    assert (cdnow_features["one_time_buyer"] == once).all()


def test_58_percent_of_cdnow_customers_last_bought_in_q1_1997(
        cdnow_features: pd.DataFrame) -> None:
    last = CDNOW_END - pd.to_timedelta(cdnow_features["recency_days"], unit="D")
    assert (last == cdnow_features["last_purchase"]).all()
    assert (last <= pd.Timestamp("1997-03-31")).mean() == pytest.approx(0.576, abs=0.001)


def test_cdnow_features_match_a_plain_pandas_computation(
        cdnow: pd.DataFrame, cdnow_features: pd.DataFrame) -> None:
    days = cdnow.assign(day=pd.to_datetime(cdnow["date"]))
    per_day = days.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    grouped = per_day.groupby("customer_id")
    gaps = grouped["day"].diff().dt.days
    expected = pd.DataFrame({
        "frequency": grouped.size(),
        "monetary_total": grouped["amount"].sum(),
        "recency_days": (CDNOW_END - grouped["day"].max()).dt.days,
        "tenure_days": (CDNOW_END - grouped["day"].min()).dt.days,
        "median_interval_days": gaps.groupby(per_day["customer_id"]).median(),
        "active_months": per_day.assign(month=per_day["day"].dt.to_period("M"))
        .groupby("customer_id")["month"].nunique(),
    })
    actual = cdnow_features.set_index("customer_id")[expected.columns].loc[expected.index]
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False, check_names=False)


def test_one_cdnow_customer_by_hand(cdnow_features: pd.DataFrame) -> None:
    # Customer 3 bought on 2/1, 30/3, 2/4, 15/11, 25/11/1997 and 28/5/1998.
    customer = cdnow_features.set_index("customer_id").loc["3"]
    assert customer["frequency"] == 6
    assert customer["median_interval_days"] == 87  # gaps 87, 3, 227, 10, 184
    assert customer["active_months"] == 5
    assert customer["recency_days"] == 33
    assert customer["monetary_avg"] == pytest.approx(156.46 / 6)
    assert customer["trend"] == 1.0  # bought in the last 90 days, not in the 90 before


def test_cdnow_zero_amounts_are_counted_and_reported(
        cdnow_parsed: tuple[pd.DataFrame, tuple[CleaningStep, ...]]) -> None:
    _, steps = cdnow_parsed
    assert [(step.column, step.action, step.count) for step in steps] == [
        ("amount", "counted", 80)]


def test_a_european_export_of_the_same_history_gives_the_same_features(
        cdnow: pd.DataFrame, cdnow_features: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "bestellungen.csv"
    european_export(cdnow).to_csv(path, sep=";", index=False)
    assert "1.286,01 €" in path.read_text(encoding="utf-8")
    export = load_table(path)
    columns = detect_order_history(export)
    assert columns is not None
    assert columns.roles() == {"customer": "client_no", "date": "purchase_date",
                               "amount": "Kaufbetrag", "quantity": "units"}
    assert (columns.date_format, columns.decimal) == ("%d/%m/%Y", ",")
    orders, _ = parse_orders(export, columns)
    pd.testing.assert_frame_equal(customer_features(orders, columns), cdnow_features)


# --- refusing and setting apart --------------------------------------------------------------

AMBIGUOUS = [("a", "01/02/2024", 1.0), ("b", "03/04/2024", 2.0), ("a", "02/01/2024", 3.0),
             ("b", "05/06/2024", 4.0), ("c", "07/08/2024", 5.0), ("a", "09/10/2024", 6.0)]


def test_dates_that_read_both_day_and_month_first_are_refused_naming_the_setting() -> None:
    with pytest.raises(DataError, match=r'date_format = "%d/%m/%Y" \(day first\) or '
                                        r'date_format = "%m/%d/%Y"'):
        detect_order_history(orders_frame(AMBIGUOUS))


def test_the_date_format_setting_resolves_ambiguous_dates() -> None:
    export = orders_frame(AMBIGUOUS)
    columns = OrderColumns(customer="customer_id", date="order_date", amount="amount",
                           date_format="%m/%d/%Y")
    orders, _ = parse_orders(export, columns)
    assert orders["date"].iloc[0] == pd.Timestamp("2024-01-02")


def test_ambiguous_dates_in_date_order_one_way_only_are_read_that_way() -> None:
    dates = ["01/02/2024", "01/03/2024", "02/03/2024", "01/04/2024", "05/04/2024", "06/04/2024"]
    export = orders_frame([(c, d, 1.0) for c, d in zip("abacba", dates, strict=True)])
    columns = detect_order_history(export)
    assert columns is not None and columns.date_format == "%d/%m/%Y"


def test_returns_are_kept_out_of_spend_and_purchases_and_counted() -> None:
    export = orders_frame([("a", "2024-01-01", 50.0), ("a", "2024-01-10", -20.0),
                           ("a", "2024-02-01", 30.0), ("b", "2024-01-05", 10.0),
                           ("b", "2024-01-05", 0.0), ("c", "2024-01-07", -5.0)])
    columns = detect_order_history(export)
    assert columns is not None
    orders, steps = parse_orders(export, columns)
    assert [(step.action, step.count) for step in steps] == [
        ("set apart", 2), ("counted", 1), ("left out customers", 1)]
    features = customer_features(orders, columns).set_index("customer_id")
    assert list(features.index) == ["a", "b"]  # c only returned something
    assert features.loc["a", ["frequency", "monetary_total", "returns_count", "returns_value"]
                        ].tolist() == [2, 80.0, 1, 20.0]
    assert features.loc["a", "recency_days"] == 0  # the as-of date is the latest row's


def test_rows_without_customer_date_or_amount_are_dropped_and_counted() -> None:
    export = orders_frame([("a", "2024-01-01", 1.0), (" ", "2024-01-02", 1.0),
                           ("a", "", 1.0), ("a", "not a date", 1.0), ("b", "2024-01-03", 1.0),
                           ("b", "2024-01-04", float("nan")), ("a", "2024-01-05", 2.0),
                           ("b", "2024-01-06", 3.0)])
    columns = OrderColumns(customer="customer_id", date="order_date", amount="amount")
    orders, steps = parse_orders(export, columns)
    assert len(orders) == 4
    assert [(step.column, step.count, step.reason) for step in steps] == [
        ("customer_id", 1, "no customer id"), ("order_date", 1, "no date"),
        ("order_date", 1, "not a date in the format %Y-%m-%d"), ("amount", 1, "no amount")]


def test_order_columns_that_are_not_in_the_table_are_a_config_error() -> None:
    columns = OrderColumns(customer="client", date="order_date", amount="amount")
    with pytest.raises(ConfigError, match="customer = 'client'"):
        parse_orders(orders_frame([("a", "2024-01-01", 1.0)]), columns)


def test_amounts_mixing_decimal_commas_and_points_are_refused_naming_the_setting() -> None:
    amounts = pd.Series(["12,50", "3,99", "7.25", "8.10", "1,5", "2.5"])
    with pytest.raises(DataError, match='decimal = ","'):
        parse_numbers(amounts, None, "amount")


# --- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "decimal", "value"), [
    ("€12.50", ".", 12.5), ("12,50 €", ",", 12.5), ("EUR 1.234,56", ",", 1234.56),
    ("$1,234.00", ".", 1234.0), ("(12.50)", ".", -12.5), ("12.50-", ".", -12.5),
    ("-3", ".", -3.0), ("1 234,56", ",", 1234.56), ("CHF 1'234.50", ".", 1234.5),
])
def test_money_as_shops_write_it(text: str, decimal: str, value: float) -> None:
    assert parse_numbers(pd.Series([text]), decimal, "amount").iloc[0] == pytest.approx(value)


@pytest.mark.parametrize(("texts", "decimal"), [
    (["1.234,56 €", "12,50 €", "3,00 €"], ","),
    (["$1,234.56", "$12.50", "$3.00"], "."),
    (["1,234", "12,345"], "."),  # three digits after every comma: thousands, as by default
    (["1.234", "2.345.678"], ","),  # a point twice in one number groups thousands
])
def test_the_decimal_separator_is_read_from_the_whole_column(texts: list[str],
                                                             decimal: str) -> None:
    assert guess_decimal(pd.Series(texts), "amount") == decimal


def test_text_that_is_no_number_is_missing() -> None:
    assert parse_numbers(pd.Series(["n/a", "12.00"]), None, "amount").isna().tolist() == [
        True, False]


@pytest.mark.parametrize(("values", "date_format"), [
    (["31.12.2023", "01.01.2024 13:05"], "%d.%m.%Y"),
    (["12/31/2023 11:05 PM", "1/1/2024 7:00 AM"], "%m/%d/%Y"),
    (["31 Dec 2023", "01 Jan 2024"], "%d %b %Y"),
    ([20231231, 20240101], "%Y%m%d"),
])
def test_dates_as_exports_write_them(values: list[object], date_format: str) -> None:
    dates = parse_dates(pd.Series(values), date_format)
    assert dates.dt.strftime("%Y-%m-%d").tolist() == ["2023-12-31", "2024-01-01"]


# --- features --------------------------------------------------------------------------------

def test_lines_of_one_order_are_one_purchase_and_two_orders_on_a_day_are_two() -> None:
    export = orders_frame([("a", "2024-01-01", 5.0), ("a", "2024-01-01", 5.0),
                           ("a", "2024-01-01", 7.0), ("a", "2024-01-03", 1.0)],
                          order_id=["o1", "o1", "o2", "o3"])
    columns = detect_order_history(export)
    assert columns is not None and columns.order == "order_id"
    features = customer_features(*parse_orders(export, columns)[:1], columns)
    assert features.loc[0, ["frequency", "monetary_avg", "median_interval_days"]].tolist() == [
        3, 6.0, 1.0]  # gaps: 0 days between o1 and o2, 2 days to o3


def test_features_as_of_an_earlier_date_ignore_later_purchases(
        cdnow_parsed: tuple[pd.DataFrame, tuple[CleaningStep, ...]],
        cdnow_columns: OrderColumns) -> None:
    cut = pd.Timestamp("1997-12-31")
    earlier = customer_features(cdnow_parsed[0], cdnow_columns, as_of=cut)
    assert earlier["last_purchase"].max() <= cut
    assert (earlier["recency_days"] == (cut - earlier["last_purchase"]).dt.days).all()
    assert len(earlier) == CDNOW_CUSTOMERS  # everyone had bought by March 1997


def test_trend_compares_the_last_window_with_the_one_before_scaled_to_short_histories() -> None:
    # 40 days of history, 1 January to 9 February: two windows of 20 days, not of 90:
    # recent = 21 January to 9 February, before = 1 to 20 January.
    export = orders_frame([("up", "2024-01-01", 10.0), ("up", "2024-02-05", 30.0),
                           ("down", "2024-01-15", 30.0), ("down", "2024-01-30", 10.0),
                           ("steady", "2024-01-10", 8.0), ("steady", "2024-02-01", 8.0),
                           ("lapsed", "2024-01-02", 5.0), ("new", "2024-02-09", 1.0)])
    assert trend_window_days(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-09")) == 20
    columns = detect_order_history(export)
    assert columns is not None
    trend = customer_features(*parse_orders(export, columns)[:1], columns).set_index(
        "customer_id")["trend"]
    assert trend.to_dict() == {"up": 0.5, "down": -0.5, "steady": 0.0, "lapsed": -1.0,
                               "new": 1.0}


def test_trend_is_zero_for_a_customer_with_nothing_in_either_window(
        cdnow_features: pd.DataFrame) -> None:
    # CDNOW spans 546 days: windows of 90; a customer last seen in 1997 has no trend.
    quiet = cdnow_features["recency_days"] >= 180
    assert quiet.any() and (cdnow_features.loc[quiet, "trend"] == 0).all()


def test_category_shares_cover_the_top_categories_by_spend() -> None:
    categories = ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]
    rows = [(f"u{n % 3}", f"2024-01-{n % 28 + 1:02d}", float(10 + n)) for n in range(70)]
    export = orders_frame(rows, category=[categories[n % 7] for n in range(70)])
    columns = detect_order_history(export)
    assert columns is not None and columns.category == "category"
    features = customer_features(*parse_orders(export, columns)[:1], columns)
    shares = [name for name in features.columns if name.startswith("category_share:")]
    assert shares == [f"category_share:{name}" for name in ("c6", "c5", "c4", "c3", "c2")]
    assert len(shares) == MAX_SHARE_COLUMNS
    assert features[shares].sum(axis=1).between(0.5, 1.0).all()
    assert feature_label(shares[0]) == "Share of spend on c6"


def test_every_feature_has_a_label_a_marketer_reads(cdnow_features: pd.DataFrame) -> None:
    assert set(cdnow_features.columns) <= set(FEATURE_LABELS)
    assert FEATURE_LABELS["recency_days"] == "Days since last purchase"
    assert feature_label("frequency") == "Purchases"


def test_every_role_is_a_field_of_order_columns() -> None:
    hints = {"date_format", "decimal"}
    assert {field.name for field in fields(OrderColumns)} - hints == {role.value for role in Role}


def test_yyyymmdd_numbers_are_dates_only_in_a_column_named_like_one() -> None:
    # CDNOW as first published: dates as the numbers 19970101 ...
    export = pd.DataFrame({"customer_id": ["1", "2", "2", "3"],
                           "order_no": [20240101, 20240102, 20240103, 20240104],
                           "date": [19970101, 19970112, 19970112, 19970102],
                           "amount": [11.77, 12.0, 77.0, 20.76]})
    columns = detect_order_history(export)
    assert columns is not None
    assert (columns.date, columns.order) == ("date", "order_no")
    orders, _ = parse_orders(export, columns)
    assert orders["date"].iloc[1] == pd.Timestamp("1997-01-12")
    assert detect_order_history(export.drop(columns="date")) is None


@pytest.mark.parametrize("ids", [["007", "7", "007", None], ["12", "7", "12", None],
                                 [" 7", "7", "x7", None]])
def test_customer_ids_stay_the_text_they_were_written_as(ids: list[str | None]) -> None:
    export = orders_frame([(str(i), f"2024-01-0{n + 1}", 1.0) for n, i in enumerate(ids)])
    export["customer_id"] = pd.Series(ids, dtype="str")
    orders, steps = parse_orders(export, OrderColumns("customer_id", "order_date", "amount"))
    expected = [i.strip() for i in ids if i is not None]
    assert orders["customer_id"].astype(str).tolist() == expected
    assert [(step.column, step.count) for step in steps] == [("customer_id", 1)]


def test_features_before_the_first_purchase_are_refused(
        cdnow_parsed: tuple[pd.DataFrame, tuple[CleaningStep, ...]]) -> None:
    with pytest.raises(DataError, match="no purchase on or before 1996-12-31"):
        customer_features(cdnow_parsed[0], as_of=pd.Timestamp("1996-12-31"))


def test_occasions_are_the_same_when_codes_are_too_wide_to_pack() -> None:
    rng = np.random.default_rng(0)
    customer, order = rng.integers(0, 50, 400), rng.integers(0, 120, 400)
    day = rng.integers(10_000, 10_030, 400)
    packed = _occasions(customer, day, order)
    # The same customers and orders renumbered far apart: 2**40 customers need 41 bits.
    wide = _occasions(customer * 2**40, day, order * 2**20)
    assert np.array_equal(packed[1], wide[1])
    assert np.array_equal(packed[0] * 2**40, wide[0])
