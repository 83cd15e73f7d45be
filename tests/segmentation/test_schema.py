"""Tables of other schemas segment with no configuration; a TOML file overrides inference."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.errors import ConfigError, DataError
from segmentation.schema import infer_schema, load_schema_file


def saas_accounts(rows: int = 800, seed: int = 0) -> pd.DataFrame:
    """A table unlike the reference: SaaS accounts with dates, plans, free text."""
    rng = np.random.default_rng(seed)
    tier = rng.integers(0, 3, rows)
    return pd.DataFrame({
        "row": np.arange(rows),
        "Account Code": [f"AC-{i:05d}" for i in rng.permutation(rows)],
        "signup_date": pd.Timestamp("2023-01-01")
        + pd.to_timedelta(rng.integers(0, 600, rows), unit="D"),
        "plan": np.array(["free", "team", "enterprise"])[tier],
        "seats": rng.poisson(np.array([1, 8, 60])[tier]),
        "monthly_fee": np.array([0, 99, 990])[tier] * rng.uniform(0.8, 1.2, rows),
        "logins_last_30d": rng.poisson(np.array([3, 40, 200])[tier]),
        "notes": [f"call on {i} about renewal" for i in range(rows)],
        "country": rng.choice(["NO", "IT", "US", "DE"], rows),
        "source_system": "crm",
    }).assign(signup_date=lambda f: f["signup_date"].dt.strftime("%Y-%m-%d"))


def test_unknown_schema_is_inferred_and_every_decision_reported() -> None:
    schema = infer_schema(saas_accounts())
    roles = {d.column: d.role for d in schema.decisions}
    assert schema.id_column == "Account Code"
    assert roles["signup_date"] == "date"
    assert roles["plan"] == "categorical" and roles["country"] == "categorical"
    assert roles["notes"] == "dropped"  # free text
    assert roles["source_system"] == "dropped"  # constant
    assert roles["row"] == "dropped"  # a row number is not a feature
    assert set(schema.numeric) == {"seats", "monthly_fee", "logins_last_30d"}


def test_unknown_schema_segments_with_no_configuration() -> None:
    result = segment_customers(saas_accounts(), source="saas.csv")
    assert 2 <= result.k <= 10
    assert sum(s.size for s in result.segments) == 800
    assert "signup_date_days" in result.features
    assert result.assignments["customer_id"].str.startswith("AC-").all()
    assert all(s.name for s in result.segments)


def test_table_without_id_numbers_rows_and_says_so() -> None:
    frame = saas_accounts().drop(columns=["Account Code", "row"])
    result = segment_customers(frame, source="noid.csv")
    assert result.assignments["customer_id"].iloc[0] == "1"
    assert any(step.action == "numbered rows" for step in result.cleaning.steps)


def test_duplicate_ids_are_an_error_naming_them() -> None:
    frame = saas_accounts()
    frame.loc[5, "Account Code"] = frame.loc[6, "Account Code"]
    with pytest.raises(DataError, match="duplicate customer ids.*" + frame.loc[6, "Account Code"]):
        segment_customers(frame, source="dup.csv")


def test_no_usable_columns_is_an_error() -> None:
    frame = pd.DataFrame({"id": range(50), "comment": [f"text {i}" for i in range(50)],
                          "flag": ["x"] * 50})
    with pytest.raises(DataError, match="no usable columns"):
        segment_customers(frame, source="x")


def test_one_row_is_an_error() -> None:
    with pytest.raises(DataError, match="at least"):
        segment_customers(pd.DataFrame({"id": [1], "spend": [3.0]}), source="x")


def test_schema_file_overrides_inference(tmp_path: Path) -> None:
    path = tmp_path / "schema.toml"
    path.write_text('id = "row"\nfeatures = ["seats", "monthly_fee"]\n'
                    'categoricals = []\ndates = []\nas_of = "2025-01-01"\n')
    overrides = load_schema_file(path)
    result = segment_customers(saas_accounts(), source="saas", overrides=overrides)
    assert set(result.features) == {"seats", "monthly_fee"}
    assert result.assignments["customer_id"].iloc[0] == "0"


@pytest.mark.parametrize("text, message", [
    ('id = "missing_column"\n', "does not have"),
    ("colour = 'red'\n", "unknown keys"),
    ("id = [1, 2\n", "not valid TOML"),
    ('as_of = "yesterday"\n', "as_of"),
])
def test_bad_schema_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        overrides = load_schema_file(path)
        infer_schema(saas_accounts(), overrides)


def test_id_column_named_customer_id_works_and_duplicates_are_named() -> None:
    frame = saas_accounts().drop(columns=["Account Code"]).rename(columns={"row": "customer_id"})
    frame["customer_id"] = frame["customer_id"].map(lambda i: f"C{i:04d}")
    result = segment_customers(frame, source="cid.csv")
    assert result.assignments["customer_id"].iloc[0] == "C0000"
    frame.loc[3, "customer_id"] = "C0004"
    with pytest.raises(DataError, match="duplicate customer ids.*C0004"):
        segment_customers(frame, source="cid.csv")


def test_reference_profile_on_another_table_names_the_missing_columns(tmp_path: Path) -> None:
    from segmentation.schema import SchemaOverrides

    with pytest.raises(ConfigError, match="missing: .*Dt_Customer"):
        segment_customers(saas_accounts(), source="x", overrides=SchemaOverrides(
            profile="reference"))


def test_an_order_history_is_described_by_its_columns_roles(tmp_path: Path) -> None:
    from segmentation.order_roles import Role
    from segmentation.schema import TableKind

    path = tmp_path / "schema.toml"
    path.write_text('kind = "orders"\ncustomer = "Kunde"\ndate = "Datum"\namount = "Betrag"\n'
                    'quantity = "Menge"\norder = "Beleg"\ncategory = "Gruppe"\n'
                    'channel = "Kanal"\ndate_format = "%d.%m.%Y"\ndecimal = ","\n'
                    'as_of = "2024-06-30"\n')
    overrides = load_schema_file(path)
    assert overrides.kind == TableKind.ORDERS and overrides.describes_orders
    assert not overrides.describes_customer_table
    assert overrides.order_columns == {
        Role.CUSTOMER: "Kunde", Role.DATE: "Datum", Role.AMOUNT: "Betrag",
        Role.QUANTITY: "Menge", Role.ORDER: "Beleg", Role.CATEGORY: "Gruppe",
        Role.CHANNEL: "Kanal"}
    assert (overrides.date_format, overrides.decimal) == ("%d.%m.%Y", ",")


@pytest.mark.parametrize("text, message", [
    ('kind = "transactions"\n', 'kind must be "orders"'),
    ('kind = "customers"\ncustomer = "Kunde"\n', 'customer describe an order history'),
    ('kind = "orders"\nid = "Kunde"\n', r'id describe a customer table, and kind = "orders"'),
    ('date = "Datum"\nfeatures = ["x"]\n', "features describe a customer table, and date"),
    ('decimal = ";"\n', 'decimal must be "," or "."'),
    ('date_format = "dd/mm/yyyy"\n', "strptime format"),
    ("amount = 3\n", "amount must be a column name"),
])
def test_bad_order_settings_are_explained(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "schema.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_schema_file(path)
