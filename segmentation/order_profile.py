"""The "orders" profile: an order history segmented on how each customer buys.

`order_columns_for` says whether a table is an order history (the schema file says so, or
`detect_order_history` finds one). `prepare_orders` parses it, aggregates it to one row per
customer as of the data's latest date (or the schema file's ``as_of``), and says which of
those features are clustered on, profiled per segment and kept per customer for answers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from segmentation.cleaning import ID
from segmentation.errors import ConfigError, DataError
from segmentation.forecast_holdout import holdout_purchases
from segmentation.order_features import SHARE_PREFIXES
from segmentation.orders import (
    AMOUNT,
    CUSTOMER,
    DATE,
    OrderColumns,
    customer_features,
    declared_order_columns,
    detect_order_history,
    feature_label,
    parse_orders,
    settle_columns,
)
from segmentation.prepare import MIN_CUSTOMERS, PreparedData
from segmentation.result import ORDER_ROLE_PREFIX, CleaningReport, CleaningStep, ColumnDecision
from segmentation.schema import SchemaOverrides

# Recency, frequency and value, the size of a basket, and whether buying picks up or slows.
# Frequency and the money columns are right-skewed and are log-scaled by the model, as any
# skewed feature. Not clustered on: tenure (a cohort that started buying in one quarter, as
# CDNOW's, would be split by the week it joined), the interval between purchases (none for
# one-time buyers; frequency already sets them apart), category and channel shares (taste,
# not value: segments would split by label, as one-hot education does in the reference).
CLUSTERED = ("recency_days", "frequency", "monetary_total", "monetary_avg", "trend")
CLUSTERED_WITHOUT_AMOUNTS = ("recency_days", "frequency", "trend")
# Days since the last purchase count more while they are few: 10 against 60 days parts an
# active customer from one drifting away, 400 against 450 parts no one. So recency is
# log-scaled even where it is not right-skewed (most of CDNOW's customers lapsed long ago).
LOG_SCALED = ("recency_days",)
PROFILED = ("tenure_days", "median_interval_days", "active_months", "one_time_buyer")
RETURN_FEATURES = ("returns_count", "returns_value")
# Kept per customer for /customer, in the order it shows them: the purchase history first.
SHOWN = ("last_purchase", "frequency", "monetary_total", "monetary_avg", "recency_days",
         "first_purchase", "median_interval_days", "active_months", "trend")
MAX_SHOWN_SHARES = 3
# What the forecast (segmentation.forecast) reads of each customer, beyond the above.
FORECAST_INPUTS = ("frequency", "recency_days", "tenure_days", "repeat_purchases",
                   "repeat_value")
_DATE_COLUMNS = ("first_purchase", "last_purchase")

_ROLE_REASONS = {
    "customer": "the customer who bought; their rows make one customer",
    "date": "when they bought",
    "amount": "what each row was worth (negative: a return)",
    "price": "unit price: a row is worth price × quantity",
    "quantity": "units on each row",
    "order": "order id: the rows of one order are one purchase",
    "category": "product category: share of spend per top category",
    "channel": "sales channel: share of spend per top channel",
}


def order_columns_for(frame: pd.DataFrame, overrides: SchemaOverrides) -> OrderColumns | None:
    """The order roles of ``frame``'s columns, or None when it is a customer table.

    The schema file decides when it says what the table is (``kind``, an order column, or
    the keys of a customer table); otherwise the table is an order history when
    `detect_order_history` finds one. Columns in ``drop`` play no role.
    """
    if overrides.describes_customer_table:
        return None
    missing = [column for column in overrides.drop if column not in frame.columns]
    if missing:
        raise ConfigError(f"schema names columns the table does not have: {', '.join(missing)}")
    usable = frame.drop(columns=list(overrides.drop)) if overrides.drop else frame
    if overrides.describes_orders:
        return declared_order_columns(usable, overrides.order_columns,
                                      date_format=overrides.date_format,
                                      decimal=overrides.decimal)
    return detect_order_history(usable)


def prepare_orders(raw: pd.DataFrame, columns: OrderColumns,
                   as_of: date | None = None) -> PreparedData:
    """Parse the order rows and aggregate them to one row of features per customer.

    ``as_of`` defaults to the latest order date; rows after it are left out and counted.
    """
    frame = raw.set_axis([str(column) for column in raw.columns], axis=1)
    columns = settle_columns(frame, columns)
    orders, parse_steps = parse_orders(frame, columns)
    steps = list(parse_steps)
    day = orders[DATE].dt.normalize()
    cut = pd.Timestamp(as_of) if as_of is not None else day.max()
    later = (day > cut).to_numpy()
    if later.any():
        steps.append(CleaningStep(columns.date, "dropped rows", int(later.sum()),
                                  f"after the as-of date {cut.date().isoformat()}: "
                                  "left out of this run"))
    features = customer_features(orders, columns, cut)
    excluded = _customers_without_features(orders, features, later, cut, columns, steps)
    if len(features) < MIN_CUSTOMERS:
        raise DataError(f"only {len(features)} customer(s) bought in the order history; "
                        f"segmenting needs at least {MIN_CUSTOMERS}")
    has_amounts = AMOUNT in orders
    clustered = CLUSTERED if has_amounts else CLUSTERED_WITHOUT_AMOUNTS
    shares = tuple(c for c in features.columns if c.partition(":")[0] in SHARE_PREFIXES.values())
    returns = RETURN_FEATURES if has_amounts and features["returns_count"].any() else ()
    profiled = (*clustered, *PROFILED, *returns, *shares)
    shown = (*(c for c in SHOWN if c in features.columns), *returns,
             *shares[:MAX_SHOWN_SHARES])
    frame = features.assign(**{column: _date_text(features[column]) for column in _DATE_COLUMNS},
                            one_time_buyer=features["one_time_buyer"].astype(float))
    labels = {column: feature_label(column) for column in (*profiled, *shown)}
    report = CleaningReport(len(raw), len(features), tuple(steps),
                            order_rows_used=len(orders) - int(later.sum()))
    # the forecast's inputs (segmentation.forecast) ride along, neither profiled nor shown
    inputs = (c for c in FORECAST_INPUTS if c in frame.columns)
    keep = list(dict.fromkeys((ID, *profiled, *shown, *inputs)))
    return PreparedData(frame[keep].reset_index(drop=True), clustered, (), profiled, shown,
                        labels, cut, _decisions(raw, columns, clustered, profiled, shown),
                        report, excluded, shown_categories=(), log_scaled=LOG_SCALED,
                        holdout=holdout_purchases(orders, cut) if later.any() else None)


def _date_text(dates: pd.Series) -> pd.Series:
    """Dates as YYYY-MM-DD text, each distinct day formatted once (a million customers share
    a few hundred days)."""
    codes, days = pd.factorize(dates)
    text = pd.DatetimeIndex(days).strftime("%Y-%m-%d")
    return pd.Series(pd.Categorical.from_codes(codes, categories=text), index=dates.index)


def _customers_without_features(orders: pd.DataFrame, features: pd.DataFrame,
                                later: np.ndarray, cut: pd.Timestamp, columns: OrderColumns,
                                steps: list[CleaningStep]) -> pd.DataFrame:
    """Customers in the export who bought nothing by the as-of date, and why."""
    ids = orders[CUSTOMER].cat.categories
    if len(features) == len(ids):
        return pd.DataFrame({ID: pd.Series(dtype=str), "reason": pd.Series(dtype=str)})
    missing = ~ids.isin(features[CUSTOMER])
    codes = orders[CUSTOMER].cat.codes.to_numpy()
    only_later = np.bincount(codes[later & (codes >= 0)], minlength=len(ids)) > 0
    only_later &= missing
    if only_later.any():
        steps.append(CleaningStep(columns.customer, "left out customers", int(only_later.sum()),
                                  f"first bought after the as-of date "
                                  f"{cut.date().isoformat()}"))
    reasons = np.where(only_later[missing],
                       f"first bought after the as-of date {cut.date().isoformat()}",
                       "returns but no purchase in the order history")
    return pd.DataFrame({ID: np.asarray(ids[missing].astype(str)), "reason": reasons})


def _decisions(raw: pd.DataFrame, columns: OrderColumns, clustered: tuple[str, ...],
               profiled: tuple[str, ...], shown: tuple[str, ...]) -> tuple[ColumnDecision, ...]:
    """Which column played which role, the columns not used, and the features derived."""
    roles = columns.roles()
    decisions = [ColumnDecision(column, ORDER_ROLE_PREFIX + role, _role_reason(role, columns))
                 for role, column in roles.items()]
    decisions += [ColumnDecision(str(column), "dropped",
                                 "no order role; the schema file can give it one, e.g. "
                                 f'quantity = "{column}"')
                  for column in raw.columns if str(column) not in roles.values()]
    for feature in dict.fromkeys((*profiled, *shown)):
        use = ("clustered on" if feature in clustered else
               "profiled and shown" if feature in profiled else "shown per customer")
        decisions.append(ColumnDecision(feature, "derived", f"{feature_label(feature)}: {use}"))
    return tuple(decisions)


def _role_reason(role: str, columns: OrderColumns) -> str:
    reason = _ROLE_REASONS[role]
    if role == "date" and columns.date_format:
        reason += f" (written {columns.date_format})"
    if role in ("amount", "price") and columns.decimal == ",":
        reason += " (decimal comma)"
    return reason
