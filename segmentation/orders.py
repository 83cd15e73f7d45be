"""Order histories: recognise an orders export, and read it into typed, counted purchases.

An order export has one row per purchase (or per line of one): a customer id that repeats,
a date, usually an amount, and maybe a quantity, an order id, a product category or a
channel. `detect_order_history` finds those roles from column names and values with no
configuration; `parse_orders` turns the export into typed columns and says what it set aside.
`customer_features` (in `segmentation.order_features`) turns the result into one row per
customer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from segmentation.errors import ConfigError, DataError
from segmentation.order_features import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER,
    DATE,
    FEATURE_LABELS,
    ORDER,
    QUANTITY,
    customer_features,
    feature_label,
)
from segmentation.order_roles import Role, name_rank
from segmentation.order_values import (
    as_categories,
    guess_date_formats,
    guess_decimal,
    is_text,
    looks_like_money,
    parse_dates,
    parse_numbers,
    sample_values,
    settle_date_format,
)
from segmentation.result import CleaningStep

__all__ = ["CUSTOMER", "DATE", "AMOUNT", "QUANTITY", "ORDER", "CATEGORY", "CHANNEL",
           "FEATURE_LABELS", "MIN_REPEAT_SHARE", "OrderColumns", "customer_features",
           "declared_order_columns", "detect_order_history", "feature_label", "parse_orders",
           "settle_columns"]

# A customer column is an order history's when at least this share of its rows repeat a
# customer seen on an earlier row; a customer table with a few duplicated ids is not one.
MIN_REPEAT_SHARE = 0.02
REPEAT_SAMPLE_ROWS = 200_000
MAX_CATEGORIES = 200
MAX_CHANNELS = 50
_MAX_MISSING_IDS = 0.5
_UNREADABLE_LIMIT = 0.5  # of a column's values: more unreadable than this is a wrong setting
_DECLARED_DATE_SHARE = 1 - _UNREADABLE_LIMIT  # a declared date column's format may miss more


@dataclass(frozen=True)
class OrderColumns:
    """Which column of an order export plays which role; None where the export has none.

    ``price`` is a unit price: with a quantity and no amount column, a row's value is
    price x quantity. ``date_format`` (strptime, date part) and ``decimal`` ("," or ".")
    say how text dates and amounts are written; None lets `parse_orders` detect them.
    """

    customer: str
    date: str
    amount: str | None = None
    price: str | None = None
    quantity: str | None = None
    order: str | None = None
    category: str | None = None
    channel: str | None = None
    date_format: str | None = None
    decimal: str | None = None

    def roles(self) -> dict[str, str]:
        """Role -> column name, for the roles this export has, in `Role` order."""
        return {role.value: column for role in Role
                if (column := getattr(self, role.value)) is not None}

    def describe(self) -> str:
        """One line for a refresh summary: 'customer: client_no, date: Datum (%d.%m.%Y), …'."""
        parts = []
        for role, column in self.roles().items():
            hint = self.date_format if role == "date" and self.date_format else None
            parts.append(f"{role}: {column}" + (f" ({hint})" if hint else ""))
        return ", ".join(parts)


# --- detection -------------------------------------------------------------------------------

def detect_order_history(frame: pd.DataFrame) -> OrderColumns | None:
    """The roles of an order export's columns, or None for a one-row-per-customer table.

    Orders need a column named like a customer id whose values repeat (at least
    `MIN_REPEAT_SHARE` of rows are a customer seen before) and a column of dates; the other
    roles are found by name and checked against the values. Raises DataError when the date
    column reads both day-first and month-first (see `settle_date_format`).
    """
    if len(frame) < 2:
        return None
    frame = frame.set_axis([str(column) for column in frame.columns], axis=1)
    customer = _pick(frame, Role.CUSTOMER, set(), _usable_id)
    if customer is None or not _repeats(frame[customer]):
        return None
    date = _pick(frame, Role.DATE, {customer}, _dates)
    if date is None:
        return None
    return _with_other_roles(frame, {Role.CUSTOMER: customer, Role.DATE: date})


def declared_order_columns(frame: pd.DataFrame, given: Mapping[Role, str], *,
                           date_format: str | None = None,
                           decimal: str | None = None) -> OrderColumns:
    """The roles a schema file gives a table it says is an order history; the roles it does
    not give are detected among the other columns as `detect_order_history` does them.

    ConfigError names a given column the table does not have, or the setting to add when no
    customer or date column is given or found.
    """
    frame = frame.set_axis([str(column) for column in frame.columns], axis=1)
    missing = [f"{role.value} = {column!r}" for role, column in given.items()
               if column not in frame.columns]
    if missing:
        raise ConfigError(f"the schema file names order columns the table does not have: "
                          f"{', '.join(missing)} (it has {', '.join(map(str, frame.columns))})")
    known = dict(given)
    taken = set(known.values())
    for role, fits in ((Role.CUSTOMER, _usable_id), (Role.DATE, _dates)):
        if role not in known and (column := _pick(frame, role, taken, fits)) is not None:
            known[role] = column
    unfound = [role.value for role in (Role.CUSTOMER, Role.DATE) if role not in known]
    if unfound:
        raise ConfigError(f"the table is an order history (schema file), but no column is "
                          f"named like its {' or '.join(unfound)}: say which in the schema "
                          f"file, e.g. {unfound[0]} = \"…\" (columns: "
                          f"{', '.join(map(str, frame.columns[:40]))})")
    columns = _with_other_roles(frame, known, date_format)
    return replace(columns, decimal=decimal or columns.decimal)


def _with_other_roles(frame: pd.DataFrame, known: Mapping[Role, str],
                      date_format: str | None = None) -> OrderColumns:
    """OrderColumns with the ``known`` roles, the others found by name and values."""
    taken = set(known.values())

    def role(name: Role, fits: Callable[[pd.Series], bool]) -> str | None:
        return known[name] if name in known else _pick(frame, name, taken, fits)

    customer, date = known[Role.CUSTOMER], known[Role.DATE]
    date_format = date_format or settle_date_format(frame[date], date)
    order = role(Role.ORDER, _usable_id)
    amount = role(Role.AMOUNT, _numbers)
    price = None if amount else role(Role.PRICE, _numbers)
    quantity = role(Role.QUANTITY, _numbers)
    if price and not quantity and Role.PRICE not in known:
        amount, price = price, None  # a price with no quantity is what each row cost
    category = role(Role.CATEGORY, _few(MAX_CATEGORIES))
    channel = role(Role.CHANNEL, _few(MAX_CHANNELS))
    return OrderColumns(customer=customer, date=date, amount=amount, price=price,
                        quantity=quantity, order=order, category=category, channel=channel,
                        date_format=date_format or None,
                        decimal=_decimal_hint(frame, amount or price))


def _pick(frame: pd.DataFrame, role: Role, taken: set[str],
          fits: Callable[[pd.Series], bool]) -> str | None:
    """The best-named column for a role (first in the table on a tie) whose values fit it.

    The column chosen joins ``taken``, so no column plays two roles.
    """
    ranked = sorted((rank, position, column) for position, column in enumerate(frame.columns)
                    if column not in taken and (rank := name_rank(role, column)) is not None)
    column = next((column for _, _, column in ranked if fits(frame[column])), None)
    if column is not None:
        taken.add(column)
    return column


def _usable_id(series: pd.Series) -> bool:
    """Ids are text or whole numbers, mostly present, and not dates."""
    if series.isna().mean() > _MAX_MISSING_IDS or _dates(series):
        return False
    if pd.api.types.is_float_dtype(series.dtype):
        return bool((sample_values(series) % 1 == 0).all())
    return is_text(series) or pd.api.types.is_integer_dtype(series.dtype)


def _dates(series: pd.Series) -> bool:
    """Dates, typed or as text; whole numbers (YYYYMMDD) only in a column named like a date."""
    if pd.api.types.is_integer_dtype(series.dtype) and name_rank(Role.DATE, str(series.name)) != 0:
        return False
    return bool(guess_date_formats(series))


def _repeats(series: pd.Series) -> bool:
    """Whether at least `MIN_REPEAT_SHARE` of the rows repeat a customer seen before.

    A sample decides when it can: a part of a column repeats less than the whole of it, so
    a sample that repeats enough says yes, and one that never repeats (a customer table's
    unique ids) says no. Only a sample in between costs a count of the whole column (half
    a second for 10M order lines).
    """
    sample = sample_values(series, REPEAT_SAMPLE_ROWS)
    if sample.empty:
        return False
    share = 1 - sample.nunique() / len(sample)
    if share >= MIN_REPEAT_SHARE or share == 0:
        return share > 0
    present = int(series.notna().sum())
    return 1 - series.nunique() / present >= MIN_REPEAT_SHARE


def _numbers(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series.dtype):
        return False
    if pd.api.types.is_numeric_dtype(series.dtype):
        return True
    return is_text(series) and looks_like_money(series)


def _few(limit: int) -> Callable[[pd.Series], bool]:
    def fits(series: pd.Series) -> bool:
        if pd.api.types.is_float_dtype(series.dtype) or guess_date_formats(series):
            return False
        return 2 <= sample_values(series).nunique() <= limit and series.nunique() <= limit
    return fits


def _decimal_hint(frame: pd.DataFrame, column: str | None) -> str | None:
    if column is None or not is_text(frame[column]):
        return None
    return guess_decimal(frame[column], column)


# --- parsing ---------------------------------------------------------------------------------

def parse_orders(frame: pd.DataFrame, columns: OrderColumns
                 ) -> tuple[pd.DataFrame, tuple[CleaningStep, ...]]:
    """Typed purchases, one row per input row kept, and the steps that set rows apart.

    Columns: customer_id (categorical of text ids), date (datetime64[ns]), and where the
    export has them amount (float64; negative = a return), quantity (float64), order_id,
    category and channel (categoricals). Rows without a customer, a readable date or a
    readable amount are dropped and counted; returns and zero amounts are kept, counted and
    reported: `customer_features` keeps returns out of spend and purchases.
    """
    _check_columns(frame, columns)
    columns = settle_columns(frame, columns)
    steps: list[CleaningStep] = []
    parsed: dict[str, pd.Series] = {CUSTOMER: as_categories(frame[columns.customer])}
    parsed[DATE] = _read_dates(frame, columns)
    value = _read_value(frame, columns)
    if value is not None:
        parsed[AMOUNT] = value
    if columns.quantity:
        parsed[QUANTITY] = parse_numbers(frame[columns.quantity], columns.decimal,
                                         columns.quantity)
    for role, column in ((ORDER, columns.order), (CATEGORY, columns.category),
                         (CHANNEL, columns.channel)):
        if column:
            parsed[role] = as_categories(frame[column], text=role != ORDER)
    keep = _kept_rows(frame, columns, parsed, steps)
    orders = pd.DataFrame(parsed, copy=False)
    if not keep.all():
        orders = orders[keep]
        orders[CUSTOMER] = orders[CUSTOMER].cat.remove_unused_categories()
    if orders.empty:
        raise DataError("no order row has a customer, a date and an amount: nothing to segment")
    if AMOUNT in orders:
        steps.extend(_amount_steps(orders, columns.amount or columns.price or AMOUNT))
    return orders.reset_index(drop=True), tuple(steps)


def _check_columns(frame: pd.DataFrame, columns: OrderColumns) -> None:
    missing = [f"{role} = {column!r}" for role, column in columns.roles().items()
               if column not in frame.columns]
    if missing:
        raise ConfigError(f"the order columns {', '.join(missing)} are not in the table "
                          f"(it has {', '.join(map(str, frame.columns))})")
    if columns.decimal not in (None, ",", "."):
        raise ConfigError(f'decimal must be "," or ".", not {columns.decimal!r}')


def settle_columns(frame: pd.DataFrame, columns: OrderColumns) -> OrderColumns:
    """The columns with how their dates and amounts are written, detected where not given."""
    date_format = columns.date_format or settle_date_format(
        frame[columns.date], columns.date, _DECLARED_DATE_SHARE)
    return replace(columns, date_format=date_format,
                   decimal=columns.decimal or _decimal_hint(frame, columns.amount or columns.price))


def _read_dates(frame: pd.DataFrame, columns: OrderColumns) -> pd.Series:
    raw = frame[columns.date]
    dates = parse_dates(raw, columns.date_format or "")
    _refuse_mostly_unreadable(raw, dates, columns.date,
                              'dates (set date_format, e.g. date_format = "%d/%m/%Y")')
    return dates


def _read_value(frame: pd.DataFrame, columns: OrderColumns) -> pd.Series | None:
    """What each row was worth: the amount, or unit price x quantity."""
    column = columns.amount or columns.price
    if column is None:
        return None
    value = parse_numbers(frame[column], columns.decimal, column)
    _refuse_mostly_unreadable(frame[column], value, column, 'numbers (set decimal = "," or ".")')
    if columns.amount is None and columns.quantity:
        quantity = parse_numbers(frame[columns.quantity], columns.decimal, columns.quantity)
        value = value * quantity
    return value.rename(AMOUNT)


def _refuse_mostly_unreadable(raw: pd.Series, parsed: pd.Series, column: str, what: str) -> None:
    present = raw.notna()
    unreadable = present & parsed.isna()
    if present.any() and unreadable.sum() > _UNREADABLE_LIMIT * present.sum():
        example = raw[unreadable].iloc[0]
        raise DataError(f"column {column!r} does not hold readable {what}: "
                        f"{int(unreadable.sum()):,} of {int(present.sum()):,} values, "
                        f"e.g. {example!r}")


def _kept_rows(frame: pd.DataFrame, columns: OrderColumns, parsed: dict[str, pd.Series],
               steps: list[CleaningStep]) -> np.ndarray:
    keep = np.ones(len(frame), dtype=bool)
    checks: list[tuple[str | None, str, str]] = [
        (columns.customer, CUSTOMER, "no customer id"),
        (columns.date, DATE, "no date"),
        (columns.amount or columns.price, AMOUNT, "no amount"),
    ]
    for column, role, reason in checks:
        if column is None or role not in parsed:
            continue
        unusable = parsed[role].isna().to_numpy() & keep
        blank = unusable.copy()
        blank[unusable] = _blank(frame[column][unusable])
        for count, why in ((blank.sum(), reason),
                           ((unusable & ~blank).sum(), _unreadable_reason(role, columns))):
            if count:
                steps.append(CleaningStep(column, "dropped rows", int(count), why))
        keep &= ~unusable
    return keep


def _blank(values: pd.Series) -> np.ndarray:
    return (values.isna() | (values.astype(str).str.strip() == "")).to_numpy(dtype=bool)


def _unreadable_reason(role: str, columns: OrderColumns) -> str:
    if role == DATE:
        return f"not a date{f' in the format {columns.date_format}' if columns.date_format else ''}"
    return "not a number" if role == AMOUNT else "unreadable customer id"


def _amount_steps(orders: pd.DataFrame, column: str) -> Iterable[CleaningStep]:
    amount = orders[AMOUNT].to_numpy()
    returns, zeros = amount < 0, amount == 0
    if returns.any():
        yield CleaningStep(column, "set apart", int(returns.sum()),
                           "negative amounts are returns: kept out of spend and purchases, "
                           "counted per customer as returns")
    if zeros.any():
        yield CleaningStep(column, "counted", int(zeros.sum()),
                           "zero amounts (free items or vouchers): purchases worth nothing")
    bought = np.bincount(orders[CUSTOMER].cat.codes.to_numpy()[~returns],
                         minlength=len(orders[CUSTOMER].cat.categories))
    only_returns = int((bought == 0).sum())
    if only_returns:
        yield CleaningStep(column, "left out customers", only_returns,
                           "customers with returns but no purchase in the data: no features")
