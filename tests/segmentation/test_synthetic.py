"""The synthetic customer generator: same schema as the real table, real structure, real defects."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from segmentation.synthetic import (
    REFERENCE_COLUMNS,
    generate_customers,
    write_customers,
)

SPEND_COLUMNS = [
    "MntWines", "MntFruits", "MntMeatProducts", "MntFishProducts", "MntSweetProducts",
    "MntGoldProds",
]  # fmt: skip
FLAG_COLUMNS = [
    "AcceptedCmp1", "AcceptedCmp2", "AcceptedCmp3", "AcceptedCmp4", "AcceptedCmp5", "Complain",
    "Response",
]  # fmt: skip


@pytest.fixture(scope="module")
def reference(reference_csv: Path) -> pd.DataFrame:
    return pd.read_csv(reference_csv, sep="\t")


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_customers(5_000, seed=11)


def total_spend(frame: pd.DataFrame) -> pd.Series:
    return frame[SPEND_COLUMNS].sum(axis=1)


def test_columns_and_dtypes_match_the_real_file(
    customers: pd.DataFrame, reference: pd.DataFrame
) -> None:
    assert list(REFERENCE_COLUMNS) == list(reference.columns)
    assert list(customers.columns) == list(reference.columns)
    assert customers.dtypes.to_dict() == reference.dtypes.to_dict()


def test_values_stay_in_the_real_file_domains(
    customers: pd.DataFrame, reference: pd.DataFrame
) -> None:
    assert customers["ID"].is_unique
    assert not customers["ID"].is_monotonic_increasing
    assert set(customers["Education"]) == set(reference["Education"])
    assert set(customers["Marital_Status"]) <= set(reference["Marital_Status"])
    enrolled = pd.to_datetime(customers["Dt_Customer"], format="%d-%m-%Y")
    assert enrolled.min() >= pd.Timestamp("2012-07-30")
    assert enrolled.max() <= pd.Timestamp("2014-06-29")
    assert customers["Recency"].between(0, 99).all()
    assert customers[["Kidhome", "Teenhome"]].isin([0, 1, 2]).all().all()
    assert customers[FLAG_COLUMNS].isin([0, 1]).all().all()
    assert (customers[SPEND_COLUMNS] >= 0).all().all()
    assert (customers.filter(like="Num") >= 0).all().all()
    assert (customers["Z_CostContact"] == 3).all()
    assert (customers["Z_Revenue"] == 11).all()


def test_shares_look_like_the_real_file(customers: pd.DataFrame) -> None:
    education = customers["Education"].value_counts(normalize=True)
    assert education.index[0] == "Graduation"
    assert 0.4 < education["Graduation"] < 0.6
    assert education["Basic"] < 0.05
    marital = customers["Marital_Status"].value_counts(normalize=True)
    assert marital.index[0] == "Married"
    assert 30_000 < customers["Income"].median() < 75_000
    assert 300 < total_spend(customers).mean() < 1_000


def test_the_same_seed_gives_the_same_customers() -> None:
    pd.testing.assert_frame_equal(generate_customers(300, seed=7), generate_customers(300, seed=7))


def test_another_seed_gives_other_customers() -> None:
    assert not generate_customers(300, seed=7).equals(generate_customers(300, seed=8))


def test_richer_customers_spend_more(customers: pd.DataFrame) -> None:
    assert customers["Income"].corr(total_spend(customers)) > 0.5


def test_households_with_children_spend_less_and_browse_more(customers: pd.DataFrame) -> None:
    with_children = (customers["Kidhome"] + customers["Teenhome"]) > 0
    spend = total_spend(customers)
    assert spend[with_children].mean() < 0.6 * spend[~with_children].mean()
    visits = customers["NumWebVisitsMonth"]
    assert visits[customers["Kidhome"] > 0].mean() > visits[customers["Kidhome"] == 0].mean() + 1


def test_affluent_customers_accept_more_campaigns(customers: pd.DataFrame) -> None:
    quartile = pd.qcut(customers["Income"], 4, labels=False)
    accepted = customers.filter(like="AcceptedCmp").sum(axis=1)
    assert accepted[quartile == 3].mean() > 4 * accepted[quartile == 0].mean()


def test_young_customers_buy_online_and_recently(customers: pd.DataFrame) -> None:
    young = customers["Year_Birth"] >= 1985
    purchases = customers[["NumWebPurchases", "NumCatalogPurchases", "NumStorePurchases"]]
    web_share = customers["NumWebPurchases"] / purchases.sum(axis=1).clip(lower=1)
    assert web_share[young].mean() > web_share[~young].mean() + 0.05
    assert customers["Recency"][young].median() < customers["Recency"][~young].median() - 10


def test_the_real_file_defects_are_present(customers: pd.DataFrame) -> None:
    assert 0.005 < customers["Income"].isna().mean() < 0.02
    assert (customers["Income"] >= 600_000).any()
    assert customers["Year_Birth"].isin([1893, 1899, 1900]).any()
    assert customers["Marital_Status"].isin(["Alone", "Absurd", "YOLO"]).any()


def test_500_customers_carry_every_defect() -> None:
    small = generate_customers(500, seed=3)
    assert small["Income"].isna().any()
    assert (small["Income"] >= 600_000).any()
    assert (small["Year_Birth"] < 1901).any()


def test_a_single_customer_can_be_generated() -> None:
    one = generate_customers(1)
    assert len(one) == 1
    assert list(one.columns) == list(REFERENCE_COLUMNS)


@pytest.mark.parametrize("rows", [0, -5])
def test_fewer_than_one_row_is_refused(rows: int) -> None:
    with pytest.raises(ValueError, match="rows must be at least 1"):
        generate_customers(rows)


@pytest.mark.parametrize("name", ["customers.tsv", "customers.csv"])
def test_text_file_reads_back_like_the_real_file(
    tmp_path: Path, reference_csv: Path, name: str
) -> None:
    frame = generate_customers(800, seed=2)
    path = write_customers(frame, tmp_path / name)
    assert path == tmp_path / name
    with path.open("rb") as written, reference_csv.open("rb") as real:
        assert written.readline() == real.readline()
    pd.testing.assert_frame_equal(pd.read_csv(path, sep="\t"), frame)


def test_parquet_file_reads_back_unchanged(tmp_path: Path) -> None:
    frame = generate_customers(800, seed=2)
    path = write_customers(frame, str(tmp_path / "customers.parquet"))
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)


def test_an_unknown_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="customers.xlsx"):
        write_customers(generate_customers(10), tmp_path / "customers.xlsx")
    assert not (tmp_path / "customers.xlsx").exists()
