"""Names a marketer can read: no units, and segments alike in most traits told apart up front."""

import re
from dataclasses import replace
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from segmentation.engine import segment_customers
from segmentation.matching import match_segments
from segmentation.naming import name_label, recommend_actions, unique_names


def mall_customers(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """The shape of the "Mall Customers" table: units and ranges in the column names."""
    rng = np.random.default_rng(seed)
    centres = np.array([(55, 50), (87, 18), (26, 79), (88, 82), (26, 20)])
    group = rng.integers(0, len(centres), rows)
    return pd.DataFrame({
        "CustomerID": np.arange(1, rows + 1),
        "Gender": rng.choice(["Male", "Female"], rows),
        "Age": rng.integers(18, 70, rows),
        "Annual Income (k$)": (centres[group, 0] + rng.normal(0, 8, rows)).round().clip(15, 140),
        "Spending Score (1-100)": (centres[group, 1] + rng.normal(0, 8, rows)).round().clip(1, 99),
    })


@pytest.fixture(scope="module")
def mall_result():
    return segment_customers(mall_customers(), source="mall.csv")


@pytest.fixture(scope="module")
def runs(reference_result, synthetic_result, ten_segment_result, mall_result):
    """Runs whose segments share traits: the reference table, synthetic customers, a mall."""
    return {
        "reference": reference_result,
        "mall": mall_result,
        "synthetic": synthetic_result,
        "synthetic k=10": ten_segment_result,
    }


def phrases(name: str) -> list[str]:
    return re.sub(r" \([A-Z0-9]+\)$", "", name).split(" · ")


def share_all_but_last(a: str, b: str) -> bool:
    first, second = phrases(a), phrases(b)
    return len(first) == len(second) >= 2 and first[:-1] == second[:-1] \
        and first[-1] != second[-1]


@pytest.mark.parametrize("label, plain", [
    ("Annual Income (k$)", "Annual Income"),
    ("Spending Score (1-100)", "Spending Score"),
    ("Revenue [EUR]", "Revenue"),
    ("Spend in $", "Spend"),
    ("Spend USD", "Spend"),
    ("Discount share %", "Discount share"),
    ("Web visits / month", "Web visits / month"),
    ("Days since last order (UTC)", "Days since last order"),
    ("(k$)", "(k$)"),  # nothing left: the label stays
])
def test_units_and_ranges_are_left_out_of_labels_for_names(label: str, plain: str) -> None:
    assert name_label(label) == plain


def test_names_read_without_units_or_ranges(mall_result) -> None:
    names = [s.name for s in mall_result.segments]
    assert not [n for n in names if re.search(r"[()$]|1-100", n)], names
    words = " ".join(names)
    assert "annual income" in words and "spending score" in words
    assert "High annual income" in words or "Low annual income" in words


def test_a_name_given_with_units_is_kept_by_the_next_run(mall_result) -> None:
    def with_units(name: str) -> str:
        return name.replace("annual income", "annual income (k$)") \
            .replace("spending score", "spending score (1-100)")

    earlier = tuple(replace(s, name=with_units(s.name)) for s in mall_result.segments)
    assert any("(k$)" in s.name for s in earlier)
    matched = match_segments(mall_result, earlier, next_free_id=len(earlier) + 1)
    assert [s.name for s in matched.result.segments] == [s.name for s in earlier]


@pytest.mark.parametrize("run", ["reference", "synthetic", "synthetic k=10", "mall"])
def test_no_two_names_differ_only_in_their_last_trait(runs, run: str) -> None:
    names = [s.name for s in runs[run].segments]
    assert len(set(names)) == len(names)
    assert not [(a, b) for a, b in combinations(names, 2) if share_all_but_last(a, b)], names


@pytest.mark.parametrize("run", ["reference", "synthetic", "synthetic k=10", "mall"])
def test_segments_alike_in_all_but_one_trait_get_different_actions(runs, run: str) -> None:
    for a, b in combinations(runs[run].segments, 2):
        if alike(phrases(a.name), phrases(b.name)):
            assert a.action != b.action, (a.name, b.name)
            assert not ("VIP perks" in a.action and "VIP perks" in b.action), (a.name, b.name)


def alike(first: list[str], second: list[str]) -> bool:
    """Names whose traits differ by one each, or by one added to the other."""
    longest = max(len(first), len(second))
    return set(first) != set(second) and longest >= 2 and abs(len(first) - len(second)) <= 1 \
        and len(set(first) & set(second)) == longest - 1


def test_reference_segments_alike_lead_with_what_sets_them_apart(reference_result) -> None:
    alike = [s for s in reference_result.segments
             if {"High income", "Big spenders"} <= set(phrases(s.name))]
    assert len(alike) == 2
    leads = {phrases(s.name)[0] for s in alike}
    assert leads == {"Frequent buyers", "Campaign responders"}


def test_names_and_actions_differ_where_only_the_last_trait_would() -> None:
    older = ["High income", "Big spenders", "Older"]
    younger = ["Big spenders", "Younger", "High income"]
    lapsed = ["Lapsed", "Light spenders", "Deal seekers"]
    assert unique_names([older, younger, lapsed]) == [
        "Older · High income · Big spenders", "Younger · High income · Big spenders",
        "Light spenders · Lapsed · Deal seekers"]
    first, second, third = recommend_actions([older, younger, lapsed])
    assert first != second
    assert third == "Run a win-back campaign with a time-limited incentive."  # as before


def test_traits_without_an_action_of_their_own_still_get_different_actions() -> None:
    actions = recommend_actions([["High fresh", "High milk", "High frozen"],
                                 ["High fresh", "High milk", "Low grocery"]])
    assert actions[0] != actions[1]
    assert "high frozen" in actions[0] and "low grocery" in actions[1]


def test_a_longer_name_leads_with_the_trait_it_adds() -> None:
    names = unique_names([["Big spenders", "High income"],
                          ["High income", "Big spenders", "Lapsed"]])
    assert names == ["High income · Big spenders", "Lapsed · High income · Big spenders"]


def test_names_alike_after_moving_a_trait_are_told_apart_again() -> None:
    # both the second and the fourth lead with "Campaign responders" once moved
    names = unique_names([["High income", "Big spenders", "Frequent buyers"],
                          ["High income", "Big spenders", "Campaign responders"],
                          ["High income", "Lapsed", "Deal seekers"],
                          ["High income", "Lapsed", "Campaign responders"]])
    assert not [(a, b) for a, b in combinations(names, 2) if share_all_but_last(a, b)], names


def test_names_whose_every_trait_sets_them_apart_still_lead_differently() -> None:
    # a and b differ by one trait, and each of their other traits sets them apart from
    # another segment: ordered by strength alone, both would start "High c · High d"
    traits = [["High c", "High d", "High a"], ["High c", "High d", "High b"],
              ["High a", "High d", "High e"], ["High a", "High c", "High f"],
              ["High b", "High d", "High g"], ["High b", "High c", "High h"]]
    names = unique_names(traits)
    assert not [(a, b) for a, b in combinations(names, 2) if share_all_but_last(a, b)], names
    assert names[1].startswith("High b")  # what sets it apart from the first


def test_random_trait_lists_never_give_names_or_actions_that_differ_only_at_the_end() -> None:
    vocabulary = ["High income", "Lower income", "Big spenders", "Light spenders", "Lapsed",
                  "Recently active", "Families with kids", "Online shoppers", "Deal seekers",
                  "Campaign responders", "Older", "Younger", "Frequent buyers", "High fresh",
                  "Low milk"]
    rng = np.random.default_rng(12)
    for _ in range(300):
        k = int(rng.integers(2, 11))
        pool = rng.choice(vocabulary, size=6, replace=False)  # few traits: many alike names
        traits = [[str(t) for t in rng.choice(pool, size=int(rng.integers(0, 5)), replace=False)]
                  for _ in range(k)]
        names, actions = unique_names(traits), recommend_actions(traits)
        assert len(set(names)) == k, traits
        assert not [(a, b) for a, b in combinations(names, 2) if share_all_but_last(a, b)], \
            (traits, names)
        for i, j in combinations(range(k), 2):
            if alike(phrases(names[i]), phrases(names[j])):
                assert actions[i] != actions[j], (traits, names, actions)
