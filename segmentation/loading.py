"""Read a customer table file: CSV/TSV text, an Excel workbook or Parquet, compressed or not.

`read_file` opens what the file holds (a .gz, .bz2 or .xz file's contents, the one table in a
.zip), reads it by its format (`segmentation.text_tables` for text), and refuses a table whose
first row is data rather than column names, so that no file is segmented misread.
"""

from __future__ import annotations

import bz2
import datetime as dt
import enum
import gzip
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from segmentation.errors import DataError
from segmentation.result import CleaningStep
from segmentation.schema import looks_like_id_name
from segmentation.sources import OPTION_NAMES, FileSource, LoadedTable
from segmentation.text_tables import (
    MISSING_MARKERS,
    TableBytes,
    numbers_with_na_markers,
    read_text_table,
    unique_column_names,
)


class TableFormat(enum.Enum):
    """How a file's (decompressed) bytes are read."""

    TEXT = "CSV/TSV text"
    EXCEL = "Excel workbook"
    PARQUET = "Parquet"


_SUFFIX_FORMATS = {".parquet": TableFormat.PARQUET, ".pq": TableFormat.PARQUET,
                   ".xlsx": TableFormat.EXCEL, ".xlsm": TableFormat.EXCEL,
                   ".xlsb": TableFormat.EXCEL, ".xls": TableFormat.EXCEL,
                   ".ods": TableFormat.EXCEL}
_TABLE_TEXT_SUFFIXES = {".csv", ".tsv", ".tab"}  # not .txt: in a zip, as often a README
_DECOMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    ".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
_DECOMPRESS_ERRORS = (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError)
_MAX_NESTING = 3  # customers.csv.gz inside a .zip is two; more is not a table export
# Missing in a sheet: the CSV markers, and what Excel shows in a cell whose formula failed
# (as in a CSV saved from it; calamine itself reads an error cell as "").
_MISSING_CELLS = (*MISSING_MARKERS, "#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!",
                  "#VALUE!")
_NUMBER = re.compile(r"[-+]?[$€£]?(\d[\d,' ]*([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?%?")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d\d(:\d\d(\.\d+)?)?)?")
_VALUES_COMPARED = 1000  # a header cell that is one of its column's first values is data


def load_table(path: str | Path) -> pd.DataFrame:
    """The rows of a customer table file (see `read_file`), for tests and benchmarks."""
    return read_file(FileSource(Path(path))).frame


def read_file(source: FileSource) -> LoadedTable:
    """The table in a file, with what reading it took (see `segmentation.sources`)."""
    _check_readable(source.path)
    content = unpack(source.path)
    table_format = format_of(content)
    where = content.name
    if source.sheet and table_format is not TableFormat.EXCEL:
        raise DataError(f"{content.name} is {table_format.value}, not an Excel workbook: it "
                        f"has no sheet {source.sheet!r} to read")
    steps: tuple[CleaningStep, ...] = ()
    if table_format is TableFormat.PARQUET:
        frame = _read_parquet(content)
    elif table_format is TableFormat.EXCEL:
        sheet, frame, header = read_workbook(content, source.sheet)
        where = f"{content.name} (sheet {sheet})"
        check_header(header, frame, where)
    else:
        text = read_text_table(content)
        frame, steps = text.frame, text.steps
        check_header(list(text.header), frame, where)
    frame.columns = [str(column).strip() for column in frame.columns]
    if not len(frame.columns):
        raise DataError(f"{where} is empty: no column names and no rows")
    if frame.empty:
        raise DataError(f"{where} has a header but no rows: nothing to segment")
    return LoadedTable(frame, source.describe(), steps)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV, TSV, Excel or Parquet "
                        "file")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes)")


# --- compressed files ---------------------------------------------------------------------

def unpack(path: Path) -> TableBytes:
    """The table file's bytes: a compressed file's contents, the one table in a zip."""
    content = TableBytes(path.name, path=path)
    for _ in range(_MAX_NESTING):
        suffix = PurePosixPath(content.name).suffix.lower()
        if suffix == ".zip":
            content = _unzip(content)
        elif suffix in _DECOMPRESSORS:
            try:
                data = _DECOMPRESSORS[suffix](content.read())
            except _DECOMPRESS_ERRORS as error:
                raise DataError(f"cannot decompress {content.name}: {error}") from error
            content = TableBytes(PurePosixPath(content.name).stem, data=data)
        else:
            return content
    raise DataError(f"{path.name} is compressed {_MAX_NESTING} times over: decompress it and "
                    "give the path of the table")


def _unzip(content: TableBytes) -> TableBytes:
    source = content.path if content.path is not None else io.BytesIO(content.read())
    try:
        with zipfile.ZipFile(source) as archive:
            member = _table_in_zip(archive, content.name)
            data = archive.read(member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError,
            *_DECOMPRESS_ERRORS) as error:  # RuntimeError: a password is needed
        raise DataError(f"cannot read {content.name} as a zip archive: {error}") from error
    return TableBytes(PurePosixPath(member.filename).name, data=data)


def _table_in_zip(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """The one file in the archive, or the one table among other files (a README)."""
    files = [info for info in archive.infolist() if not info.is_dir()
             and not info.filename.startswith("__MACOSX/")
             and PurePosixPath(info.filename).name not in (".DS_Store", "Thumbs.db")]
    if not files:
        raise DataError(f"{name} is an empty zip archive: no table in it")
    tables = [info for info in files if _is_table_name(info.filename)]
    if len(files) == 1 or len(tables) == 1:
        return files[0] if len(files) == 1 else tables[0]
    listed = ", ".join(info.filename for info in (tables or files)[:10])
    more = len(tables or files) - 10
    raise DataError(f"{name} holds {len(tables or files)} tables ({listed}"
                    f"{f' and {more} more' if more > 0 else ''}); segbot reads one: unzip it "
                    "and give the path of the table to segment")


def _is_table_name(name: str) -> bool:
    suffixes = [suffix.lower() for suffix in PurePosixPath(name).suffixes[-2:]]
    while suffixes and (suffixes[-1] in _DECOMPRESSORS or suffixes[-1] == ".zip"):
        suffixes.pop()
    return bool(suffixes) and (suffixes[-1] in _SUFFIX_FORMATS
                               or suffixes[-1] in _TABLE_TEXT_SUFFIXES)


# --- formats ------------------------------------------------------------------------------

def format_of(content: TableBytes) -> TableFormat:
    """The format the name says, or the bytes when the name says text or nothing."""
    known = _SUFFIX_FORMATS.get(PurePosixPath(content.name).suffix.lower())
    if known is not None:
        return known
    head = content.head(4096)
    if head.startswith(b"PAR1"):
        return TableFormat.PARQUET
    if head.startswith(b"\xd0\xcf\x11\xe0") or (  # an .xls, or an .xlsx, renamed .csv
            head.startswith(b"PK\x03\x04") and (b"[Content_Types].xml" in head
                                                or b"xl/" in head)):
        return TableFormat.EXCEL
    return TableFormat.TEXT


def _read_parquet(content: TableBytes) -> pd.DataFrame:
    source = content.path if content.path is not None else io.BytesIO(content.read())
    try:
        return pd.read_parquet(source)
    except Exception as error:  # pyarrow raises many unrelated types for a bad file
        raise DataError(f"cannot read {content.name} as Parquet: {error}") from error


def read_workbook(content: TableBytes,
                  sheet: str | None) -> tuple[str, pd.DataFrame, list[object]]:
    """The sheet named (else the first) of an Excel or OpenDocument workbook: its name, its
    rows, and its first row's cells as they are (numbers, dates and text, for `check_header`).

    Cells are typed as the CSV Excel saves of the sheet reads: ids as text, numbers as
    numbers, dates as dates, a column of numbers and words as text, error cells (#DIV/0!)
    missing. They are typed here, column by column, rather than by pandas' read_excel, which
    converts every cell in Python (twice the time) and turns a text "00042" id into 42.
    """
    from python_calamine import CalamineWorkbook

    source = str(content.path) if content.path is not None else io.BytesIO(content.read())
    try:
        workbook = CalamineWorkbook.from_object(source)
        chosen = _choose_sheet(list(workbook.sheet_names), sheet, content.name)
        rows = workbook.get_sheet_by_name(chosen).to_python(skip_empty_area=True)
        workbook.close()
    except DataError:
        raise
    except Exception as error:  # calamine raises its own, zip and XML errors for a bad file
        raise DataError(f"cannot read {content.name} as an Excel workbook: {error}") from error
    header: list[object] = list(rows[0]) if rows else []
    columns = list(zip(*rows[1:], strict=True)) if len(rows) > 1 else [() for _ in header]
    names = unique_column_names([_cell_text(cell) or "" for cell in header])
    frame = pd.DataFrame({name: _column_as_in_a_csv(column, looks_like_id_name(name))
                          for name, column in zip(names, columns, strict=True)},
                         index=pd.RangeIndex(len(rows) - 1 if rows else 0))
    return chosen, numbers_with_na_markers(frame), header


def _column_as_in_a_csv(column: tuple[object, ...], is_id: bool) -> pd.Series:
    """A column's cells, empty and error cells (calamine gives "") and markers missing,
    typed by `_typed_as_in_a_csv`; a column of numbers only, the most common, straight."""
    kinds = set(map(type, column))
    if not is_id and kinds and kinds <= {float, int}:
        return _whole_numbers_as_integers(pd.Series(np.array(column, dtype=float)))
    cells = pd.Series(column, dtype=object)
    if str in kinds:
        cells = cells.mask(cells.isin(_MISSING_CELLS))
    return _typed_as_in_a_csv(cells, is_id)


def _whole_numbers_as_integers(numbers: pd.Series) -> pd.Series:
    """Integers when every number is whole and none is missing, as a CSV column of them."""
    values = numbers.to_numpy()
    if (len(values) and not np.isnan(values).any() and (values % 1 == 0).all()
            and np.abs(values).max() < 2**53):
        return numbers.astype("int64")
    return numbers


def _choose_sheet(names: list[str], sheet: str | None, name: str) -> str:
    if not names:
        raise DataError(f"{name} has no sheets")
    if sheet is None:
        return names[0]
    if sheet in names:
        return sheet
    folded = [candidate for candidate in names if candidate.casefold() == sheet.casefold()]
    if len(folded) == 1:
        return folded[0]
    raise DataError(f"{name} has no sheet named {sheet!r}; its sheets: {', '.join(names)} "
                    f"(choose one with {OPTION_NAMES.sheet})")


def _typed_as_in_a_csv(cells: pd.Series, is_id: bool) -> pd.Series:
    """A column of cells typed as the CSV Excel saves of it reads: ids as text (5524, not
    5524.0), numbers as numbers, dates as dates, a column of numbers and words as text."""
    present = cells.dropna()
    kinds = set(map(type, present))
    if not is_id:
        if kinds <= {int, float}:  # Excel keeps every number as a float
            return _whole_numbers_as_integers(pd.to_numeric(cells).astype(float))
        if kinds <= {dt.date, dt.datetime}:
            return pd.to_datetime(cells)
        if kinds == {bool} and len(present) == len(cells):
            return cells.astype(bool)
    if kinds <= {str}:
        text = cells.infer_objects()
    else:
        text = pd.Series([_cell_text(value) for value in cells], index=cells.index)
    if not is_id and len(present) and _NUMBER.fullmatch(str(present.iloc[0]).strip()):
        # "12" typed as text in Excel is the number 12 in its CSV
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.notna().sum() == len(present):
            return numbers
    return text


def _cell_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value == dt.datetime.combine(value.date(), dt.time()):
        return value.date().isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


# --- the header row -----------------------------------------------------------------------

def check_header(header: Sequence[object], frame: pd.DataFrame, name: str) -> None:
    """Refuse a table whose first row is data, or mostly blank, rather than column names."""
    named = [(column, cell) for column, cell in zip(frame.columns, header, strict=True)
             if not _is_blank(cell)]
    used = [column for column, cell in zip(frame.columns, header, strict=True)
            if not _is_blank(cell) or frame[column].notna().any()]
    if len(named) * 2 < len(used):
        shown = ", ".join(repr(str(cell)) for _, cell in named[:3]) or "none"
        raise DataError(f"{name}: the first row names only {len(named)} of its {len(used)} "
                        f"columns ({shown}); the column names must be the first row: is there "
                        "a title or a blank row above them?")
    data_like = [str(cell) for column, cell in named if _looks_like_value(cell, frame[column])]
    if named and len(data_like) * 2 > len(named):
        shown = ", ".join(repr(cell.strip()) for cell in data_like[:4])
        raise DataError(f"{name}: the first row looks like data, not column names ({shown}"
                        f"{', …' if len(data_like) > 4 else ''}); add a header row that names "
                        "the columns (a column named only by a number or a date, such as 2024, "
                        "reads as data too: give it a word)")


def _is_blank(cell: object) -> bool:
    text = str(cell).strip()
    return not text or re.fullmatch(r"Unnamed: \d+", text) is not None


def _looks_like_value(cell: object, column: pd.Series) -> bool:
    """A number, a date, or one of the column's own values, rather than a name."""
    if isinstance(cell, int | float | dt.date | dt.time):  # an Excel cell with a value
        return True
    text = str(cell).strip()
    if _NUMBER.fullmatch(text) or _DATE.fullmatch(text):
        return True
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return False  # a word is none of its values
    values = column.head(_VALUES_COMPARED).dropna()
    return bool((values.astype(str).str.strip() == text).any())
