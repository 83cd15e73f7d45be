"""Per-customer features of an order history: recency, frequency, value, rhythm and trend.

Everything is computed on integer codes with sorts and ``np.bincount``: no Python runs per
row or per customer, so 10M order rows aggregate in seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from segmentation.errors import DataError

if TYPE_CHECKING:  # orders.py imports this module; the type is only for the signature
    from segmentation.orders import OrderColumns

# Columns of a parsed order frame (see `segmentation.orders.parse_orders`).
CUSTOMER, DATE, AMOUNT, QUANTITY = "customer_id", "date", "amount", "quantity"
ORDER, CATEGORY, CHANNEL = "order_id", "category", "channel"

TREND_WINDOW_DAYS = 90
MAX_SHARE_COLUMNS = 5  # per category or channel column: the top values by spend
SHARE_PREFIXES = {CATEGORY: "category_share", CHANNEL: "channel_share"}

FEATURE_LABELS: dict[str, str] = {
    CUSTOMER: "Customer",
    "first_purchase": "First purchase",
    "last_purchase": "Last purchase",
    "recency_days": "Days since last purchase",
    "frequency": "Purchases",
    "monetary_total": "Total spend",
    "monetary_avg": "Average order",
    "tenure_days": "Days since first purchase",
    "median_interval_days": "Median days between purchases",
    "one_time_buyer": "Bought once only",
    "active_months": "Months with a purchase",
    "trend": "Trend, recent vs before",
    "returns_count": "Returns",
    "returns_value": "Value returned",
    "repeat_purchases": "Purchases after the first day",
    "repeat_value": "Value bought after the first day",
}
_SHARE_LABELS = {"category_share": "Share of spend on {}", "channel_share": "Share of spend via {}"}


def feature_label(column: str) -> str:
    """The label a marketer reads for a feature column, share columns included."""
    prefix, _, value = column.partition(":")
    if value and prefix in _SHARE_LABELS:
        return _SHARE_LABELS[prefix].format(value)
    return FEATURE_LABELS.get(column, column.replace("_", " ").capitalize())


def trend_window_days(first_day: pd.Timestamp, as_of: pd.Timestamp) -> int:
    """Length of each trend window: 90 days, or half the history when it is shorter."""
    history = (as_of.normalize() - first_day.normalize()).days + 1
    return max(min(TREND_WINDOW_DAYS, history // 2), 1)


def customer_features(orders: pd.DataFrame, columns: OrderColumns | None = None,
                      as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per customer who bought on or before ``as_of`` (default: the latest date).

    ``orders`` is `parse_orders`' frame; rows after ``as_of`` are ignored, so a cut-off
    gives the features as they were then. Days are calendar days (times of day ignored).
    A purchase occasion is one order id (its earliest date) when the export has order ids,
    else one customer-day; returns (negative amounts) are never occasions. Columns:

    - customer_id (text); first_purchase, last_purchase (dates, for display)
    - recency_days: days from the last purchase to as_of; tenure_days: from the first
    - frequency: purchase occasions; one_time_buyer: frequency == 1
    - monetary_total: value of purchases, returns not deducted; monetary_avg: per occasion
    - median_interval_days: median days between consecutive occasions. NaN exactly for
      one-time buyers, who have no interval. The engine must not impute it (0 would say
      "buys daily", the median "buys like everyone"): cluster on the other features, where
      frequency already sets one-time buyers apart, and show the interval for repeat buyers
      only, with one_time_buyer as the explicit flag.
    - active_months: calendar months with a purchase
    - trend: (recent - previous) / (recent + previous), in [-1, 1], where recent is the
      value bought in the W days up to as_of and previous the value in the W days before
      those; W = `trend_window_days` (90, or half the history in the data when shorter).
      +1: bought only lately; -1: only before; 0: steady, or nothing in either window.
      Without amounts it compares purchase occasions.
    - returns_count (return rows), returns_value (their value, positive)
    - category_share:<value>, channel_share:<value>: share of the customer's spend on each of
      the top `MAX_SHARE_COLUMNS` values by spend (0 when the customer spent nothing)
    - repeat_purchases: occasions on later days than the first purchase; repeat_value: their
      value (the spend model's input: the mean value of repeat purchases). Without order ids
      repeat_purchases is frequency - 1; with them, orders placed on the first day count
      with the first purchase.

    Money columns, trend-by-value, returns and shares need an amount column. ``columns``
    (the `OrderColumns` read) may be left out: the frame's own columns say which roles exist.
    """
    codes, day, valid = _rows(orders)
    if not valid.any():
        raise DataError("no order row has both a customer and a date: no customer features")
    as_of_day = int(day[valid].max()) if as_of is None else _day_number(as_of)
    valid &= day <= as_of_day
    amount = orders[AMOUNT].to_numpy(dtype="float64") if AMOUNT in orders else None
    bought = valid if amount is None else valid & (amount >= 0)
    if not bought.any():
        raise DataError(f"no purchase on or before {pd.Timestamp(as_of_day, unit='D'):%Y-%m-%d}"
                        ": no customer features")
    count = len(orders[CUSTOMER].cat.categories)
    order = orders[ORDER].cat.codes.to_numpy() if ORDER in orders else None
    occasion_customer, occasion_day = _occasions(
        codes[bought], day[bought], None if order is None else order[bought])
    columns_out = _rhythm(occasion_customer, occasion_day, as_of_day, count)
    first = columns_out["first"]
    columns_out["repeat_purchases"] = np.bincount(
        occasion_customer[occasion_day > first[occasion_customer]], minlength=count)
    first_day = pd.Timestamp(np.datetime64(int(day[valid].min()), "D"))
    window = trend_window_days(first_day, pd.Timestamp(np.datetime64(as_of_day, "D")))
    if amount is None:
        columns_out["trend"] = _trend(occasion_customer, as_of_day - occasion_day, None,
                                      window, count)
    else:
        columns_out |= _money(codes, amount, valid, bought, columns_out["frequency"], count)
        later = bought & (day > first[np.maximum(codes, 0)])
        columns_out["repeat_value"] = np.bincount(codes[later], weights=amount[later],
                                                  minlength=count)
        columns_out["trend"] = _trend(codes[bought], as_of_day - day[bought], amount[bought],
                                      window, count)
        spend = np.where(bought, amount, 0.0)
        safe_codes = np.maximum(codes, 0)  # a row without a customer spends 0 in spend
        for role, prefix in SHARE_PREFIXES.items():
            if role in orders:
                columns_out |= _shares(orders[role], safe_codes, spend,
                                       columns_out["monetary_total"], prefix, count)
    return _assemble(orders[CUSTOMER].cat.categories, columns_out)


def _rows(orders: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    codes = orders[CUSTOMER].cat.codes.to_numpy().astype(np.int64)
    dates = orders[DATE].to_numpy(dtype="datetime64[ns]")
    valid = (codes >= 0) & ~np.isnat(dates)
    day = dates.astype("datetime64[D]").astype(np.int64)
    return codes, day, valid


def _day_number(moment: pd.Timestamp) -> int:
    return int(np.datetime64(pd.Timestamp(moment).normalize(), "D").astype(np.int64))


def _firsts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array."""
    starts = np.ones(sorted_keys.size, dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=starts[1:])
    return starts


def _occasions(customer: np.ndarray, day: np.ndarray,
               order: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Customer code and day of each purchase occasion, sorted by customer, then day."""
    # Keys pack (customer, [order,] day) into one int64 with shifts, not products: sorting
    # one int64 array is the cheapest sort numpy has, and shifts cost a tenth of divisions.
    first_day = int(day.min())
    offset = day - first_day
    day_bits = _bits(int(offset.max()))
    if order is not None:
        # A row without an order id is its own customer-day, numbered after the real orders.
        orders = int(order.max()) + 1
        order = np.where(order >= 0, order, orders + offset)
        order_bits = _bits(int(order.max()))
        if _bits(int(customer.max())) + order_bits + day_bits > 62:
            customer, offset = _earliest_by_groupby(customer, order, offset)
        else:
            keys = np.sort((((customer << order_bits) | order) << day_bits) | offset)
            pair = keys >> day_bits
            earliest = _firsts(pair)  # the first row of an order in sort order is its first day
            customer, offset = pair[earliest] >> order_bits, keys[earliest] & _mask(day_bits)
        keys = np.sort((customer << day_bits) | offset)
    else:
        keys = np.sort((customer << day_bits) | offset)
        keys = keys[_firsts(keys)]
    return keys >> day_bits, (keys & _mask(day_bits)) + first_day


def _bits(largest: int) -> int:
    return max(largest, 1).bit_length()


def _mask(bits: int) -> int:
    return (1 << bits) - 1


def _earliest_by_groupby(customer: np.ndarray, order: np.ndarray,
                         offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each (customer, order)'s first day when the codes are too wide to pack in an int64."""
    earliest = (pd.DataFrame({"c": customer, "o": order, "d": offset})
                .groupby(["c", "o"], sort=False)["d"].min())
    return earliest.index.get_level_values("c").to_numpy(), earliest.to_numpy()


def _month_numbers(day: np.ndarray) -> np.ndarray:
    """Calendar month of each day number, through a table of the days spanned."""
    first = int(day.min())
    days = np.arange(first, int(day.max()) + 1).astype("datetime64[D]")
    return days.astype("datetime64[M]").astype(np.int64)[day - first]


def _rhythm(customer: np.ndarray, day: np.ndarray, as_of_day: int,
            count: int) -> dict[str, np.ndarray]:
    """Recency, tenure, frequency, interval and active months from sorted occasions."""
    frequency = np.bincount(customer, minlength=count)
    ends = np.cumsum(frequency)
    starts = ends - frequency
    has = frequency > 0
    first = np.zeros(count, dtype=np.int64)
    last = np.zeros(count, dtype=np.int64)
    first[has], last[has] = day[starts[has]], day[ends[has] - 1]
    same = customer[1:] == customer[:-1]
    interval = np.full(count, np.nan)
    if same.any():
        gaps = pd.Series(np.diff(day)[same]).groupby(customer[1:][same]).median()
        interval[gaps.index.to_numpy()] = gaps.to_numpy()
    month = _month_numbers(day)
    new_month = np.ones(day.size, dtype=bool)
    new_month[1:] = ~same | (month[1:] != month[:-1])
    return {"first": first, "last": last, "recency_days": as_of_day - last,
            "frequency": frequency, "tenure_days": as_of_day - first,
            "median_interval_days": interval, "one_time_buyer": frequency == 1,
            "active_months": np.bincount(customer[new_month], minlength=count)}


def _money(codes: np.ndarray, amount: np.ndarray, valid: np.ndarray, bought: np.ndarray,
           frequency: np.ndarray, count: int) -> dict[str, np.ndarray]:
    total = np.bincount(codes[bought], weights=amount[bought], minlength=count)
    returned = valid & (amount < 0)
    return {
        "monetary_total": total,
        "monetary_avg": np.divide(total, frequency, out=np.full(count, np.nan),
                                  where=frequency > 0),
        "returns_count": np.bincount(codes[returned], minlength=count),
        "returns_value": np.bincount(codes[returned], weights=-amount[returned],
                                     minlength=count),
    }


def _trend(customer: np.ndarray, age: np.ndarray, value: np.ndarray | None, window: int,
           count: int) -> np.ndarray:
    recent, previous = age < window, (age >= window) & (age < 2 * window)
    now = np.bincount(customer[recent], None if value is None else value[recent],
                      minlength=count)
    before = np.bincount(customer[previous], None if value is None else value[previous],
                         minlength=count)
    both = (now + before).astype(np.float64)
    return np.divide(now - before, both, out=np.zeros(count), where=both > 0)


def _shares(labels: pd.Series, codes: np.ndarray, spend: np.ndarray, total: np.ndarray,
            prefix: str, count: int) -> dict[str, np.ndarray]:
    """Share of each customer's spend on the top values of a category or channel column.

    ``spend`` is each row's purchase value, 0 on rows that are not purchases.
    """
    label = labels.cat.codes.to_numpy()
    by_label = np.bincount(label[label >= 0], weights=spend[label >= 0],
                           minlength=len(labels.cat.categories))
    if np.count_nonzero(by_label > 0) < 2:
        return {}  # one value only: every customer's share would be 1
    top = np.argsort(-by_label, kind="stable")[:MAX_SHARE_COLUMNS]
    top = top[by_label[top] > 0]
    # Every row lands in a slot: the top values' own, or one extra (other or missing) slot.
    width = top.size + 1
    slot = np.full(by_label.size + 1, top.size)
    slot[top] = np.arange(top.size)
    spent = np.bincount(codes * width + slot[label], weights=spend,
                        minlength=count * width).reshape(count, width)[:, : top.size]
    shares = np.divide(spent, total[:, None], out=np.zeros_like(spent),
                       where=total[:, None] > 0)
    names = labels.cat.categories[top]
    return {f"{prefix}:{name}": shares[:, position] for position, name in enumerate(names)}


def _assemble(ids: pd.Index, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    has = columns["frequency"] > 0
    first, last = columns.pop("first"), columns.pop("last")
    data: dict[str, object] = {
        CUSTOMER: pd.array(np.asarray(ids.astype(str))[has], dtype="str"),
        "first_purchase": first[has].astype("datetime64[D]").astype("datetime64[ns]"),
        "last_purchase": last[has].astype("datetime64[D]").astype("datetime64[ns]"),
    }
    order = [name for name in FEATURE_LABELS if name in columns]
    order += [name for name in columns if name not in FEATURE_LABELS]
    data |= {name: columns[name][has] for name in order}
    return pd.DataFrame(data, copy=False)
