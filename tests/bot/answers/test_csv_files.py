"""CSV files as a marketer opens them in a spreadsheet: no formulas, numbers as written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.answers.build import export_answer
from bot.answers.csv_files import csv_bytes
from bot.cli import main
from bot.jobs.refresh import refresh
from segmentation.model import ModelConfig
from storage.store import Store

HYPERLINK = '=HYPERLINK("http://x","y")'


def read_rows(data: bytes) -> list[list[str]]:
    """The cells as a spreadsheet sees them after its CSV parser (header first)."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def column(data: bytes, name: str) -> list[str]:
    header, *rows = read_rows(data)
    return [row[header.index(name)] for row in rows]


def test_a_hyperlink_formula_id_opens_as_text() -> None:
    frame = pd.DataFrame({"customer_id": [HYPERLINK, "5524"], "Income": [58138.0, 46344.0]})

    assert column(csv_bytes(frame), "customer_id") == ["'" + HYPERLINK, "5524"]


@pytest.mark.parametrize("text", ["+1+2", "-12", "@SUM(A1)", "\tcmd", "\rcmd", "=1+1"])
def test_text_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    frame = pd.DataFrame({"customer_id": [text], "segment": pd.Categorical([text]),
                          "note": pd.Series([text], dtype=object)})

    [row] = read_rows(csv_bytes(frame))[1:]

    assert row == ["'" + text] * 3


def test_ordinary_text_is_left_as_it_is() -> None:
    values = ["Graduation", "a-b", "x=1", "'quoted", "", None]
    frame = pd.DataFrame({"Education": pd.Series(values, dtype=object)})

    assert column(csv_bytes(frame), "Education") == ["Graduation", "a-b", "x=1", "'quoted",
                                                     "", ""]


def test_negative_numbers_in_numeric_columns_stay_numbers() -> None:
    frame = pd.DataFrame({"customer_id": ["1", "2"], "change": [-3.5, 2.25],
                          "delta_days": [-4, 7]})

    data = csv_bytes(frame)

    assert column(data, "change") == ["-3.5", "2.25"]
    assert column(data, "delta_days") == ["-4", "7"]
    assert pd.read_csv(io.BytesIO(data))["change"].tolist() == [-3.5, 2.25]


def test_a_whole_income_is_written_without_a_decimal_point_and_missing_is_empty() -> None:
    frame = pd.DataFrame({"customer_id": ["1", "2", "3"], "Income": [42144.0, np.nan, 51371.0]})

    assert column(csv_bytes(frame), "Income") == ["42144", "", "51371"]


def test_a_one_column_file_keeps_the_rows_whose_cell_is_missing() -> None:
    frame = pd.DataFrame({"Income": [42144.0, np.nan, 51371.0]})

    assert len(pd.read_csv(io.BytesIO(csv_bytes(frame)))) == 3


def test_fractions_are_rounded_per_column() -> None:
    frame = pd.DataFrame({"distance": [0.5403357148170471, 1.0, -0.0001],
                          "OnlineShare": [0.1 + 0.2, 1 / 3, 0.5]})

    data = csv_bytes(frame, decimals={"distance": 3})

    assert column(data, "distance") == ["0.54", "1", "0"]
    assert column(data, "OnlineShare") == ["0.3", "0.333333", "0.5"]


def test_commas_quotes_and_newlines_inside_a_cell_survive() -> None:
    names = ['Smith, Jane', 'say "hi"', "two\nlines", "x;=1+1"]
    frame = pd.DataFrame({"name": names})

    data = csv_bytes(frame)

    assert column(data, "name") == names
    # quoted, so a spreadsheet that splits on ";" does not start a cell with "=1+1"
    assert b'"x;=1+1"' in data


def test_a_column_name_that_looks_like_a_formula_is_neutralised_too() -> None:
    frame = pd.DataFrame({"=cmd|'/c calc'!A0": ["a"], "Income": [1.0]})

    assert read_rows(csv_bytes(frame))[0] == ["'=cmd|'/c calc'!A0", "Income"]


# -- end to end: a customer table with hostile ids, exported with `segbot cluster N --export`


HOSTILE_IDS = (HYPERLINK, "+1", "-12", "@SUM(A1)", "x;=1+1")


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory, reference_csv: Path) -> Path:
    """The reference table with its first ids replaced by formula-like ones, refreshed."""
    folder = tmp_path_factory.mktemp("hostile")
    rows = list(csv.reader(reference_csv.open(newline=""), delimiter="\t"))
    for row, customer_id in zip(rows[1:], HOSTILE_IDS, strict=False):
        row[0] = customer_id
    table = folder / "customers.tsv"
    with table.open("w", newline="") as handle:
        csv.writer(handle, delimiter="\t", lineterminator="\n").writerows(rows)
    refresh(Store(folder / "segbot.db"), table, config=ModelConfig())
    return folder / "segbot.db"


def test_segbot_cluster_export_writes_formula_ids_as_inert_text(
        hostile_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    segment = Store(hostile_db).get_customer(HYPERLINK).segment_id
    export = tmp_path / "members.csv"

    assert main(["cluster", str(segment), "--db", str(hostile_db), "--export", str(export)],
                environ={}) == 0

    data = export.read_bytes()
    ids = column(data, "customer_id")
    assert "'" + HYPERLINK in ids
    assert not [i for i in ids if i.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert len(ids) == Store(hostile_db).get_segment(segment).size
    assert all("." not in income for income in column(data, "Income"))
    assert all(len(d.partition(".")[2]) <= 3 for d in column(data, "distance"))


def test_every_hostile_id_is_exported_neutralised(hostile_db: Path) -> None:
    store = Store(hostile_db)
    exported = [i for s in store.list_segments()
                for i in column(export_answer(store, s.segment_id).files[0].render(),
                                "customer_id")]

    assert {"'" + i for i in HOSTILE_IDS if i[0] in "=+-@"} <= set(exported)
    assert "x;=1+1" in exported  # harmless at the start: quoted, not prefixed
