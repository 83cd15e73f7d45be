"""Order histories segmented end to end: read as orders, one row per customer, RFM names.

Most tests share one segmentation of the real CDNOW purchase log (about a second).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from segmentation.engine import segment_customers, segment_table
from segmentation.errors import ConfigError, DataError
from segmentation.loading import load_table
from segmentation.order_roles import Role
from segmentation.result import SegmentationResult, order_roles
from segmentation.rfm_naming import RfmName, base_name
from segmentation.schema import SchemaOverrides, TableKind
from segmentation.sources import FileSource, SqlSource, read_table
from tests.conftest import ORDERS_CSV
from tests.segmentation.test_orders import CDNOW_CUSTOMERS, CDNOW_PURCHASES, european_export

LOST_OR_ONCE = (RfmName.LOST, RfmName.ONE_TIME)
LOYAL_NAMES = (RfmName.CHAMPIONS, RfmName.LOYAL, RfmName.POTENTIAL)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_table(ORDERS_CSV)


@pytest.fixture(scope="module")
def cdnow_result(cdnow: pd.DataFrame) -> SegmentationResult:
    return segment_customers(cdnow, source="cdnow")


def customers(result: SegmentationResult) -> pd.DataFrame:
    """Each customer's segment, segment name and shown attributes."""
    names = {s.segment_id: s.name for s in result.segments}
    frame = result.attributes.merge(result.assignments, on="customer_id")
    return frame.assign(name=frame["segment_id"].map(names))


@pytest.mark.slow  # the whole CDNOW history with its forecast: ~5 s, once per module
def test_cdnow_is_read_as_orders_and_aggregated_to_one_row_per_customer(
        cdnow_result: SegmentationResult) -> None:
    cleaning = cdnow_result.cleaning
    assert (cleaning.rows_in, cleaning.rows_kept) == (CDNOW_PURCHASES, CDNOW_CUSTOMERS)
    assert cleaning.order_rows_used == CDNOW_PURCHASES and cleaning.rows_dropped == 0
    assert order_roles(cdnow_result.columns) == {"customer": "customer_id", "date": "date",
                                                 "amount": "amount"}
    assert cdnow_result.as_of == "1998-06-30"
    assert [(s.column, s.action, s.count) for s in cleaning.steps] == [
        ("amount", "counted", 80)]
    assert cdnow_result.features == ("recency_days", "frequency", "monetary_total",
                                      "monetary_avg", "trend")
    assert len(cdnow_result.assignments) == CDNOW_CUSTOMERS


@pytest.mark.slow
def test_one_time_and_long_lapsed_customers_are_in_segments_named_lost_or_one_time(
        cdnow_result: SegmentationResult) -> None:
    frame = customers(cdnow_result)
    frame = frame.assign(once=frame["frequency"] == 1,
                         q1=frame["last_purchase"].astype(str) < "1997-04-01")
    assert frame["once"].mean() == pytest.approx(0.51, abs=0.005)
    assert frame["q1"].mean() == pytest.approx(0.58, abs=0.005)
    by_segment = frame.groupby("name")[["once", "q1"]].mean()
    holding = by_segment[(by_segment["once"] > 0.5) | (by_segment["q1"] > 0.5)]
    assert len(holding) >= 1
    assert {base_name(name) for name in holding.index} <= set(LOST_OR_ONCE)
    # nearly all of them are there, and none in a segment with a loyal name
    assert frame.loc[frame["once"], "name"].map(base_name).isin(LOST_OR_ONCE).mean() > 0.9
    loyal = frame[frame["name"].map(base_name).isin(LOYAL_NAMES)]
    assert not loyal["once"].any() and not loyal["q1"].any()


@pytest.mark.slow
def test_rfm_names_match_the_numbers_of_their_segments(
        cdnow_result: SegmentationResult) -> None:
    names = [s.name for s in cdnow_result.segments]
    assert len(set(names)) == len(names)
    for segment in cdnow_result.segments:
        recency, frequency, value = (segment.stat(f) for f in
                                     ("recency_days", "frequency", "monetary_total"))
        assert recency and frequency and value
        base = base_name(segment.name)
        assert base is not None, segment.name
        if base == RfmName.CHAMPIONS:
            assert recency.mean < 0.5 * recency.population_mean
            assert frequency.mean > 2 * frequency.population_mean
            assert value.mean > 2 * value.population_mean
        if base in LOST_OR_ONCE:
            assert recency.mean > recency.population_mean
            assert frequency.mean < frequency.population_mean
        if base == RfmName.AT_RISK:  # used to buy often, not lately
            assert frequency.mean > frequency.population_mean
            assert segment.stat("trend").mean < 0


@pytest.mark.slow
def test_descriptions_say_the_numbers_and_actions_say_what_to_do(
        cdnow_result: SegmentationResult) -> None:
    by_name = {base_name(s.name): s for s in cdnow_result.segments}
    champions = by_name[RfmName.CHAMPIONS]
    frequency = champions.stat("frequency")
    assert frequency is not None and frequency.mean is not None
    assert f"bought {frequency.mean:.1f} times" in champions.description
    assert "days ago" in champions.description and "in total" in champions.description
    assert "The average customer: bought 2.9 times, last 367 days ago" in champions.description
    assert "VIP" in champions.action
    assert "paid media" in by_name[RfmName.LOST].action
    assert len({s.action for s in cdnow_result.segments}) == len(cdnow_result.segments)


@pytest.mark.slow
def test_the_customer_attributes_are_their_purchase_history(
        cdnow_result: SegmentationResult) -> None:
    first = customers(cdnow_result).set_index("customer_id").loc["1"]
    assert first["last_purchase"] == "1997-01-01" and first["first_purchase"] == "1997-01-01"
    assert (first["frequency"], first["monetary_total"]) == (1, pytest.approx(11.77))
    assert first["recency_days"] == 545
    assert pd.isna(first["median_interval_days"])  # bought once: no interval, not 0
    assert cdnow_result.segment(int(first["segment_id"])).categories == {}


@pytest.mark.slow  # a second segmentation of CDNOW, from a file written in the test
def test_a_european_export_of_the_history_segments_the_same_way(
        cdnow: pd.DataFrame, cdnow_result: SegmentationResult, tmp_path: Path) -> None:
    path = tmp_path / "bestellungen.csv"
    german = european_export(cdnow).rename(columns={
        "Kaufbetrag": "Betrag", "purchase_date": "Bestelldatum", "units": "Anzahl",
        "client_no": "Kundennummer"})
    german.assign(Betrag=german["Betrag"].str.removesuffix(" €")).to_csv(path, sep=";",
                                                                         index=False)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == [
        "Betrag;Bestelldatum;Anzahl;Kundennummer", "11,77;01/01/1997;1;1"]
    result = segment_table(read_table(FileSource(path)))
    assert order_roles(result.columns) == {"customer": "Kundennummer", "date": "Bestelldatum",
                                           "amount": "Betrag", "quantity": "Anzahl"}
    assert [(s.name, s.size) for s in result.segments] == [
        (s.name, s.size) for s in cdnow_result.segments]
    assert result.as_of == cdnow_result.as_of


@pytest.mark.slow  # a second segmentation of CDNOW; the next test checks the same quickly
def test_orders_after_the_schema_as_of_date_are_left_out_and_counted(
        cdnow: pd.DataFrame) -> None:
    result = segment_customers(cdnow, source="cdnow",
                               overrides=SchemaOverrides(as_of=date(1998, 6, 23)))
    later = int((pd.to_datetime(cdnow["date"]) > "1998-06-23").sum())
    assert later > 0
    assert result.as_of == "1998-06-23"
    assert result.cleaning.rows_in == CDNOW_PURCHASES
    assert result.cleaning.rows_dropped == later
    assert ("date", "dropped rows", later) in [
        (s.column, s.action, s.count) for s in result.cleaning.steps]
    assert customers(result)["last_purchase"].astype(str).max() <= "1998-06-23"


def test_customers_who_first_bought_after_the_as_of_date_say_why_they_are_missing() -> None:
    rows = [(c, f"2024-01-{d + i:02d}", 10.0 * i + d) for i, c in enumerate("abcdefghijkl")
            for d in (1, 5, 9)]
    rows += [("late", "2024-02-01", 5.0), ("late", "2024-02-02", 5.0)]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    result = segment_customers(frame, source="t",
                               overrides=SchemaOverrides(as_of=date(2024, 1, 31)))
    assert "late" not in set(result.assignments["customer_id"])
    assert result.excluded.set_index("customer_id").loc["late", "reason"] == \
        "first bought after the as-of date 2024-01-31"
    steps = [(s.column, s.action, s.count) for s in result.cleaning.steps]
    assert ("customer_id", "left out customers", 1) in steps
    assert ("order_date", "dropped rows", 2) in steps  # its two orders, after the as-of date
    assert result.cleaning.rows_dropped == 2 and result.cleaning.rows_in == len(frame)


@pytest.mark.slow
def test_declared_order_columns_need_no_names_a_shop_would_use(cdnow: pd.DataFrame) -> None:
    odd = cdnow.rename(columns={"customer_id": "who", "date": "when", "amount": "paid_eur"})
    overrides = SchemaOverrides(kind=TableKind.ORDERS,
                                order_columns={Role.CUSTOMER: "who", Role.DATE: "when"})
    result = segment_customers(odd.head(3000), source="t", overrides=overrides)
    assert order_roles(result.columns) == {"customer": "who", "date": "when",
                                           "amount": "paid_eur"}


def test_an_order_history_declared_without_a_date_column_names_the_setting(
        cdnow: pd.DataFrame) -> None:
    odd = cdnow.drop(columns="date")
    with pytest.raises(ConfigError, match=r'no column is named like its date: say which in '
                                          r'the schema file, e.g. date = "…"'):
        segment_customers(odd, source="t", overrides=SchemaOverrides(kind=TableKind.ORDERS))


def test_kind_customers_reads_an_order_history_as_a_customer_table(cdnow: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="duplicate customer ids"):
        segment_customers(cdnow, source="t",
                          overrides=SchemaOverrides(kind=TableKind.CUSTOMERS))


@pytest.mark.slow  # writes and reads a workbook and a database
def test_orders_from_a_database_and_a_workbook_segment_as_from_the_file(
        cdnow: pd.DataFrame, tmp_path: Path) -> None:
    part = cdnow[cdnow["customer_id"].astype(int) <= 1500]
    from_file = segment_customers(part.reset_index(drop=True), source="csv")
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as connection:
        part.assign(date=pd.to_datetime(part["date"]).dt.strftime("%Y-%m-%d")).to_sql(
            "purchases", connection, index=False)
    workbook = tmp_path / "orders.xlsx"
    part.assign(date=pd.to_datetime(part["date"])).to_excel(workbook, index=False,
                                                            engine="xlsxwriter")
    for source in (SqlSource(f"sqlite:///{database}", table="purchases"),
                   FileSource(workbook)):
        result = segment_table(read_table(source))
        assert order_roles(result.columns)["customer"] == "customer_id"
        assert [(s.name, s.size) for s in result.segments] == [
            (s.name, s.size) for s in from_file.segments]
