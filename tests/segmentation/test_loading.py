from pathlib import Path

import pandas as pd
import pytest

from segmentation.errors import DataError
from segmentation.loading import load_table


def test_reference_table_loads_with_tab_delimiter_and_crlf(reference_csv: Path) -> None:
    frame = load_table(reference_csv)
    assert frame.shape == (2240, 29)
    assert frame.columns[-1] == "Response"  # no stray '\r' left on the last column
    assert frame["Response"].isin([0, 1]).all()


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "customers.txt"
    path.write_text(delimiter.join(["id", "spend", "city"]) + "\r\n"
                    + delimiter.join(["1", "10.5", "Oslo"]) + "\r\n"
                    + delimiter.join(["2", "3", "Rome"]) + "\r\n", encoding="utf-8")
    frame = load_table(path)
    assert list(frame.columns) == ["id", "spend", "city"]
    assert frame["city"].tolist() == ["Oslo", "Rome"]


def test_utf8_bom_is_stripped_from_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfid,spend\n1,2\n2,3\n")
    assert list(load_table(path).columns) == ["id", "spend"]


def test_parquet_loads(tmp_path: Path) -> None:
    path = tmp_path / "customers.parquet"
    pd.DataFrame({"id": [1, 2], "spend": [1.0, 2.0]}).to_parquet(path)
    assert load_table(path)["spend"].tolist() == [1.0, 2.0]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "is empty"),
    (b"id,spend\n", "no rows"),
])
def test_unreadable_files_raise_one_clear_error(tmp_path: Path, content: bytes | None,
                                                message: str) -> None:
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        load_table(path)


def test_folder_instead_of_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder"):
        load_table(tmp_path)


def test_garbage_bytes_are_refused_not_parsed(tmp_path: Path) -> None:
    path = tmp_path / "random.csv"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(DataError):
        load_table(path)


def test_na_is_a_value_in_text_and_missing_in_numbers(tmp_path: Path) -> None:
    path = tmp_path / "regions.csv"
    path.write_text("member_id,region,score,note\n00042,NA,NA,\n00073,EU,3,x\n"
                    "00100,APAC,4,NULL\n")
    frame = load_table(path)
    assert frame["region"].tolist() == ["NA", "EU", "APAC"]  # North America, not missing
    assert frame["score"].isna().tolist() == [True, False, False]
    assert frame["score"].dtype.kind == "f"
    assert frame["note"].isna().tolist() == [True, False, True]


def test_ids_keep_their_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "members.tsv"
    path.write_text("Member No\tspend\n00042\t10\n00073\t20\n")
    assert load_table(path)["Member No"].tolist() == ["00042", "00073"]
