"""Synthetic order histories: one row per order line, from customers with a hidden behaviour.

Each customer follows one of the behaviours a marketer names in RFM terms (champions, loyal,
new, at risk, hibernating, one-time buyers): when they started buying, when they stopped and
how often and how much they buy in between. About 3 % of lines are returned later (a
negative line), a few lines are free, and each line has a product category and each order a
channel. Everything is drawn with array operations, so 10M rows take seconds.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ORDER_COLUMNS = ("order_id", "customer_id", "order_date", "category", "channel", "quantity",
                 "amount")
CATEGORIES = ("Books", "Electronics", "Fashion", "Home", "Beauty", "Sports", "Toys", "Grocery")
CHANNELS = ("web", "app", "store")
DEFAULT_START, DEFAULT_END = "2023-01-01", "2024-12-31"
RETURN_SHARE = 0.03
FREE_LINE_SHARE = 0.002
_EXTRA_LINES = 0.15  # Poisson mean of lines beyond the first in one order
_FAVOURITE_CATEGORY = 0.6  # chance a line is in the customer's favourite category
_FAVOURITE_CHANNEL = 0.8
_DAYS_PER_MONTH = 30.44
_LINES_PER_CUSTOMER_AT_LEAST = 9  # 10.1 on average at a million customers
_TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
_PARQUET_SUFFIXES = frozenset({".parquet", ".pq"})


@dataclass(frozen=True)
class Behaviour:
    """How one kind of customer buys. Ages are days before the end of the period."""

    name: str
    share: float
    first_age: tuple[float, float]  # first purchase: uniform between, as shares of the period
    last_age: tuple[float, float]  # last purchase: uniform between, in days (at most first_age)
    orders_per_month: float  # between the first and the last purchase
    basket: float  # mean value of one line
    category_mix: tuple[float, ...]  # over CATEGORIES: where the favourite category falls
    channel_mix: tuple[float, float, float]  # over CHANNELS: the favourite channel


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour("champions", 0.08, (0.6, 1.0), (0, 14), 1.7, 75.0,
              (0.10, 0.25, 0.15, 0.15, 0.10, 0.10, 0.05, 0.10), (0.5, 0.4, 0.1)),
    Behaviour("loyal", 0.17, (0.5, 1.0), (0, 45), 0.65, 45.0,
              (0.15, 0.10, 0.15, 0.15, 0.10, 0.10, 0.10, 0.15), (0.4, 0.3, 0.3)),
    Behaviour("new customers", 0.10, (0.0, 0.12), (0, 10), 1.2, 40.0,
              (0.10, 0.15, 0.25, 0.10, 0.15, 0.10, 0.10, 0.05), (0.4, 0.5, 0.1)),
    Behaviour("at risk", 0.15, (0.7, 1.0), (120, 300), 1.1, 55.0,
              (0.15, 0.20, 0.15, 0.15, 0.05, 0.15, 0.05, 0.10), (0.4, 0.2, 0.4)),
    Behaviour("hibernating", 0.20, (0.5, 1.0), (200, 500), 0.5, 30.0,
              (0.20, 0.05, 0.15, 0.20, 0.10, 0.05, 0.15, 0.10), (0.3, 0.1, 0.6)),
    Behaviour("one-time buyers", 0.30, (0.0, 1.0), (0, 0), 0.0, 35.0,
              (0.15, 0.15, 0.15, 0.10, 0.10, 0.10, 0.15, 0.10), (0.5, 0.1, 0.4)),
)  # fmt: skip


def generate_orders(customers: int, *, seed: int = 0, start: str = DEFAULT_START,
                    end: str = DEFAULT_END, return_share: float = RETURN_SHARE) -> pd.DataFrame:
    """About 10 order lines per customer between ``start`` and ``end``, in time order.

    Columns: order_id, customer_id (int64), order_date (datetime64[s], with a time of day),
    category and channel (categorical), quantity (int64), amount (float64; negative on a
    return line, which carries the returned order's id). Reproducible from ``seed``.
    """
    customers = operator.index(customers)
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    first_day, last_day = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    period = (last_day - first_day).days + 1
    if period < 1:
        raise ValueError(f"end {end} is before start {start}")
    rng = np.random.default_rng(seed)
    behaviour = rng.choice(len(BEHAVIOURS), size=customers, p=_shares())
    first_age, last_age = _active_span(rng, behaviour, period)
    customer, seconds = _orders_in_time_order(rng, behaviour, first_age, last_age)
    lines = _with_returns(rng, _lines(rng, behaviour, customer, seconds), return_share)
    return _assemble(rng, lines, customers, last_day)


def generate_order_lines(rows: int, *, seed: int = 0, start: str = DEFAULT_START,
                         end: str = DEFAULT_END) -> pd.DataFrame:
    """Exactly ``rows`` order lines (as `generate_orders`) of about ``rows / 10`` customers.

    Enough customers are drawn for more lines than asked, then a seeded random choice of
    ``rows`` lines is kept in time order: an order may lose a line, a return its purchase.
    """
    rows = operator.index(rows)
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    customers = max(1, math.ceil(rows / _LINES_PER_CUSTOMER_AT_LEAST))
    lines = generate_orders(customers, seed=seed, start=start, end=end)
    while len(lines) < rows:  # a small draw can fall short of the mean
        customers *= 2
        lines = generate_orders(customers, seed=seed, start=start, end=end)
    keep = np.sort(np.random.default_rng(seed).choice(len(lines), rows, replace=False))
    return lines.iloc[keep].reset_index(drop=True)


def write_orders(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write order lines as CSV (.csv, comma), TAB-separated text (.tsv/.txt) or Parquet."""
    path = Path(path)
    suffix = path.suffix.lower()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if suffix in _TEXT_SUFFIXES:
        # The CSV writer takes plain strings, not dictionary-encoded categories.
        table = table.cast(pa.schema([
            field.with_type(pa.string()) if pa.types.is_dictionary(field.type) else field
            for field in table.schema]))
        options = pa_csv.WriteOptions(delimiter=_TEXT_SUFFIXES[suffix], quoting_style="none")
        pa_csv.write_csv(table, path, write_options=options)
    elif suffix in _PARQUET_SUFFIXES:
        pq.write_table(table, path)
    else:
        known = ", ".join(sorted(set(_TEXT_SUFFIXES) | _PARQUET_SUFFIXES))
        raise ValueError(f"cannot write orders to {path.name!r}: use one of {known}")
    return path


def _shares() -> np.ndarray:
    shares = np.array([behaviour.share for behaviour in BEHAVIOURS])
    return shares / shares.sum()


def _attr(name: str) -> np.ndarray:
    return np.array([getattr(behaviour, name) for behaviour in BEHAVIOURS], dtype=float)


def _active_span(rng: np.random.Generator, behaviour: np.ndarray,
                 period: int) -> tuple[np.ndarray, np.ndarray]:
    """Days before the end of the first and the last purchase of each customer."""
    low, high = _attr("first_age")[behaviour].T
    first = np.minimum(rng.uniform(low, high) * period, period - 1 / 86_400)
    low, high = _attr("last_age")[behaviour].T
    last = np.minimum(rng.uniform(low, high), first)
    return first, last


def _orders_in_time_order(rng: np.random.Generator, behaviour: np.ndarray, first: np.ndarray,
                          last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each order's customer and its age in seconds before the period ends, oldest first.

    A customer's first and last orders fall on the first and last day of their span.
    """
    months = (first - last) / _DAYS_PER_MONTH
    orders = 1 + rng.poisson(_attr("orders_per_month")[behaviour] * months)
    customer = np.repeat(np.arange(behaviour.size), orders)
    position = np.arange(customer.size) - np.repeat(np.cumsum(orders) - orders, orders)
    span_first, span_last = first[customer], last[customer]
    age = span_last + rng.random(customer.size) * (span_first - span_last)
    age = np.where(position == 0, span_first, np.where(position == 1, span_last, age))
    seconds = np.round(age * 86_400).astype(np.int64)
    # Sort (age, order) packed in one int64: numpy sorts plain int64 several times faster than
    # it argsorts, and every later column is then drawn in time order, with no gathers.
    index_bits = max(customer.size - 1, 1).bit_length()
    keys = np.sort(((int(seconds.max()) - seconds) << index_bits) | np.arange(customer.size))
    by_time = keys & ((1 << index_bits) - 1)
    return customer[by_time], seconds[by_time]


def _lines(rng: np.random.Generator, behaviour: np.ndarray, customer: np.ndarray,
           seconds: np.ndarray) -> dict[str, np.ndarray]:
    """Order lines in time order: order, customer, seconds, category, channel, quantity, amount."""
    favourite_category = _draw(rng, _attr("category_mix")[behaviour])
    favourite_channel = _draw(rng, _attr("channel_mix")[behaviour])
    # Each customer also has their own usual basket around their behaviour's.
    basket = _attr("basket")[behaviour] * rng.lognormal(-0.125, 0.5, behaviour.size)
    channel = np.where(rng.random(customer.size) < _FAVOURITE_CHANNEL,
                       favourite_channel[customer], rng.integers(0, len(CHANNELS), customer.size))
    per_order = 1 + rng.poisson(_EXTRA_LINES, customer.size)
    order = np.repeat(np.arange(customer.size), per_order)
    customer, seconds, channel = (np.repeat(values, per_order)
                                  for values in (customer, seconds, channel))
    category = np.where(rng.random(order.size) < _FAVOURITE_CATEGORY,
                        favourite_category[customer],
                        rng.integers(0, len(CATEGORIES), order.size))
    amount = np.round(basket[customer] * rng.lognormal(-0.08, 0.4, order.size), 2)
    amount[rng.random(order.size) < FREE_LINE_SHARE] = 0.0
    return {"order": order, "customer": customer, "seconds": seconds, "category": category,
            "channel": channel, "quantity": 1 + rng.poisson(0.4, order.size), "amount": amount}


def _draw(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One code per row, drawn from that row's probabilities."""
    cumulative = np.cumsum(probs, axis=1)
    cumulative /= cumulative[:, -1:]
    picks = (rng.random((len(probs), 1)) > cumulative).sum(axis=1)
    return np.minimum(picks, probs.shape[1] - 1)


def _with_returns(rng: np.random.Generator, lines: dict[str, np.ndarray],
                  share: float) -> dict[str, np.ndarray]:
    """A few paid lines come back 3 to 30 days later, if still in the period: negative lines."""
    later = lines["seconds"] - rng.integers(3 * 86_400, 30 * 86_400, lines["seconds"].size)
    returned = (rng.random(later.size) < share) & (lines["amount"] > 0) & (later >= 0)
    back = {name: values[returned] for name, values in lines.items()}
    back["seconds"] = later[returned]
    back["quantity"] = -back["quantity"]
    back["amount"] = -back["amount"]
    # Returns are few: sort them, then slot each in after the lines bought before it.
    order = np.argsort(-back["seconds"], kind="stable")
    at = np.searchsorted(-lines["seconds"], -back["seconds"][order], side="right")
    is_return = np.zeros(lines["seconds"].size + at.size, dtype=bool)
    is_return[at + np.arange(at.size)] = True
    merged = {}
    for name, values in lines.items():
        merged[name] = np.empty(is_return.size, dtype=values.dtype)
        merged[name][~is_return] = values
        merged[name][is_return] = back[name][order]
    return merged


def _assemble(rng: np.random.Generator, lines: dict[str, np.ndarray], customers: int,
              last_day: pd.Timestamp) -> pd.DataFrame:
    """The export: order ids rising with time, customer ids not in customer order."""
    # Seconds before the end: 0 is the period's last second.
    last_second = last_day.to_datetime64().astype("datetime64[s]") + np.timedelta64(86_399, "s")
    customer_ids = 100_001 + rng.permutation(customers)
    frame = pd.DataFrame({
        "order_id": 1_000_001 + lines["order"],
        "customer_id": customer_ids[lines["customer"]],
        "order_date": last_second - lines["seconds"].astype("timedelta64[s]"),
        "category": pd.Categorical.from_codes(lines["category"], pd.Index(CATEGORIES)),
        "channel": pd.Categorical.from_codes(lines["channel"], pd.Index(CHANNELS)),
        "quantity": lines["quantity"],
        "amount": lines["amount"],
    }, copy=False)
    return frame[list(ORDER_COLUMNS)]
