"""Columns read from a database, typed as the file loader types the same rows read from a CSV.

A database knows its column types, a CSV does not; segbot must segment the same customers
the same way from either. So, as `segmentation.loading` does: columns named like ids are
text (an integer id 0042 stays "0042" in a CSV; from an integer column it is "42" either way),
whole numbers are int64 (float64 when some are missing), fractions and NUMERIC are float64,
dates and timestamps are datetime64, text cells that the loader reads as missing ("", NULL,
N/A …) are missing, and a text column holding nothing but numbers is numeric. Types a CSV
has no word for (intervals, arrays, UUIDs, JSON …) arrive as their text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.schema import looks_like_id_name
from segmentation.text_tables import MISSING_MARKERS

_PG_TYPE = b"POSTGRESQL:type"
_SAMPLE = 1_000  # text values tried as numbers before the whole column is
# What PostgreSQL casts a column to when ADBC would hand us something no loader produces.
_PG_CASTS = {"numeric": "float8", "money": "numeric::float8"}


def duplicate_names(names: Sequence[str]) -> list[str]:
    """Column names that occur more than once, in order."""
    return [name for name, count in Counter(names).items() if count > 1]


def postgresql_select_list(query: str, schema: pa.Schema) -> str:
    """`query`, wrapped to cast on the server the columns ADBC would return in a form the
    loader never gives (NUMERIC as text, money in cents, UUIDs as bytes …): NUMERIC and money
    to float8, anything else unusual to text."""
    if duplicate_names(schema.names):  # a wrapper could not name them; read_sql refuses them
        return query
    items, casts = [], 0
    for field in schema:
        name = '"' + field.name.replace('"', '""') + '"'
        cast = _pg_cast(field)
        items.append(f"{name}::{cast} AS {name}" if cast else name)
        casts += bool(cast)
    if not casts:
        return query
    return f"SELECT {', '.join(items)} FROM ({query}\n) AS segbot_source"


def _pg_cast(field: pa.Field) -> str | None:
    pg_type = (field.metadata or {}).get(_PG_TYPE, b"").decode()
    if pg_type in _PG_CASTS:
        return _PG_CASTS[pg_type]
    kind = field.type
    plain = (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
             or pa.types.is_string(kind) or pa.types.is_large_string(kind)
             or pa.types.is_date(kind) or pa.types.is_timestamp(kind) or pa.types.is_null(kind))
    return None if plain and not isinstance(kind, pa.ExtensionType) else "text"


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame a DB-API driver filled (Decimals, dates, mixed objects) as an Arrow table;
    a column Arrow cannot type is kept as text."""
    columns = {}
    for name in frame.columns:
        values = frame[name]
        try:
            columns[str(name)] = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            columns[str(name)] = pa.array([None if _missing(v) else str(v) for v in values],
                                          type=pa.string())
    return pa.table(columns)


def _missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):  # lists, arrays: present
        return False


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """The rows as a DataFrame with the loader's column types (see the module's docstring)."""
    typed = pa.table({name: as_loaded(name, table.column(name))
                      for name in table.column_names})
    return typed.to_pandas(date_as_object=False)


def as_loaded(name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    """One column converted to the type the file loader would give it."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        return as_loaded(name, column.cast(kind.value_type))
    if looks_like_id_name(name.strip()) and not pa.types.is_null(kind):
        return _as_text(column)
    if pa.types.is_integer(kind):
        return _as_int64(column)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return column.cast(pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _text(column)
    if (pa.types.is_boolean(kind) or pa.types.is_date(kind) or pa.types.is_timestamp(kind)
            or pa.types.is_null(kind)):
        return column
    return _text(_as_text(column))


def _as_int64(column: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return column.cast(pa.int64())
    except pa.ArrowInvalid:  # uint64 beyond int64: as a CSV reader would, a float
        return column.cast(pa.float64(), safe=False)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type):
        return column.cast(pa.string())
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.chunked_array([pa.array(
            [None if value is None else str(value) for value in column.to_pylist()],
            type=pa.string())])


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Loader's missing markers become missing; a column of numbers (bar "NA") becomes numeric."""
    column = column.cast(pa.string())
    marked = pc.is_in(column, value_set=pa.array(MISSING_MARKERS, type=pa.string()))
    if pc.any(marked).as_py():
        column = pc.if_else(marked, None, column)
    is_na = pc.equal(column, "NA")
    numbers = pc.if_else(is_na, None, column) if pc.any(is_na).as_py() else column
    if not _numbers(numbers.slice(0, _SAMPLE).drop_null()):  # text: the usual case, decided fast
        return column
    for target in (pa.int64(), pa.float64()):
        if numbers is column or target == pa.float64():  # "NA" gaps: only floats hold them
            try:
                return numbers.cast(target)
            except pa.ArrowInvalid:
                continue
    return column


def _numbers(sample: pa.ChunkedArray) -> bool:
    try:
        sample.cast(pa.float64())
    except pa.ArrowInvalid:
        return False
    return True
