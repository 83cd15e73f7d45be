"""How order exports write their values: dates in several layouts, money as text, ids as codes.

Every parser works on the distinct values of a column and maps the result back by code, so
a 10M-row export with a few thousand distinct dates parses a few thousand strings.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from segmentation.errors import DataError

SAMPLE_ROWS = 10_000
MIN_PARSED_SHARE = 0.98  # of a sample, for a column to count as dates or as money

ISO_FORMAT = "%Y-%m-%d"
# Year first is read year-month-day only; year last is day-month or month-day.
_NUMERIC_DATE = re.compile(
    r"^(?P<a>\d{1,4})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})"
    r"(?P<time>[ T]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp][Mm])?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
_COMPACT_DATE = re.compile(r"^(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$")
_NAMED_MONTH_FORMATS = ("%d %b %Y", "%d-%b-%Y", "%b %d, %Y", "%d %B %Y", "%B %d, %Y", "%d-%b-%y")
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S", " %H:%M:%S.%f", "T%H:%M", "T%H:%M:%S",
                  "T%H:%M:%S.%f", " %I:%M %p", " %I:%M:%S %p")
_TZ_SUFFIX = r"(?:Z|[+-]\d{2}:?\d{2})$"

_CURRENCY = r"(?:[€$£¥₹₽₩₺¢]|[A-Za-z]{1,3}\.?)"
_MONEY = re.compile(
    r"^\s*(?P<lead>[-+(]?)\s*" + _CURRENCY + r"?\s*(?P<sign>[-+]?)\s*"
    r"(?P<num>\d(?:[\d.,'’\s\u00a0\u202f]*\d)?)\s*" + _CURRENCY + r"?\s*(?P<trail>[-)]?)\s*$"
)
_GROUPING_SPACES = r"[\s'’\u00a0\u202f]"
_MIXED_DECIMAL_TOLERANCE = 0.02  # of voting values that may disagree with the majority


def sample_values(series: pd.Series, size: int = SAMPLE_ROWS) -> pd.Series:
    """Up to ``size`` non-missing values: the first half in row order, the rest spread evenly."""
    values = series.dropna()
    if len(values) <= size:
        return values
    head = values.iloc[: size // 2]
    step = max(len(values) // (size - len(head)), 1)
    return pd.concat([head, values.iloc[size // 2 :: step]]).iloc[:size]


def is_text(series: pd.Series) -> bool:
    """Whether a column holds strings (pandas' text dtypes, or objects that are all str)."""
    if pd.api.types.is_string_dtype(series.dtype) and not pd.api.types.is_object_dtype(
            series.dtype):
        return True
    if not pd.api.types.is_object_dtype(series.dtype):
        return False
    head = series.dropna().head(100)
    return not head.empty and bool(head.map(lambda value: isinstance(value, str)).all())


# --- dates -----------------------------------------------------------------------------------

def guess_date_formats(series: pd.Series, min_share: float = MIN_PARSED_SHARE
                       ) -> tuple[str, ...]:
    """Date formats a column's values fit: () not dates, one settled, two day/month-ambiguous.

    A format fits when it reads ``min_share`` of the sampled values (blanks left out). A
    column that is already typed (datetime64, date objects) fits ``("",)``: nothing to guess.
    Two formats come back day-first first, when every sampled value reads both ways.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return ("",)
    if pd.api.types.is_integer_dtype(series.dtype):
        sample = sample_values(series).astype(str)
        return ("%Y%m%d",) if _share(sample.str.match(_COMPACT_DATE), min_share) else ()
    if not is_text(series):
        head = series.dropna().head(100)
        dated = head.map(lambda value: isinstance(value, dt.date))
        return ("",) if not head.empty and bool(dated.all()) else ()
    sample = sample_values(series).astype(str).str.strip()
    sample = sample[sample != ""]
    if sample.empty:
        return ()
    if _share(sample.str.match(_COMPACT_DATE), min_share):
        return ("%Y%m%d",)
    numeric = _numeric_date_formats(sample, min_share)
    if numeric:
        return numeric
    for fmt in _NAMED_MONTH_FORMATS:
        if _share(pd.to_datetime(sample, format=fmt, errors="coerce").notna(), min_share):
            return (fmt,)
    return ()


def _numeric_date_formats(sample: pd.Series, min_share: float) -> tuple[str, ...]:
    parts = sample.str.extract(_NUMERIC_DATE)
    matched = parts["a"].notna()
    if not _share(matched, min_share):
        return ()
    parts = parts[matched]
    sep = parts["sep"].mode().iloc[0]
    parts = parts[parts["sep"] == sep]
    a, b = parts["a"].astype(int), parts["b"].astype(int)
    year_first = parts["a"].str.len() == 4
    if _share(year_first, min_share, len(sample)):
        c = parts["c"].astype(int)
        ok = (b >= 1) & (b <= 12) & (c >= 1) & (c <= 31) & (parts["c"].str.len() <= 2)
        return (f"%Y{sep}%m{sep}%d",) if _share(ok & year_first, min_share, len(sample)) else ()
    year = "%Y" if (parts["c"].str.len() == 4).all() else "%y"
    if year == "%y" and not (parts["c"].str.len() == 2).all():
        return ()
    day_first = bool(((a >= 1) & (a <= 31) & (b >= 1) & (b <= 12)).all())
    month_first = bool(((a >= 1) & (a <= 12) & (b >= 1) & (b <= 31)).all())
    day_fmt, month_fmt = f"%d{sep}%m{sep}{year}", f"%m{sep}%d{sep}{year}"
    if sep == "." and day_first:
        return (day_fmt,)  # dotted dates are day-first wherever they are written
    return tuple(fmt for fmt, fits in ((day_fmt, day_first), (month_fmt, month_first)) if fits)


def _share(flags: pd.Series, min_share: float = MIN_PARSED_SHARE,
           total: int | None = None) -> bool:
    total = len(flags) if total is None else total
    return total > 0 and float(flags.sum()) / total >= min_share


def settle_date_format(series: pd.Series, column: str,
                       min_share: float = MIN_PARSED_SHARE) -> str | None:
    """The one date format a column is written in; None if it holds no dates.

    A column whose every value reads both day-first and month-first is settled only when one
    reading keeps the rows in date order (exports are usually sorted) and the other does not;
    otherwise it is refused with a message naming the ``date_format`` schema setting.
    """
    formats = guess_date_formats(series, min_share)
    if len(formats) < 2:
        return formats[0] if formats else None
    sorted_readings = [fmt for fmt in formats if _in_date_order(parse_dates(series, fmt))]
    if len(sorted_readings) == 1:
        return sorted_readings[0]
    example = str(sample_values(series, 1).iloc[0]).strip()
    day_fmt, month_fmt = formats
    raise DataError(
        f"cannot tell whether the dates in column {column!r} are day-first or month-first: "
        f"every value (e.g. {example!r}) reads both ways. Say which in the schema file: "
        f'date_format = "{day_fmt}" (day first) or date_format = "{month_fmt}" (month first)'
    )


def _in_date_order(dates: pd.Series) -> bool:
    dates = dates.dropna()
    return len(dates) > 1 and (dates.is_monotonic_increasing or dates.is_monotonic_decreasing)


def parse_dates(series: pd.Series, date_format: str) -> pd.Series:
    """Dates as datetime64[ns]; NaT where a value is missing or not a date in ``date_format``.

    ``date_format`` is a strptime format of the date part; a time of day after it is read
    too (24-hour or AM/PM, with or without seconds). ISO dates may carry a UTC offset, which
    is applied. Typed columns (datetime64, date objects) and YYYYMMDD integers need no format.
    """
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        dates = pd.Series(series, copy=False)
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
        return dates.astype("datetime64[ns]")
    if pd.api.types.is_integer_dtype(series.dtype):
        return _compact_integer_dates(series)
    if not is_text(series):
        return pd.to_datetime(series, errors="coerce").astype("datetime64[ns]")
    codes, uniques = pd.factorize(series)
    texts = pd.Series(uniques.astype(str), dtype=object).str.strip()
    parsed = _parse_text_dates(texts, date_format).to_numpy(dtype="datetime64[ns]")
    values = np.where(codes >= 0, parsed[np.maximum(codes, 0)], np.datetime64("NaT", "ns"))
    return pd.Series(values, index=series.index, name=series.name, copy=False)


def _parse_text_dates(texts: pd.Series, date_format: str) -> pd.Series:
    if date_format.startswith(ISO_FORMAT):
        utc = bool(texts.str.contains(_TZ_SUFFIX).any())
        parsed = pd.to_datetime(texts, format="ISO8601", errors="coerce", utc=utc)
        return parsed.dt.tz_localize(None) if utc else parsed
    parsed = pd.Series(pd.NaT, index=texts.index, dtype="datetime64[ns]")
    for suffix in _TIME_SUFFIXES:
        missing = parsed.isna()
        if not missing.any():
            break
        attempt = pd.to_datetime(texts[missing], format=date_format + suffix, errors="coerce")
        parsed[missing] = attempt.astype("datetime64[ns]")
    return parsed


def _compact_integer_dates(series: pd.Series) -> pd.Series:
    numbers = series.to_numpy(dtype="float64", na_value=np.nan)
    parts = pd.DataFrame({"year": numbers // 10_000, "month": numbers // 100 % 100,
                          "day": numbers % 100})
    dates = pd.to_datetime(parts, errors="coerce").astype("datetime64[ns]")
    return pd.Series(dates.to_numpy(), index=series.index, name=series.name, copy=False)


# --- money and numbers -----------------------------------------------------------------------

def looks_like_money(series: pd.Series) -> bool:
    """Whether a text column holds numbers, perhaps with currency signs and separators."""
    sample = sample_values(series).astype(str)
    return not sample.empty and _share(sample.str.match(_MONEY))


def guess_decimal(series: pd.Series, column: str) -> str:
    """The decimal separator of numbers written as text: "," (1.234,56) or "." (1,234.56).

    A separator with exactly three digits after it and no other separator in the value
    ("1,234") says nothing; such values alone read as thousands, the "." default.
    """
    digits = _money_parts(sample_values(series).astype(str))["num"].dropna()
    digits = digits.str.replace(_GROUPING_SPACES, "", regex=True)
    commas, dots = digits.str.count(","), digits.str.count(r"\.")
    last_comma, last_dot = digits.str.rfind(","), digits.str.rfind(".")
    tail = digits.str.len() - np.maximum(last_comma, last_dot) - 1
    comma_votes = ((commas > 0) & (dots > 0) & (last_comma > last_dot)) | (
        (dots > 1) & (commas <= 1)) | ((commas == 1) & (dots == 0) & (tail != 3))
    dot_votes = ((commas > 0) & (dots > 0) & (last_dot > last_comma)) | (
        (commas > 1) & (dots <= 1)) | ((dots == 1) & (commas == 0) & (tail != 3))
    comma, dot = int(comma_votes.sum()), int(dot_votes.sum())
    if min(comma, dot) > _MIXED_DECIMAL_TOLERANCE * (comma + dot):
        raise DataError(
            f"column {column!r} writes numbers both with a decimal comma and a decimal point "
            f'(e.g. {_first(digits[comma_votes])!r} and {_first(digits[dot_votes])!r}): say '
            'which in the schema file: decimal = "," or decimal = "."'
        )
    return "," if comma > dot else "."


def _first(values: pd.Series) -> str:
    return str(values.iloc[0]) if len(values) else ""


def parse_numbers(series: pd.Series, decimal: str | None, column: str) -> pd.Series:
    """Numbers as float64; text may carry currency signs, grouping and a decimal comma.

    Accounting negatives "(12.50)" and trailing minus signs "12.50-" read as negative.
    NaN where a value is missing or not a number.
    """
    if pd.api.types.is_bool_dtype(series.dtype) or not (
            is_text(series) or pd.api.types.is_object_dtype(series.dtype)):
        return pd.to_numeric(series, errors="coerce").astype("float64")
    decimal = decimal or guess_decimal(series, column)
    codes, uniques = pd.factorize(series)
    numbers = _money_values(pd.Series(uniques.astype(str), dtype=object), decimal)
    values = np.where(codes >= 0, numbers[np.maximum(codes, 0)], np.nan)
    return pd.Series(values, index=series.index, name=series.name, copy=False)


def _money_parts(texts: pd.Series) -> pd.DataFrame:
    return texts.str.extract(_MONEY)


def _money_values(texts: pd.Series, decimal: str) -> np.ndarray:
    parts = _money_parts(texts)
    digits = parts["num"].str.replace(_GROUPING_SPACES, "", regex=True)
    digits = digits.str.replace("." if decimal == "," else ",", "", regex=False)
    if decimal == ",":
        digits = digits.str.replace(",", ".", regex=False)
    values = pd.to_numeric(digits, errors="coerce").to_numpy(dtype="float64")
    negative = (parts["lead"].isin(["-", "("]) | (parts["sign"] == "-")
                | (parts["trail"] == "-")).to_numpy(dtype=bool)
    return np.where(negative, -values, values)


# --- ids and labels --------------------------------------------------------------------------

_PLAIN_INTEGER = r"^(0|[1-9][0-9]{0,17})$"  # reads back as the same text after int()


def as_categories(series: pd.Series, *, text: bool = True) -> pd.Series:
    """A categorical column: each distinct value once, codes per row; missing stays missing.

    With ``text`` the categories are strings, trimmed, whole-number floats without ".0"
    (ids read as floats because of a gap), and a blank value counts as missing. Without it,
    text that is all plain whole numbers becomes integer categories: hashing 8M distinct
    order numbers as int64 is three times faster than as strings, and writing them back as
    text would cost more than both.
    """
    integers = _plain_integers(series)
    if integers is not None:
        codes, uniques = _factorize_integers(integers)
        categories = _integer_text(uniques) if text else pd.Index(uniques)
    else:
        codes, found = pd.factorize(series)
        categories = pd.Index(found)
        if text or is_text(series):
            labels = _id_text(pd.Series(found, dtype=found.dtype))
            if not labels.equals(pd.Series(found, dtype=found.dtype).astype("str")):
                relabel, categories = pd.factorize(labels)  # trimming made some ids one
                codes = np.where(codes >= 0, relabel[np.maximum(codes, 0)], -1)
            else:
                categories = pd.Index(labels)
    values = pd.Categorical.from_codes(codes, categories=categories)
    return pd.Series(values, index=series.index, name=series.name, copy=False)


def _plain_integers(series: pd.Series) -> np.ndarray | None:
    """Text ids that are all plain whole numbers, as int64 with -1 where missing; else None."""
    if not is_text(series) or series.isna().all():
        return None
    values = pa.array(series.array) if isinstance(series.dtype, pd.StringDtype) else pa.array(
        series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    for part in (values.slice(0, 1_000), values):  # most text ids fail in the first few
        if not pc.all(pc.match_substring_regex(part, _PLAIN_INTEGER)).as_py():
            return None
    integers = pc.cast(values, pa.int64())
    return np.asarray(pc.fill_null(integers, -1) if integers.null_count else integers)


def _factorize_integers(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct values of non-negative integers, -1 marking a missing value."""
    codes, uniques = pd.factorize(values)
    missing = np.flatnonzero(uniques == -1)
    if missing.size:
        gap = int(missing[0])
        codes = np.where(codes == gap, -1, codes - (codes > gap))
        uniques = np.delete(uniques, gap)
    return codes, uniques


def _integer_text(values: np.ndarray | pd.Index) -> pd.Index:
    return pd.Index(pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string()).to_pandas())


def _id_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_integer_dtype(values.dtype):
        return pd.Series(_integer_text(values.to_numpy()), index=values.index, copy=False)
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.notna() & (values % 1 == 0)
        text = values.astype(object).astype(str)
        text[whole] = values[whole].astype("int64").astype(str)
        values = text
    text = values.astype(str).str.strip()
    return text.where(text != "", None).astype("str")
