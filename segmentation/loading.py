"""Read a customer table from CSV/TSV text or Parquet into a DataFrame."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pandas as pd

from segmentation.errors import DataError
from segmentation.schema import looks_like_id_name
from segmentation.sources import FileSource, LoadedTable

_DELIMITERS = ("\t", ",", ";", "|")
_HEAD_BYTES = 256 * 1024
_PARQUET_SUFFIXES = {".parquet", ".pq"}
# Cells read as missing. Not "NA": in customer tables it is as often North America or Namibia;
# a numeric column with "NA" markers is turned back into numbers afterwards.
MISSING_MARKERS = ("", "NULL", "null", "NaN", "nan", "N/A", "n/a", "#N/A", "None", "none")


def load_table(path: str | Path) -> pd.DataFrame:
    """Load a customer table; delimiter, BOM and line endings are detected."""
    path = Path(path)
    _check_readable(path)
    if path.suffix.lower() in _PARQUET_SUFFIXES:
        frame = _read_parquet(path)
    else:
        frame = _read_text_table(path)
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise DataError(f"{path.name} has a header but no rows: nothing to segment")
    return frame


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV, TSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes)")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as error:  # pyarrow raises many unrelated types for a bad file
        raise DataError(f"cannot read {path.name} as Parquet: {error}") from error


def _read_text_table(path: Path) -> pd.DataFrame:
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    encoding = detect_encoding(head, path.name)
    text_head = head.decode(encoding, errors="ignore")
    delimiter = detect_delimiter(text_head)
    options = _parse_options(text_head, delimiter)
    try:
        frame = _read_with_arrow(path, delimiter, encoding, options)
    except UnicodeDecodeError as error:
        raise _encoding_error(path.name, error) from error
    except Exception:
        # pyarrow is strict about ragged rows and odd quoting; pandas' own parser
        # explains such problems with a line number, so let it have a go.
        frame = _read_with_c_parser(path, delimiter, encoding, options)
    return _numbers_with_na_markers(frame)


def _read_with_arrow(path: Path, delimiter: str, encoding: str, options: dict) -> pd.DataFrame:
    # pandas' pyarrow reader fails whenever it is given a dtype mapping and an integer column
    # has a gap (it casts every unmapped integer column back to numpy int64): Income has
    # gaps, so every table fell back to the C parser, 1.9 s after 1.3 s lost at 1M rows.
    # Read without the mapping, then re-read just the id columns that came back as
    # numbers, as text (leading zeros), which costs a fifth of a full read.
    ids = options["dtype"]
    shared = {key: value for key, value in options.items() if key != "dtype"}
    frame = pd.read_csv(path, sep=delimiter, encoding=encoding, engine="pyarrow", **shared)
    numeric_ids = [name for name in ids if name in frame.columns
                   and not pd.api.types.is_string_dtype(frame[name])]
    if not numeric_ids:
        return frame
    text = pd.read_csv(path, sep=delimiter, encoding=encoding, engine="pyarrow",
                       usecols=numeric_ids, dtype={name: str for name in numeric_ids}, **shared)
    return frame.assign(**{name: text[name] for name in numeric_ids})


def _parse_options(text_head: str, delimiter: str) -> dict:
    """Ids stay text (leading zeros matter); "NA" is a value (North America), not missing."""
    header = next(csv.reader([text_head.splitlines()[0] if text_head else ""],
                             delimiter=delimiter), [])
    ids = {name: str for name in header if looks_like_id_name(name.strip().lstrip("\ufeff"))}
    return {"keep_default_na": False, "na_values": list(MISSING_MARKERS), "dtype": ids}


def _numbers_with_na_markers(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns that are numbers apart from "NA" markers become numeric columns."""
    updates = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or not (values == "NA").any():
            continue
        numbers = pd.to_numeric(values.where(values != "NA"), errors="coerce")
        if numbers.notna().sum() == values.notna().sum() - (values == "NA").sum():
            updates[column] = numbers
    return frame.assign(**updates) if updates else frame


def _read_with_c_parser(path: Path, delimiter: str, encoding: str,
                        options: dict) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep=delimiter, encoding=encoding, engine="c", **options)
    except UnicodeDecodeError as error:
        raise _encoding_error(path.name, error) from error
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise DataError(f"cannot parse {path.name}: {error}") from error


def detect_encoding(head: bytes, name: str) -> str:
    """UTF-8 (with or without BOM) or UTF-16 with a BOM; anything else is refused."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError as error:
        raise _encoding_error(name, error) from error
    return "utf-8"


def _encoding_error(name: str, error: UnicodeDecodeError) -> DataError:
    bad = error.object[error.start:error.start + 1].hex() if error.object else "?"
    return DataError(
        f"cannot read {name}: it is not UTF-8 text (byte 0x{bad} at offset {error.start}); "
        "save it as UTF-8 CSV and try again"
    )


def detect_delimiter(text: str) -> str:
    """Pick the delimiter that splits the header and the next lines into equal field counts."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of the head may be cut short
    if not lines:
        return ","
    best, best_fields = ",", 1
    for delimiter in _DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if counts[0] > best_fields and all(count == counts[0] for count in counts):
            best, best_fields = delimiter, counts[0]
    return best


def read_file(source: FileSource) -> LoadedTable:
    """The table in a file, with what reading it took (see `segmentation.sources`)."""
    return LoadedTable(load_table(source.path), source.describe())
