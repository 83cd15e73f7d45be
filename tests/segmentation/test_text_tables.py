"""CSV/TSV bytes as a user's tools write them: encodings, delimiters, rows of the wrong length."""

import codecs
import random
from pathlib import Path

import pandas as pd
import pytest

from segmentation.errors import DataError
from segmentation.loading import read_file
from segmentation.sources import FileSource, LoadedTable
from segmentation.text_tables import HEAD_BYTES, detect_delimiter


def read(path: Path) -> LoadedTable:
    return read_file(FileSource(path))


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def customers(rows: int, *, start: int = 1) -> list[str]:
    return [f"{i},{i * 7 % 23},{i % 5}" for i in range(start, start + rows)]


# --- encodings ----------------------------------------------------------------------------

def test_windows_1252_text_loads_and_the_summary_says_so(tmp_path: Path) -> None:
    text = "id;city;spend\r\n1;Café;3\r\n2;Müller & Söhne;4\r\n3;£ shop;5\r\n4;Oslo;6\r\n"
    loaded = read(write(tmp_path, "export.csv", text.encode("cp1252")))
    assert loaded.frame["city"].tolist() == ["Café", "Müller & Söhne", "£ shop", "Oslo"]
    (step,) = loaded.steps
    assert (step.action, step.count) == ("decoded", 3)  # the lines with é, ü, ö, £
    assert step.reason.startswith("Windows-1252 (Latin-1) text, not UTF-8")
    assert all(char in step.reason for char in "éüö£")
    assert loaded.rows_left_out == 0


def test_utf8_text_reads_without_a_decoding_step(reference_csv: Path) -> None:
    assert read(reference_csv).steps == ()


def test_a_windows_byte_far_past_the_head_is_decoded_not_read_as_bytes(tmp_path: Path) -> None:
    # pyarrow types a column with a byte that is not UTF-8 as binary: those cells would reach
    # the engine as b'...' instead of text unless the whole file is decoded
    lines = ["id,city,spend", *(f"{i},Oslo,{i % 9}" for i in range(1, 40_000))]
    lines.append("40000,Zürich,3")
    data = "\n".join(lines).encode("cp1252")
    assert len(data) > HEAD_BYTES
    loaded = read(write(tmp_path, "late.csv", data))
    assert loaded.frame["city"].iloc[-1] == "Zürich"
    assert pd.api.types.is_string_dtype(loaded.frame["city"])
    assert [step.action for step in loaded.steps] == ["decoded"]


def test_utf16_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    text = "id\tcity\tspend\n1\tGenève\t2\n2\tOslo\t3\n"
    loaded = read(write(tmp_path, "excel-unicode.txt", text.encode("utf-16")))
    assert loaded.frame["city"].tolist() == ["Genève", "Oslo"]
    assert loaded.steps[0].reason.startswith("UTF-16 text")


@pytest.mark.parametrize("data, message", [
    (random.Random(0).randbytes(4000), "not UTF-8 or Windows-1252"),
    (b"id,spend\n1,2\n2,\x00\x003\n", r"not text \(byte 0x00 at offset 15\)"),
    ("id,spend\n1,2\n".encode("utf-16-le"), "not text"),  # no BOM: NUL in every other byte
    (codecs.BOM_UTF8 + bytes(range(128, 256)) * 8, "not UTF-8 text"),  # the BOM says UTF-8
    (b"id,name\n1,Caf\xe9\n2,\x81\n", "not UTF-8 or Windows-1252"),  # 0x81: no cp1252 char
    (b"id,note\n1,ok\n" + b"2,\x1b[31m\x07\x02\n", "not text"),
])
def test_bytes_that_are_not_text_are_refused(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read(write(tmp_path, "input.csv", data))


def test_a_file_mixing_utf8_and_windows_1252_is_refused(tmp_path: Path) -> None:
    # read as cp1252, the UTF-8 lines would become "ZÃ¼rich": refuse rather than misread
    data = "id,city\n1,Zürich\n2,Genève\n".encode() + "3,Zürich\n".encode("cp1252")
    with pytest.raises(DataError, match=r"mixes UTF-8 text with Windows-1252 text \(line 4"):
        read(write(tmp_path, "mixed.csv", data))


def test_a_file_of_blank_lines_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="only blank lines"):
        read(write(tmp_path, "blank.csv", b"\r\n\n  \n"))


# --- delimiters -----------------------------------------------------------------------------

def test_delimiter_detection_ignores_commas_inside_tab_separated_text() -> None:
    assert detect_delimiter("a\tb\tc\n1\tx, y\t3\n") == "\t"


def test_a_ragged_row_among_the_first_lines_does_not_change_the_delimiter(
        tmp_path: Path) -> None:
    lines = ["id\tspend\tvisits", *(row.replace(",", "\t") for row in customers(30))]
    lines[3] = "3\t9"  # line 4, a field short
    loaded = read(write(tmp_path, "early.tsv", "\n".join(lines).encode()))
    assert list(loaded.frame.columns) == ["id", "spend", "visits"]
    assert loaded.steps[0].reason.endswith("line 4")


def test_decimal_commas_in_a_semicolon_file_are_numbers(tmp_path: Path) -> None:
    # as Excel saves "CSV" with German or French settings
    text = "id;income;score;code\r\n1;1.234,5;3,25;A1\r\n2;987,0;4;B2\r\n3;12;0,5;C3\r\n"
    frame = read(write(tmp_path, "kunden.csv", text.encode("cp1252"))).frame
    assert frame["income"].tolist() == [1234.5, 987.0, 12.0]
    assert frame["score"].tolist() == [3.25, 4.0, 0.5]
    assert frame["code"].tolist() == ["A1", "B2", "C3"]


def test_whole_numbers_are_read_narrow_and_exactly(tmp_path: Path) -> None:
    # int16/int32 hold a 10M-customer table in half the memory; each type keeps 128 times
    # the column's largest value (a sum of 128 columns fits), else int64 as before
    text = ("id,kids,visits,income,edge,huge,gap,share\n"
            "1,0,255,16777215,-16777216,9007199254740993,1,0.5\n"
            "2,-255,-256,-16777215,0,-9007199254740993,,1.5\n")
    frame = read(write(tmp_path, "customers.csv", text.encode())).frame
    assert frame.dtypes.astype(str).to_dict() == {
        "id": "str", "kids": "int16", "visits": "int32", "income": "int32", "edge": "int64",
        "huge": "int64", "gap": "float64", "share": "float64"}
    assert frame["kids"].tolist() == [0, -255]
    assert frame["visits"].tolist() == [255, -256]
    assert frame["income"].tolist() == [16777215, -16777215]
    assert frame["edge"].tolist() == [-16777216, 0]
    assert frame["huge"].tolist() == [9007199254740993, -9007199254740993]
    assert frame["gap"].isna().tolist() == [False, True]


# --- rows of the wrong length -------------------------------------------------------------

def test_rows_of_the_wrong_length_are_left_out_and_named_by_line(tmp_path: Path) -> None:
    lines = ["id,spend,visits", *customers(40)]
    lines[9] = "9,3"  # line 10: a field short
    lines[29] = "29,1,2,extra"  # line 30: one too many
    loaded = read(write(tmp_path, "ragged.csv", "\n".join(lines).encode()))
    assert len(loaded.frame) == 38
    assert pd.api.types.is_integer_dtype(loaded.frame["spend"])  # the rest reads as usual
    (step,) = loaded.steps
    assert (step.action, step.count) == ("dropped rows", 2)
    assert step.reason.endswith("header's 3: lines 10 and 30")
    assert loaded.rows_left_out == 2


def test_the_first_five_lines_are_named_and_the_rest_counted(tmp_path: Path) -> None:
    lines = ["id,spend,visits", *customers(200)]
    for line in (5, 6, 50, 51, 52, 120, 121, 199):
        lines[line - 1] = "1,2"
    (step,) = read(write(tmp_path, "ragged.csv", "\n".join(lines).encode())).steps
    assert step.count == 8
    assert step.reason.endswith("lines 5, 6, 50, 51, 52 and 3 more")


def test_lines_are_named_in_file_order_across_a_file_read_in_many_blocks(
        tmp_path: Path) -> None:
    lines = ["id,spend,visits", *customers(200_000)]  # 2+ MB: pyarrow's threads share it
    for line in (90_001, 5, 40_000, 40_001):
        lines[line - 1] = "7,7"  # the same text on several lines
    data = "\n".join(lines).encode()
    assert len(data) > 2 * (1 << 20)
    (step,) = read(write(tmp_path, "big.csv", data)).steps
    assert step.reason.endswith("lines 5, 40000, 40001 and 90001")


def test_line_numbers_count_line_breaks_inside_quoted_cells(tmp_path: Path) -> None:
    data = ('id,note,spend\n1,"first line\nsecond line",3\n2,short\n3,plain,4\n'
            + "\n".join(f"{i},n,{i}" for i in range(4, 40)) + "\n")
    loaded = read(write(tmp_path, "notes.csv", data.encode()))
    assert loaded.frame["note"].iloc[0] == "first line\nsecond line"
    assert loaded.steps[0].reason.endswith("line 4")  # the 3rd record, on the 4th line


def test_most_rows_of_the_wrong_length_mean_the_header_is_wrong(tmp_path: Path) -> None:
    data = b"id,spend\n" + b"".join(b"%d,%d,\n" % (i, i) for i in range(1, 30))  # trailing ,
    with pytest.raises(DataError, match="29 of its 29 rows do not have the header's 2 fields"):
        read(write(tmp_path, "trailing.csv", data))


def test_a_quote_never_closed_is_refused(tmp_path: Path) -> None:
    data = b'id,name,spend\n1,"Ann,3\n2,Bob,4\n3,Cy,5\n4,Di,6\n'
    with pytest.raises(DataError, match=r"row on line 2 runs on over 4 lines; is a quote"):
        read(write(tmp_path, "quote.csv", data))


def test_a_row_longer_than_a_read_block_is_read(tmp_path: Path) -> None:
    data = b"id,note,spend\n1," + b"x" * 3_000_000 + b",4\n2,y,5\n"
    frame = read(write(tmp_path, "long.csv", data)).frame
    assert frame["spend"].tolist() == [4, 5] and len(frame["note"].iloc[0]) == 3_000_000
