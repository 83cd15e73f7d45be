"""Filtered audiences read from a run's customers table: the counts pandas would give, the
members exported, and the fields a condition may name."""

from __future__ import annotations

import pandas as pd
import pytest

from storage import Store
from storage.conditions import ConditionError, parse_condition
from tests.storage.conftest import make_result, publish

CONDITION = "yearly income > 45k and (marital status in (married, single) or not complain)"


def expected_members(attributes: pd.DataFrame) -> pd.Series:
    return ((attributes["Income"] > 45_000)
            & (attributes["Marital_Status"].isin(["Married", "Single"])
               | ~attributes["Complain"]))


def test_counts_by_segment_and_means_are_those_pandas_computes(store: Store) -> None:
    result = make_result(n_customers=300)
    publish(store, result)
    audience, compiled = store.audience(parse_condition(CONDITION),
                                        features=["Income", "Kidhome", "Complain"])

    match = expected_members(result.attributes)
    by_segment = result.assignments[match].groupby("segment_id").size()
    assert audience.counts == {int(k): int(v) for k, v in by_segment.items()}
    assert audience.total == match.sum() > 0
    assert audience.means["Income"] == pytest.approx(result.attributes["Income"][match].mean())
    assert audience.means["Kidhome"] == pytest.approx(result.attributes["Kidhome"][match].mean())
    assert audience.means["Complain"] == pytest.approx(result.attributes["Complain"][match].mean())
    assert [f.label for f in compiled.fields] == ["Yearly income", "Marital Status", "Complain"]


def test_one_segment_counts_only_its_customers(store: Store) -> None:
    result = make_result(n_customers=300)
    publish(store, result)
    audience, _ = store.audience(parse_condition("kidhome >= 1"), segment_id=2)

    in_two = (result.assignments["segment_id"] == 2) & (result.attributes["Kidhome"] >= 1)
    assert audience.counts == {2: int(in_two.sum())}


def test_members_are_exactly_the_audience_most_typical_first(store: Store) -> None:
    result = make_result(n_customers=300)
    publish(store, result)
    members = store.audience_members(parse_condition(CONDITION), segment_id=1)

    match = expected_members(result.attributes) & (result.assignments["segment_id"] == 1)
    assert sorted(members["customer_id"]) == sorted(result.assignments["customer_id"][match])
    assert list(members.columns) == ["customer_id", "segment_id", "distance", "Income",
                                     "Kidhome", "Marital_Status", "Dt_Customer", "Complain"]
    assert members["distance"].is_monotonic_increasing
    assert members["Complain"].dtype == bool


def test_fields_come_with_their_ranges_and_values(store: Store) -> None:
    publish(store, make_result(n_customers=30))
    ranges = {r.field.label: r for r in store.condition_fields(ranges=True)}

    assert list(ranges) == ["Yearly income", "Kidhome", "Marital Status", "Dt Customer",
                            "Complain"]
    assert (ranges["Kidhome"].low, ranges["Kidhome"].high) == (0, 2)
    assert ranges["Dt Customer"].low == "2020-01-01T00:00:00"
    assert ranges["Marital Status"].field.values == ("Married", "Single")


def test_an_unknown_field_names_the_closest(store: Store) -> None:
    publish(store, make_result(n_customers=30))
    with pytest.raises(ConditionError, match="Did you mean `Kidhome`"):
        store.audience(parse_condition("kidshome > 1"))
