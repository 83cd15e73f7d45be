"""Columns a database driver returns, typed as the file loader types the same values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pyarrow as pa

from segmentation.sql_columns import postgresql_select_list, table_to_frame, to_arrow


def test_driver_objects_become_the_loaders_types() -> None:
    frame = pd.DataFrame({
        "member_no": [7, 8, None],  # named like an id: text, "7" not "7.0"
        "spend": [Decimal("1.50"), None, Decimal("2")],
        "joined": [dt.date(2024, 1, 2), None, dt.date(2024, 3, 4)],
        "mixed": [1, "two", None],  # SQLite lets a column hold both
        "note": ["#N/A", "ok", "NULL"],
        "counts": ["1", "NA", "3"],  # numbers but for an "NA": numeric, as from a CSV
    }, dtype=object)
    typed = table_to_frame(to_arrow(frame))
    assert typed["member_no"].tolist()[:2] == ["7", "8"] and pd.isna(typed["member_no"][2])
    assert typed["spend"].dtype == "float64" and typed["spend"].iloc[0] == 1.5
    assert pd.api.types.is_datetime64_any_dtype(typed["joined"])
    assert typed["mixed"].tolist()[:2] == ["1", "two"]
    assert typed["note"].isna().tolist() == [True, False, True]
    assert typed["counts"].dtype == "float64" and pd.isna(typed["counts"][1])


def test_wide_integers_and_dictionaries_are_read_too() -> None:
    table = pa.table({"big": pa.array([2**64 - 1, 1], pa.uint64()),
                      "small": pa.array([1, 2], pa.int16()),
                      "tier": pa.array(["gold", "silver"]).dictionary_encode()})
    typed = table_to_frame(table)
    assert typed["big"].dtype == "float64" and typed["small"].dtype == "int64"
    assert typed["tier"].tolist() == ["gold", "silver"]


def test_only_columns_arrow_would_misread_are_cast_on_the_server() -> None:
    numeric = pa.field("amount", pa.string(), metadata={b"POSTGRESQL:type": b"numeric"})
    plain = pa.schema([pa.field("id", pa.int64()), pa.field("name", pa.string())])
    assert postgresql_select_list("SELECT * FROM t", plain) == "SELECT * FROM t"
    wrapped = postgresql_select_list("SELECT * FROM t", pa.schema([
        pa.field("id", pa.int64()), numeric, pa.field("at", pa.time64("us")),
        pa.field('odd "name"', pa.list_(pa.int32()))]))
    assert wrapped == ('SELECT "id", "amount"::float8 AS "amount", "at"::text AS "at", '
                       '"odd ""name"""::text AS "odd ""name""" FROM (SELECT * FROM t\n'
                       ') AS segbot_source')
