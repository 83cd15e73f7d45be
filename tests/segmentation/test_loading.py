"""Customer table files as users have them: CSV/TSV, Excel, Parquet, compressed, and what
is refused rather than misread."""

import bz2
import gzip
import lzma
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_table
from segmentation.errors import DataError
from segmentation.loading import load_table, read_file
from segmentation.result import SegmentationResult
from segmentation.sources import FileSource, read_table


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


# --- compressed files ---------------------------------------------------------------------

def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return path


COMPRESSED: dict[str, Callable[[Path, bytes], Path]] = {
    "gz": lambda folder, data: _write(folder / "customers.tsv.gz", gzip.compress(data)),
    "bz2": lambda folder, data: _write(folder / "customers.csv.bz2", bz2.compress(data)),
    "xz": lambda folder, data: _write(folder / "customers.txt.xz", lzma.compress(data)),
    "zip": lambda folder, data: _zip(folder / "export.zip", {"export/customers.tsv": data}),
    "zip with a readme": lambda folder, data: _zip(folder / "export.zip", {
        "customers.csv": data, "README.txt": b"exported from the CRM", "__MACOSX/._x": b"\0"}),
    "gz in a zip": lambda folder, data: _zip(folder / "nested.zip",
                                             {"customers.tsv.gz": gzip.compress(data)}),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", sorted(COMPRESSED))
def test_compressed_files_load_as_their_contents(kind: str, tmp_path: Path,
                                                 reference_csv: Path) -> None:
    path = COMPRESSED[kind](tmp_path, reference_csv.read_bytes())
    pd.testing.assert_frame_equal(load_table(path), load_table(reference_csv))


def test_a_zip_of_several_tables_is_refused_naming_them(tmp_path: Path) -> None:
    path = _zip(tmp_path / "two.zip", {"march.csv": b"id,x\n1,2\n", "april.csv": b"id,x\n1,2\n"})
    with pytest.raises(DataError, match=r"two.zip holds 2 tables \(march.csv, april.csv\)"):
        load_table(path)


@pytest.mark.parametrize("name, data, message", [
    ("broken.csv.gz", b"not gzip at all", "cannot decompress broken.csv.gz"),
    ("cut.csv.xz", lzma.compress(b"id,x\n1,2\n" * 500)[:40], "cannot decompress cut.csv.xz"),
    ("broken.zip", b"PK\x03\x04 and nothing else", "cannot read broken.zip as a zip archive"),
])
def test_damaged_archives_are_one_clear_error(tmp_path: Path, name: str, data: bytes,
                                              message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_table(_write(tmp_path / name, data))


# --- Excel workbooks ----------------------------------------------------------------------

def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


CUSTOMERS = pd.DataFrame({
    "Member No": ["00042", "00073", "00100"],  # typed as text in Excel: the zeros stay
    "customer_id": [5524, 2174, 4141],  # stored as numbers
    "signup": pd.to_datetime(["2012-09-04", "2014-03-08", "2013-08-21"]),
    "spend": [10.5, np.nan, 3.0],
    "region": ["NA", "EU", "APAC"],
    "visits": ["3", "4", "12"],  # numbers typed as text in Excel: numbers in its CSV too
})


def test_the_first_sheet_of_a_workbook_loads_as_its_csv_would(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "crm.xlsx", {"Customers": CUSTOMERS,
                                            "Notes": pd.DataFrame({"note": ["x"]})})
    frame = load_table(path)
    assert frame["Member No"].tolist() == ["00042", "00073", "00100"]
    assert frame["customer_id"].tolist() == ["5524", "2174", "4141"]  # ids are text
    assert pd.api.types.is_datetime64_any_dtype(frame["signup"])
    assert frame["spend"].isna().tolist() == [False, True, False]
    assert frame["region"].tolist() == ["NA", "EU", "APAC"]  # North America
    assert frame["visits"].tolist() == [3, 4, 12]


def test_a_sheet_is_chosen_by_name_and_a_missing_one_lists_the_sheets(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "crm.xlsx", {"Notes": pd.DataFrame({"note": ["x"]}),
                                            "Customers": CUSTOMERS})
    loaded = read_file(FileSource(path, sheet="customers"))  # as Excel does, any case
    assert len(loaded.frame) == 3 and loaded.source == f"{path} (sheet customers)"
    with pytest.raises(DataError, match=r"no sheet named 'March'; its sheets: Notes, Customers"):
        read_file(FileSource(path, sheet="March"))


def test_a_sheet_for_a_csv_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "customers.csv", b"id,spend\n1,2\n")
    with pytest.raises(DataError, match="not an Excel workbook"):
        read_file(FileSource(path, sheet="Customers"))


def test_error_cells_are_missing_and_a_column_of_numbers_and_words_is_text(
        tmp_path: Path) -> None:
    import xlsxwriter

    path = tmp_path / "formulas.xlsx"
    workbook = xlsxwriter.Workbook(path)
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, ["id", "margin", "size"])
    for row, (margin, size) in enumerate([(0.5, 10), (None, "XL"), (0.25, 12)], start=1):
        sheet.write(row, 0, row)
        if margin is None:
            sheet.write_formula(row, 1, "=1/0", None, "#DIV/0!")
        else:
            sheet.write(row, 1, margin)
        sheet.write(row, 2, size)
    workbook.close()
    frame = load_table(path)
    assert frame["margin"].dtype.kind == "f" and frame["margin"].isna().sum() == 1
    assert frame["size"].tolist() == ["10", "XL", "12"]  # as the CSV of the sheet reads


def test_a_workbook_renamed_csv_is_read_as_a_workbook(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "export.xlsx", {"Customers": CUSTOMERS})
    renamed = path.rename(tmp_path / "export.csv")
    assert len(load_table(renamed)) == 3


def test_a_damaged_workbook_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read crm.xlsx as an Excel workbook"):
        load_table(_write(tmp_path / "crm.xlsx", b"id,spend\n1,2\n"))


# --- the header row -----------------------------------------------------------------------

def test_a_table_without_a_header_row_is_refused(tmp_path: Path, reference_csv: Path) -> None:
    rows = reference_csv.read_bytes().split(b"\r\n", 1)[1]  # the first row is a customer
    with pytest.raises(DataError, match=r"first row looks like data, not column names "
                                        r"\('5524', '1957', 'Graduation', 'Single', …\)"):
        load_table(_write(tmp_path / "no-header.tsv", rows))


def test_a_title_above_the_header_is_refused(tmp_path: Path) -> None:
    frame = pd.DataFrame([["Customer list, March", None, None], [None, None, None],
                          ["id", "spend", "region"], [1, 2, "EU"], [2, 3, "NA"]])
    path = tmp_path / "report.xlsx"
    frame.to_excel(path, index=False, header=False, engine="xlsxwriter")
    with pytest.raises(DataError, match="names only 1 of its 3 columns .* a title"):
        load_table(path)


def test_a_header_with_some_year_columns_is_a_header(tmp_path: Path) -> None:
    path = _write(tmp_path / "spend.csv",
                  b"customer_id,region,plan,2023,2024\nA1,EU,pro,10,12\nA2,NA,free,0,3\n")
    assert list(load_table(path).columns) == ["customer_id", "region", "plan", "2023", "2024"]


# --- acceptance: the reference table as users save it segments as the original ----------

def _save_as_xlsx(reference: pd.DataFrame, folder: Path) -> Path:
    # as Excel holds the TSV once opened: ids and enrolment dates as numbers and dates
    workbook = reference.assign(ID=reference["ID"].astype(int),
                                Dt_Customer=pd.to_datetime(reference["Dt_Customer"],
                                                           format="%d-%m-%Y"))
    return _workbook(folder / "customers.xlsx", {"Customers": workbook})


def _save_as_cp1252_semicolons(reference: pd.DataFrame, folder: Path) -> Path:
    path = folder / "customers.csv"
    reference.to_csv(path, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    return path


def _save_gzipped(_: pd.DataFrame, folder: Path, original: Path) -> Path:
    return _write(folder / "customers.tsv.gz", gzip.compress(original.read_bytes()))


@pytest.mark.slow  # three refreshes of the reference table
@pytest.mark.parametrize("save", ["xlsx", "cp1252 with semicolons", "gzip"])
def test_the_reference_table_saved_as_users_save_it_segments_as_the_original(
        save: str, tmp_path: Path, reference_csv: Path,
        reference_result: SegmentationResult) -> None:
    reference = load_table(reference_csv)
    path = {"xlsx": lambda: _save_as_xlsx(reference, tmp_path),
            "cp1252 with semicolons": lambda: _save_as_cp1252_semicolons(reference, tmp_path),
            "gzip": lambda: _save_gzipped(reference, tmp_path, reference_csv)}[save]()
    result = segment_table(read_table(FileSource(path)))
    assert result.k_selection.chosen_k == reference_result.k_selection.chosen_k
    assert ([(s.segment_id, s.size, s.name) for s in result.segments]
            == [(s.segment_id, s.size, s.name) for s in reference_result.segments])
    pd.testing.assert_frame_equal(result.assignments, reference_result.assignments)
