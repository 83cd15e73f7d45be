"""The one way segbot turns a table into a CSV file: safe to open in Excel or Sheets, with
numbers written as a person writes them.

Every CSV segbot hands out (a segment export, the digest's movers) is made by `csv_bytes`:

- Text is every column that is not numeric or boolean, whatever its cells look like: a
  customer id "-12" is text. Every text cell is quoted, and one that a spreadsheet would run
  as a formula (it starts with = + - @ TAB or CR) gets a leading ' so it opens as text
  (OWASP, "CSV Injection"). Quoting also keeps a ";" inside a cell from starting a new cell
  in spreadsheets that split on ";". Column names get the same treatment.
- Numeric columns are never changed by that rule: -3.5 stays a number.
- A float column whose values are all whole is written as integers (42144, not 42144.0);
  other floats are rounded to `decimals[column]` places (6 by default) and written in their
  shortest form (0.4, not 0.400000). Missing values are empty cells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
DEFAULT_DECIMALS = 6
MEMBER_DISTANCE_DECIMALS = 3
_TEXT = pd.StringDtype("pyarrow")
_EXACT_INTEGERS = 2.0**53  # floats beyond this are not exact integers: keep them as floats
# "needed" quotes every string cell (and the header), never a number or an empty cell.
_WRITE_OPTIONS = pa_csv.WriteOptions(include_header=True, quoting_style="needed")


def csv_bytes(frame: pd.DataFrame, *, decimals: Mapping[str, int] | None = None) -> bytes:
    """Return ``frame`` as UTF-8 CSV (header, no index), safe to open in a spreadsheet."""
    places = decimals or {}
    arrays = [pa.array(_cells(column, places.get(str(name), DEFAULT_DECIMALS)),
                       from_pandas=True) for name, column in frame.items()]
    if len(arrays) == 1:  # a lone missing cell would be a blank line, which readers skip
        arrays = [pc.fill_null(pc.cast(arrays[0], pa.string()), "")]
    names = neutralise_formulas(pd.Series(frame.columns.map(str), dtype=_TEXT))
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=names.tolist()), sink, _WRITE_OPTIONS)
    return sink.getvalue().to_pybytes()


def neutralise_formulas(values: pd.Series) -> pd.Series:
    """``values`` as text, with a leading ' on each cell a spreadsheet would run as a formula."""
    text = values.astype(_TEXT)
    return text.mask(text.str.startswith(FORMULA_STARTS, na=False), "'" + text)


def _cells(column: pd.Series, decimals: int) -> pd.Series:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
        return column
    if pd.api.types.is_float_dtype(column):
        return _readable_floats(column, decimals)
    return neutralise_formulas(column)


def _readable_floats(column: pd.Series, decimals: int) -> pd.Series:
    values = column.to_numpy(dtype=float, na_value=np.nan)
    known = values[~np.isnan(values)]
    if np.all(np.mod(known, 1) == 0) and np.all(np.abs(known) < _EXACT_INTEGERS):
        return column.astype("Int64")
    return column.round(decimals) + 0.0  # + 0.0 turns a rounded -0.0 into 0


def members_csv(members: pd.DataFrame) -> bytes:
    """Customers of a segment or an audience as a CSV; distance to the centre, a ranking aid,
    to 3 places."""
    return csv_bytes(members, decimals={"distance": MEMBER_DISTANCE_DECIMALS})


def file_slug(text: str, limit: int) -> str:
    """`text` as a piece of a file name: lower case, runs of anything else as one "-"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:limit]
