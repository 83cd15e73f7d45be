"""Read a CSV/TSV table's bytes: its encoding, its delimiter, and rows of the wrong length.

A table is read in one pass with pyarrow when its bytes allow it: UTF-8 throughout (pyarrow
checks every text cell) and every row as long as the header. Anything else is read again
from the whole file: the encoding decided from every byte (UTF-8, UTF-16 with a byte-order
mark, else Windows-1252 when every byte is text in it), and rows of the wrong length left out
by line number. What that took comes back as cleaning steps for the run's report.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from segmentation.errors import DataError
from segmentation.result import CleaningStep
from segmentation.schema import looks_like_id_name

DELIMITERS = ("\t", ",", ";", "|")
HEAD_BYTES = 256 * 1024
# Cells read as missing. Not "NA": in customer tables it is as often North America or Namibia;
# a numeric column with "NA" markers is turned back into numbers afterwards.
MISSING_MARKERS = ("", "NULL", "null", "NaN", "nan", "N/A", "n/a", "#N/A", "None", "none")
# The bytes file(1) does not accept in text: NUL and the other C0 controls but BEL, BS, TAB,
# LF, VT, FF, CR and ESC. Binary data is full of them; text, in any of our encodings, never.
_NOT_TEXT = re.compile(rb"[\x00-\x06\x0e-\x1a\x1c-\x1f\x7f]")
_NOT_TEXT_CHARS = re.compile("[\x00-\x06\x0e-\x1a\x1c-\x1f\x7f]")
_TEXT_BYTES = bytes(byte for byte in range(256) if not _NOT_TEXT.match(bytes([byte])))
# A character UTF-8 spells in two to four bytes: in a file that also has bytes that are not
# UTF-8, these were typed as UTF-8 and would read as "Ã©" if the file were read as cp1252.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}"
                            rb"|[\xf0-\xf4][\x80-\xbf]{3}")
_DECIMAL_COMMA = re.compile(r"[-+]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?")
_SHOWN_LINES = 5  # line numbers a "dropped rows" step names; the rest are counted
_MOST_ROWS_DROPPED = 0.10  # more rows than this of the wrong length: the header is wrong
_MAX_BLOCK = 1 << 30  # pyarrow's block must hold the longest row; it takes an int32
# Whole numbers are read as the narrowest of int16 and int32 that holds them 128 times over
# (below 2**8, 2**24 in size): exact, and a sum of up to 128 such columns still fits. Counts,
# flags and amounts in int16/int32 instead of int64: 1.2 GiB less of a 10M-customer table.
_NARROW_INTEGERS = ((1 << 8, pa.int16()), (1 << 24, pa.int32()))


def _read_pool() -> pa.MemoryPool:
    """jemalloc where pyarrow has it, else the C library's allocator: the CSV reader's
    transient blocks (about 2 GiB at 10M customers) go back to the system, where pyarrow's
    default mimalloc keeps them from numpy and the later phases (10M: 6.8 GiB peak after
    reading a 2.4 GiB table, 5.1 GiB with jemalloc)."""
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()


@dataclass(frozen=True)
class TableBytes:
    """A table file's bytes, decompressed: on disk or in memory, and the name they go by."""

    name: str  # the file's name, or the name inside an archive: it decides the format
    path: Path | None = None  # the bytes are this file's ...
    data: bytes | None = None  # ... or these

    def head(self, size: int) -> bytes:
        """The first `size` bytes."""
        if self.data is not None:
            return self.data[:size]
        assert self.path is not None
        with self.path.open("rb") as handle:
            return handle.read(size)

    def read(self) -> bytes:
        """Every byte."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def arrow_source(self) -> str | pa.BufferReader:
        """What pyarrow reads the bytes from: the file itself when it is on disk."""
        if self.data is not None:
            return pa.BufferReader(self.data)
        return str(self.path)


@dataclass(frozen=True)
class TextTable:
    """A text table as read: the rows, the header as written, and what reading it took."""

    frame: pd.DataFrame
    header: tuple[str, ...]
    steps: tuple[CleaningStep, ...] = ()


@dataclass(frozen=True)
class _Decoded:
    """A whole file as UTF-8 bytes, with the step that says how it was decoded, if it had to be."""

    utf8: bytes
    step: CleaningStep | None


def read_text_table(content: TableBytes) -> TextTable:
    """The table in CSV/TSV bytes; DataError when they are not a table in text."""
    head = content.head(HEAD_BYTES)
    if len(head) < HEAD_BYTES and not head.strip():
        raise DataError(f"{content.name} has only blank lines: nothing to segment")
    if _is_plain_utf8_text(head):
        table = _read_in_one_pass(content, head)
        if table is not None:
            return table
    return _read_carefully(content)


def _is_plain_utf8_text(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _NOT_TEXT.search(head):
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _read_in_one_pass(content: TableBytes, head: bytes) -> TextTable | None:
    """The table, or None when it needs a careful reading (not UTF-8, ragged, a long row ...)."""
    text_head = head.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    delimiter = detect_delimiter(text_head)
    bad_rows: list[str] = []
    try:
        table = _arrow_read(content.arrow_source(), delimiter, _header(text_head, delimiter),
                            bad_rows, line_breaks_in_cells=False)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if bad_rows or any(pa.types.is_binary(t) or pa.types.is_large_binary(t)
                       for t in table.schema.types):  # a cell that is not UTF-8
        return None
    return TextTable(_to_frame(table, delimiter), tuple(table.column_names))


def _read_carefully(content: TableBytes) -> TextTable:
    decoded = _decode_text(content.read(), content.name)
    if not decoded.utf8.strip():  # UTF-16 blanks
        raise DataError(f"{content.name} has only blank lines: nothing to segment")
    text_head = decoded.utf8[:HEAD_BYTES].decode("utf-8", errors="ignore")
    delimiter = detect_delimiter(text_head)
    header = _header(text_head, delimiter)
    bad_rows: list[str] = []
    try:
        try:
            table = _arrow_read(pa.BufferReader(decoded.utf8), delimiter, header, bad_rows,
                                line_breaks_in_cells=True)
        except pa.ArrowInvalid:  # a row longer than a block (1 MB): the file in one block
            bad_rows.clear()
            table = _arrow_read(pa.BufferReader(decoded.utf8), delimiter, header, bad_rows,
                                line_breaks_in_cells=True,
                                block_size=min(len(decoded.utf8) + 1, _MAX_BLOCK))
    except pa.ArrowInvalid as error:
        raise DataError(f"cannot read {content.name} as a table: "
                        f"{str(error).removeprefix('CSV parse error: ')}") from error
    steps = [decoded.step] if decoded.step else []
    if bad_rows:
        steps.append(_dropped_rows_step(content.name, decoded.utf8, table, bad_rows))
    return TextTable(_to_frame(table, delimiter), tuple(table.column_names), tuple(steps))


def _arrow_read(source: str | pa.BufferReader, delimiter: str, header: list[str],
                bad_rows: list[str], *, line_breaks_in_cells: bool,
                block_size: int | None = None) -> pa.Table:
    """Ids are read as text (leading zeros matter); "NA" is a value (North America).

    Rows of the wrong length go to `bad_rows`, from pyarrow's threads in any order. Without
    `line_breaks_in_cells`, pyarrow splits blocks at any line break, which is faster but cuts
    a quoted cell with a line break in two rows of the wrong length.
    """

    def left_out(row: pa_csv.InvalidRow) -> str:
        bad_rows.append(row.text)
        return "skip"

    read_options = pa_csv.ReadOptions()
    if block_size:
        read_options.block_size = block_size
    ids = {name: pa.string() for name in header if looks_like_id_name(name)}
    return pa_csv.read_csv(
        source, read_options=read_options, memory_pool=_read_pool(),
        parse_options=pa_csv.ParseOptions(delimiter=delimiter,
                                          newlines_in_values=line_breaks_in_cells,
                                          invalid_row_handler=left_out),
        convert_options=pa_csv.ConvertOptions(null_values=list(MISSING_MARKERS),
                                              strings_can_be_null=True, column_types=ids))


def _header(text_head: str, delimiter: str) -> list[str]:
    first = text_head.splitlines()[0] if text_head else ""
    return next(csv.reader([first], delimiter=delimiter), [])


def unique_column_names(names: list[str]) -> list[str]:
    """Column names as pandas makes them: a blank one "Unnamed: 3", a repeat "spend.1"."""
    unique: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names):
        name = name.strip() or f"Unnamed: {position}"
        candidate, copy = name, 0
        while candidate in seen:
            copy += 1
            candidate = f"{name}.{copy}"
        seen.add(candidate)
        unique.append(candidate)
    return unique


def _to_frame(table: pa.Table, delimiter: str) -> pd.DataFrame:
    """The frame pandas' own pyarrow reader makes (empty columns as floats, unique names),
    with numbers written with a decimal comma read as numbers in a file separated by ";"."""
    names = unique_column_names(table.column_names)
    schema = pa.schema([pa.field(name, _frame_type(column))
                        for name, column in zip(names, table.columns, strict=True)])
    # split_blocks: no copy of every number column into one 2-D block (2 s at 10M)
    frame = table.rename_columns(names).cast(schema).to_pandas(memory_pool=_read_pool(),
                                                                split_blocks=True)
    if delimiter == ";":
        frame = _decimal_commas(frame)
    return numbers_with_na_markers(frame)


def _frame_type(column: pa.ChunkedArray) -> pa.DataType:
    """A column's type in the frame: an empty column as floats, whole numbers narrowed."""
    if pa.types.is_null(column.type):
        return pa.float64()
    if pa.types.is_int64(column.type) and column.null_count == 0 and len(column):
        bounds = pc.min_max(column)
        largest = max(-bounds["min"].as_py(), bounds["max"].as_py())
        for limit, narrow in _NARROW_INTEGERS:
            if largest < limit:
                return narrow
    return column.type


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns of numbers such as 1.234,5 as numbers: Excel separates fields with ";"
    exactly where the decimal mark is a comma (German, French ... settings)."""
    updates = {}
    for column in frame.columns:
        values = frame[column]
        if not pd.api.types.is_string_dtype(values):
            continue
        present = values.dropna()
        if not len(present) or not _DECIMAL_COMMA.fullmatch(str(present.iloc[0])):
            continue
        if present.str.fullmatch(_DECIMAL_COMMA.pattern).all():
            updates[column] = pd.to_numeric(values.str.replace(".", "", regex=False)
                                            .str.replace(",", ".", regex=False))
    return frame.assign(**updates) if updates else frame


def numbers_with_na_markers(frame: pd.DataFrame) -> pd.DataFrame:
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


# --- encodings ---------------------------------------------------------------------------

def _decode_text(data: bytes, name: str) -> _Decoded:
    """The whole file as UTF-8: UTF-8 (a BOM or none), UTF-16 with a BOM, or Windows-1252
    when it is not UTF-8 and every byte is text in Windows-1252; DataError otherwise."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as error:
            raise DataError(f"cannot read {name}: it starts as UTF-16 text but is not "
                            f"(offset {error.start}); save it as UTF-8 CSV and try again"
                            ) from error
        _refuse_control_characters(text, name)
        non_ascii = [line for line in text.splitlines() if not line.isascii()]
        return _Decoded(text.encode("utf-8"), _decoded_step(non_ascii, "UTF-16 text"))
    body = data.removeprefix(codecs.BOM_UTF8)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        if len(body) < len(data):  # the BOM says UTF-8: a byte that is not is damage
            raise _encoding_error(name, error, "UTF-8") from error
        return _windows_1252(data, name, error)
    if _first_control(body) >= 0:
        raise _not_text_error(name, _first_control(body) + len(data) - len(body), data)
    return _Decoded(body, None)


def _windows_1252(data: bytes, name: str, not_utf8: UnicodeDecodeError) -> _Decoded:
    try:
        text = data.decode("cp1252")  # strict: 0x81, 0x8d, 0x8f, 0x90, 0x9d are undefined
    except UnicodeDecodeError:
        raise _encoding_error(name, not_utf8, "UTF-8 or Windows-1252") from not_utf8
    if _first_control(data) >= 0:
        raise _not_text_error(name, _first_control(data), data)
    non_ascii = [line for line in text.splitlines() if not line.isascii()]
    utf8_like = _UTF8_SEQUENCE.findall("\n".join(non_ascii).encode("cp1252"))
    if len(utf8_like) * 5 > len(non_ascii):
        raise DataError(f"cannot read {name}: it mixes UTF-8 text with Windows-1252 text "
                        f"(line {_line_of(data, not_utf8.start)} is not UTF-8, other lines "
                        "are); save it as UTF-8 CSV and try again")
    return _Decoded(text.encode("utf-8"),
                    _decoded_step(non_ascii, "Windows-1252 (Latin-1) text, not UTF-8"))


def _decoded_step(non_ascii: list[str], kind: str) -> CleaningStep:
    """The step a summary shows: the encoding, and the characters it decided (é, £ ...)."""
    shown = sorted({char for line in non_ascii[:1000] for char in line if not char.isascii()})
    examples = " ".join(shown[:8]) + (" …" if len(shown) > 8 else "")
    return CleaningStep(None, "decoded", len(non_ascii),
                        f"{kind}: lines with {examples}" if shown else kind)


def _first_control(data: bytes) -> int:
    """Where the first byte that is not text is, or -1."""
    if not data.translate(None, _TEXT_BYTES):  # a fifth of the time of a regex search
        return -1
    found = _NOT_TEXT.search(data)
    return found.start() if found else -1


def _refuse_control_characters(text: str, name: str) -> None:
    if (control := _NOT_TEXT_CHARS.search(text)) is not None:
        raise DataError(f"cannot read {name}: it is not text (character "
                        f"U+{ord(control.group()):04X} on line "
                        f"{text.count(chr(10), 0, control.start()) + 1}); save it as UTF-8 "
                        "CSV and try again")


def _not_text_error(name: str, offset: int, data: bytes) -> DataError:
    return DataError(f"cannot read {name}: it is not text (byte 0x{data[offset]:02x} at offset "
                     f"{offset}); save it as UTF-8 CSV and try again")


def _encoding_error(name: str, error: UnicodeDecodeError, expected: str) -> DataError:
    """The error for bytes that are not text in the `expected` encoding."""
    bad = error.object[error.start:error.start + 1].hex() if error.object else "?"
    return DataError(f"cannot read {name}: it is not {expected} text (byte 0x{bad} at offset "
                     f"{error.start}); save it as UTF-8 CSV and try again")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# --- delimiters and rows of the wrong length ----------------------------------------------

def detect_delimiter(text: str) -> str:
    """Pick the delimiter that splits the header and most of the next lines (a ragged row
    among them is left out later) into the same number of fields, the most fields."""
    lines = [line for line in text.splitlines()[:40] if line.strip()]
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of the head may be cut short
    if not lines:
        return ","
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        agreeing = sum(count == counts[0] for count in counts)
        if counts[0] > best_fields and agreeing >= 0.8 * len(counts):
            best, best_fields = delimiter, counts[0]
    return best


def _dropped_rows_step(name: str, utf8: bytes, table: pa.Table,
                       bad_rows: list[str]) -> CleaningStep:
    """Rows left out for their length, by line number; DataError when there are too many of
    them to be stray rows (a wrong header or delimiter) or one runs on over many lines."""
    fields = table.num_columns
    total = table.num_rows + len(bad_rows)
    for row in bad_rows:
        if row.count("\n") > 1:
            line = _line_of(utf8, max(_find_line(utf8, row.encode("utf-8"), 0), 0))
            raise DataError(f"cannot read {name}: the row on line {line} runs on over "
                            f"{row.count(chr(10)) + 1} lines; is a quote (\") there "
                            "never closed?")
    where = _line_list(_line_numbers(utf8, bad_rows)[:_SHOWN_LINES], len(bad_rows))
    if len(bad_rows) > _MOST_ROWS_DROPPED * total:
        raise DataError(f"cannot read {name}: {len(bad_rows):,} of its {total:,} rows do not "
                        f"have the header's {fields} fields ({where}); check the header row "
                        "and the delimiter")
    return CleaningStep(None, "dropped rows", len(bad_rows),
                        f"more or fewer fields than the header's {fields}: {where}")


def _line_numbers(utf8: bytes, rows: list[str]) -> list[int]:
    """The lines the rows stand on, in file order (pyarrow counts records, not lines, and
    reports them in any order): found from their text."""
    lines = []
    one_line = {row.rstrip("\r").encode("utf-8") for row in rows if "\n" not in row}
    if one_line:
        lines = [number for number, line in enumerate(utf8.split(b"\n"), start=1)
                 if line.rstrip(b"\r") in one_line]
    for row in rows:  # a row with a line break in a quoted cell (the rest is refused above)
        if "\n" in row and (found := _find_line(utf8, row.encode("utf-8"), 0)) >= 0:
            lines.append(_line_of(utf8, found))
    return sorted(lines)


def _find_line(data: bytes, line: bytes, start: int) -> int:
    """Where `line` stands as a whole line of `data`, at or after `start`; -1 if nowhere."""
    while True:
        found = data.find(line, start)
        if found < 0:
            return -1
        end = found + len(line)
        if ((found == 0 or data[found - 1:found] in (b"\n", b"\r"))
                and data[end:end + 1] in (b"", b"\n", b"\r")):
            return found
        start = found + 1


def _line_list(lines: list[int], count: int) -> str:
    shown = [str(line) for line in lines]
    if count > len(shown):
        return f"lines {', '.join(shown)} and {count - len(shown):,} more"
    if len(shown) == 1:
        return f"line {shown[0]}"
    return f"lines {', '.join(shown[:-1])} and {shown[-1]}"
