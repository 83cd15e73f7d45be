"""Codes stored as numbers (channel 1/2, region 1/2/3) are categories; counts and flags are not."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.loading import load_table
from segmentation.schema import SchemaOverrides, infer_schema, load_schema_file

SPEND_COLUMNS = ("Fresh", "Milk", "Grocery", "Frozen", "Detergents_Paper", "Delicassen")


def wholesale_customers(rows: int = 440, seed: int = 0) -> pd.DataFrame:
    """The shape of UCI "Wholesale customers": a year's spend per product family of hotels
    and cafés (Channel 1) and retailers (Channel 2) in Lisbon, Oporto and elsewhere (Region
    1/2/3). Retailers buy groceries, milk and detergents; cafés buy fresh and frozen food."""
    rng = np.random.default_rng(seed)
    channel = rng.choice([1, 2], rows, p=[0.68, 0.32])
    region = rng.choice([1, 2, 3], rows, p=[0.17, 0.11, 0.72])
    retail = channel == 2
    means = {"Fresh": (9000, 5000), "Milk": (2500, 9000), "Grocery": (3000, 14000),
             "Frozen": (2500, 1000), "Detergents_Paper": (500, 6000),
             "Delicassen": (900, 1200)}
    spend = {column: np.round(np.exp(rng.normal(np.log(np.where(retail, shop, cafe)), 0.9)))
             .astype(int) for column, (cafe, shop) in means.items()}
    return pd.DataFrame({"Channel": channel, "Region": region, **spend})


@pytest.fixture(scope="module")
def wholesale_result():
    return segment_customers(wholesale_customers(), source="wholesale.csv")


def test_channel_and_region_codes_never_name_a_segment(wholesale_result) -> None:
    names = [s.name.lower() for s in wholesale_result.segments]
    assert not [n for n in names if "channel" in n or "region" in n], names
    assert all(s.name for s in wholesale_result.segments)
    assert {"Channel", "Region"} <= set(wholesale_result.features)  # still clustered on


def test_column_decisions_say_which_numbers_are_codes(wholesale_result) -> None:
    decisions = {d.column: d for d in wholesale_result.columns}
    assert decisions["Channel"].role == decisions["Region"].role == "categorical"
    assert decisions["Channel"].reason == "numbers used as codes (1/2)"
    assert decisions["Region"].reason == "numbers used as codes (1/2/3)"
    assert all(decisions[c].role == "numeric" for c in SPEND_COLUMNS)


def test_segments_show_their_mix_of_codes(wholesale_result) -> None:
    for segment in wholesale_result.segments:
        assert set(segment.categories["Region"]) <= {"1", "2", "3"}
        assert sum(segment.categories["Channel"].values()) == pytest.approx(1.0)


def test_a_code_column_with_blanks_keeps_whole_number_labels() -> None:
    frame = wholesale_customers().astype({"Region": float})
    frame.loc[::40, "Region"] = np.nan  # read from a CSV with empty cells: floats
    result = segment_customers(frame, source="w")
    labels = set().union(*(s.categories["Region"] for s in result.segments))
    assert labels == {"1", "2", "3", "Unknown"}


def code_and_count_columns(rows: int = 600, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": np.arange(rows),
        # codes: named like one, a few whole numbers
        "store_no": rng.integers(1, 13, rows),
        "BranchNumber": rng.integers(101, 106, rows),
        "customer_tier": rng.integers(1, 4, rows),
        "AccountType": rng.integers(0, 2, rows),  # a two-valued code is still a code
        "ZipCode": rng.integers(10_000, 99_999, rows),  # too many values to compare
        # counts and flags: quantities, even when small whole numbers
        "Kidhome": rng.integers(0, 3, rows),
        "Teenhome": rng.integers(0, 3, rows),
        "NumWebVisitsMonth": rng.integers(0, 11, rows),
        "NumStores": rng.integers(1, 5, rows),
        "group_size": rng.integers(1, 9, rows),
        "AcceptedCmp1": rng.integers(0, 2, rows),
        "Complain": rng.integers(0, 2, rows),
        "Response": rng.integers(0, 2, rows),
        "satisfaction": rng.integers(1, 6, rows),
        # named like a code but not whole numbers: a quantity
        "region_share": rng.uniform(0, 1, rows),
    })


def test_codes_are_told_from_counts_and_flags() -> None:
    decisions = {d.column: d for d in infer_schema(code_and_count_columns()).decisions}
    for code in ("store_no", "BranchNumber", "customer_tier", "AccountType"):
        assert decisions[code].role == "categorical", decisions[code]
        assert decisions[code].reason.startswith("numbers used as codes"), decisions[code]
    assert decisions["store_no"].reason == "numbers used as codes (1/2/3/4/5/…, 12 values)"
    assert decisions["BranchNumber"].reason == "numbers used as codes (101/102/103/104/105)"
    assert decisions["ZipCode"].role == "dropped"
    assert "too many" in decisions["ZipCode"].reason
    for quantity in ("Kidhome", "Teenhome", "NumWebVisitsMonth", "NumStores", "group_size",
                     "AcceptedCmp1", "Complain", "Response", "satisfaction", "region_share"):
        assert decisions[quantity].role == "numeric", decisions[quantity]


def test_no_column_of_the_reference_table_is_read_as_codes(reference_csv: Path) -> None:
    # read without its built-in profile, as any other table: counts and flags stay numbers
    schema = infer_schema(load_table(reference_csv), SchemaOverrides(profile="generic"))
    assert not [d for d in schema.decisions if "codes" in d.reason]
    assert {"Kidhome", "Teenhome", "NumWebVisitsMonth", "AcceptedCmp1", "Complain",
            "Response"} <= set(schema.numeric)


def test_schema_file_overrides_codes_both_ways(tmp_path: Path) -> None:
    frame = wholesale_customers().assign(Rating=lambda f: 1 + f.index % 5)
    path = tmp_path / "schema.toml"
    path.write_text('features = ["Channel", "Fresh", "Milk", "Grocery"]\n'
                    'categoricals = ["Rating"]\n')
    schema = infer_schema(frame, load_schema_file(path))
    roles = {d.column: (d.role, d.reason) for d in schema.decisions}
    assert roles["Channel"] == ("numeric", "feature in the schema file")
    assert roles["Rating"] == ("categorical", "categorical in the schema file")
    assert roles["Region"] == ("dropped", "not listed in the schema file")
