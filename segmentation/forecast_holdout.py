"""What an order history's customers bought after the as-of date, when the schema file sets
one earlier than the data's end: the holdout a forecast is checked against.

The refresh leaves those orders out of the features and the models; this module keeps, per
customer who bought by the as-of date, how many purchase occasions they made afterwards, and
week by week how many repeat purchases the cohort had made, from the data's first day to its
last (the actual curve of the BG/NBD paper's tracking chart).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from segmentation.order_features import AMOUNT, CUSTOMER, ORDER, _occasions, _rows

DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class Holdout:
    """The purchases after the as-of date of the customers who bought by it.

    Weeks count from the data's first purchase day; week w ends after day 7w - 1.
    """

    ids: pd.Index  # customers who bought by the as-of date (text ids)
    purchases: np.ndarray  # per customer of ``ids``: purchase occasions after the as-of date
    first_weeks: np.ndarray  # per customer of ``ids``: their first purchase, in weeks
    weeks: np.ndarray  # 1, 2, ... to the week of the data's last purchase
    cumulative: np.ndarray  # repeat purchases of these customers by the end of each week
    calibration_weeks: float  # the as-of date (its end), in weeks
    holdout_weeks: float  # from the as-of date to the data's last day


def holdout_purchases(orders: pd.DataFrame, as_of: pd.Timestamp) -> Holdout | None:
    """The holdout of ``orders`` (parse_orders' frame) after ``as_of``; None when no purchase
    is later than it. Occasions are counted as `customer_features` counts them."""
    codes, day, valid = _rows(orders)
    if AMOUNT in orders:
        valid &= orders[AMOUNT].to_numpy(dtype="float64") >= 0  # returns are never purchases
    cut = int(np.datetime64(pd.Timestamp(as_of).normalize(), "D").astype(np.int64))
    if not valid.any() or not (day[valid] > cut).any():
        return None
    order = orders[ORDER].cat.codes.to_numpy() if ORDER in orders else None
    customer, occasion_day = _occasions(codes[valid], day[valid],
                                        None if order is None else order[valid])
    count = len(orders[CUSTOMER].cat.categories)
    first = np.full(count, np.iinfo(np.int64).max)
    np.minimum.at(first, customer, occasion_day)
    cohort = first <= cut
    in_cohort = cohort[customer]
    start = int(occasion_day.min())
    repeat = in_cohort & (occasion_day > first[customer])
    week_of = (occasion_day[repeat] - start) // DAYS_PER_WEEK
    last_week = int((occasion_day.max() - start) // DAYS_PER_WEEK) + 1
    later = in_cohort & (occasion_day > cut)
    ids = orders[CUSTOMER].cat.categories[cohort].astype(str)
    return Holdout(
        ids=pd.Index(ids),
        purchases=np.bincount(customer[later], minlength=count)[cohort],
        first_weeks=(first[cohort] - start) / DAYS_PER_WEEK,
        weeks=np.arange(1, last_week + 1, dtype=float),
        cumulative=np.cumsum(np.bincount(week_of, minlength=last_week)).astype(float),
        calibration_weeks=(cut + 1 - start) / DAYS_PER_WEEK,
        holdout_weeks=(int(occasion_day.max()) - cut) / DAYS_PER_WEEK,
    )
