"""Derived features and cleaning on the real reference table, checked by hand."""

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.cleaning import kept_rows
from segmentation.loading import load_table
from segmentation.prepare import prepare_customers
from segmentation.reference import row_sums


@pytest.fixture(scope="module")
def prepared(reference_csv: Path):
    return prepare_customers(load_table(reference_csv))


def _row(prepared, customer_id: str) -> pd.Series:
    frame = prepared.frame.set_index("customer_id")
    return frame.loc[customer_id]


def test_as_of_is_the_latest_enrolment_not_today(prepared) -> None:
    assert prepared.as_of == pd.Timestamp("2014-06-29")


def test_features_of_customer_5524_match_hand_computation(prepared) -> None:
    # 5524: born 1957, no kids, spend 635+88+546+172+88+88, web 8 catalog 10 store 4,
    # enrolled 04-09-2012, accepted only the last campaign.
    row = _row(prepared, "5524")
    assert row["Age"] == 2014 - 1957
    assert row["Children"] == 0
    assert row["TotalSpend"] == 1617
    assert row["TotalPurchases"] == 22
    assert row["OnlineShare"] == pytest.approx(18 / 22, abs=1e-4)
    assert row["TenureDays"] == (date(2014, 6, 29) - date(2012, 9, 4)).days
    assert row["CampaignsAccepted"] == 1


def test_features_of_customer_2174_match_hand_computation(prepared) -> None:
    row = _row(prepared, "2174")
    assert row["Age"] == 60
    assert row["Children"] == 2
    assert row["TotalSpend"] == 11 + 1 + 6 + 2 + 1 + 6
    assert row["TotalPurchases"] == 1 + 1 + 2
    assert row["OnlineShare"] == pytest.approx(0.5)
    assert row["TenureDays"] == (date(2014, 6, 29) - date(2014, 3, 8)).days


def test_cleaning_report_names_every_defect(prepared) -> None:
    report = prepared.cleaning
    assert (report.rows_in, report.rows_kept) == (2240, 2236)
    by_reason = {(s.column, s.action): s for s in report.steps}
    assert by_reason[("Year_Birth", "dropped rows")].count == 3
    assert by_reason[("Income", "dropped rows")].count == 1
    assert "666,666" in by_reason[("Income", "dropped rows")].reason
    assert by_reason[("Income", "imputed")].count == 24
    assert by_reason[("Income", "imputed")].reason.endswith("shown as unknown in answers")
    relabelled = [s for s in report.steps if s.action == "relabelled"]
    assert {s.column for s in relabelled} == {"Marital_Status", "Education"}
    assert sum(s.count for s in relabelled if s.column == "Marital_Status") == 7


def test_excluded_customers_keep_their_reason(prepared) -> None:
    excluded = prepared.excluded.set_index("customer_id")["reason"]
    assert excluded["9432"] == "Income 666,666 is an extreme outlier"
    assert "1893" in excluded["11004"]
    assert len(excluded) == 4


def test_junk_labels_are_gone_and_missing_income_stays_unknown(prepared) -> None:
    assert not prepared.frame["Marital_Status"].isin(["YOLO", "Absurd", "Alone"]).any()
    assert "2n Cycle" not in set(prepared.frame["Education"])
    assert prepared.frame["Income"].isna().sum() == 24  # imputed in the model, not in answers


def test_caller_frame_is_not_modified(reference_csv: Path) -> None:
    raw = load_table(reference_csv)
    before = raw.copy()
    prepare_customers(raw)
    pd.testing.assert_frame_equal(raw, before)


def test_row_sums_are_pandas_row_sums_a_column_at_a_time() -> None:
    frame = pd.DataFrame({"small": np.array([1, 2, 3], dtype=np.int16),
                          "wide": np.array([4, 5, 2**20], dtype=np.int32),
                          "missing": [1.5, np.nan, 2.0], "flag": [True, False, True]})
    for columns in (["small", "wide"], ["small", "wide", "missing"], ["missing"],
                    ["small", "flag"]):
        ours, theirs = row_sums(frame, columns), frame[columns].sum(axis=1)
        assert ours.equals(theirs), columns


def test_kept_rows_are_iloc_by_mask_with_every_dtype_kept() -> None:
    frame = pd.DataFrame({
        "small": np.array([1, 2, 3, 4], dtype=np.int16), "real": [0.5, np.nan, 2.0, 3.0],
        "text": pd.array(["a", "b", None, "d"], dtype="str"),
        "labels": pd.Series(["x", "y", "x", "z"], dtype=object),
        "when": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-04-01"])},
        index=[10, 11, 12, 13])
    kept = np.array([True, False, True, True])
    ours, theirs = kept_rows(frame, kept), frame.iloc[kept]
    assert ours.equals(theirs)
    assert list(ours.dtypes) == list(theirs.dtypes)
    assert ours.index.tolist() == [10, 12, 13]
