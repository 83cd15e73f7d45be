"""RFM names follow each segment's numbers against the average customer of its run."""

from __future__ import annotations

import pytest

from segmentation.result import FeatureStat, SegmentProfile
from segmentation.rfm_naming import (
    RfmName,
    base_name,
    fits,
    name_segments,
    name_still_fits,
    standing,
)

# The average customer of a made-up shop.
POPULATION = {"recency_days": 200.0, "frequency": 4.0, "monetary_total": 300.0,
              "monetary_avg": 60.0, "tenure_days": 400.0, "median_interval_days": 40.0,
              "trend": 0.0, "one_time_buyer": 0.4}


def segment(segment_id: int, size: int = 100, **means: float) -> SegmentProfile:
    """A segment whose means are the population's except where given."""
    values = POPULATION | means
    stats = tuple(FeatureStat(feature, feature, value, value, POPULATION[feature],
                              value / POPULATION[feature] * 100 if POPULATION[feature] else None,
                              (value - POPULATION[feature]) / (abs(POPULATION[feature]) or 1))
                  for feature, value in values.items())
    return SegmentProfile(segment_id, f"segment {segment_id}", "", "", size, size / 1000, (),
                          stats, tuple(values), tuple(s.z for s in stats))


CHAMPIONS = dict(recency_days=10, frequency=15, monetary_total=1500, median_interval_days=20,
                 trend=0.3, one_time_buyer=0.0)
AT_RISK = dict(recency_days=180, frequency=12, monetary_total=900, median_interval_days=25,
               trend=-0.6, one_time_buyer=0.0)
NEW = dict(recency_days=15, frequency=1.5, monetary_total=80, tenure_days=30, trend=1.0,
           one_time_buyer=0.6)
LOST = dict(recency_days=400, frequency=1.1, monetary_total=40, tenure_days=420,
            one_time_buyer=0.9)
HIBERNATING = dict(recency_days=330, frequency=2.5, monetary_total=120,
                   median_interval_days=60, one_time_buyer=0.1)


@pytest.mark.parametrize(("means", "name"), [
    (CHAMPIONS, RfmName.CHAMPIONS), (AT_RISK, RfmName.AT_RISK), (NEW, RfmName.NEW),
    (LOST, RfmName.LOST), (HIBERNATING, RfmName.HIBERNATING),
])
def test_each_kind_of_customer_fits_its_name_best(means: dict[str, float],
                                                  name: RfmName) -> None:
    degrees = fits(standing(segment(1, **means).stats))
    assert max(degrees, key=lambda n: degrees[n]) == name


def test_a_run_gets_one_name_per_segment_its_numbers_bear_out() -> None:
    run = [segment(1, **LOST), segment(2, **CHAMPIONS), segment(3, **AT_RISK),
           segment(4, **NEW), segment(5, **HIBERNATING)]
    named = name_segments(run)
    assert [s.name for s in named] == ["Lost", "Champions", "At risk", "New customers",
                                       "Hibernating"]
    assert named[1].description == (
        "10% of customers (100): bought 15.0 times, last 10 days ago, 1,500 in total "
        "(60 per order). The average customer: bought 4.0 times, last 200 days ago, "
        "300 in total (60 per order).")
    assert "90% bought only once" in named[0].description
    assert len({s.action for s in named}) == len(named)


def test_two_champion_like_segments_are_not_both_champions() -> None:
    keen = segment(1, **CHAMPIONS)
    steady = segment(2, **(CHAMPIONS | dict(recency_days=30, frequency=10, trend=0.0)))
    names = [s.name for s in name_segments([steady, keen])]
    assert names == ["Loyal", "Champions"]  # the more recent, more frequent one is Champions


def test_more_lost_segments_than_lost_names_share_one_with_what_sets_them_apart() -> None:
    run = [segment(i, **(LOST | dict(monetary_avg=basket)))
           for i, basket in enumerate((20, 90, 25, 85), start=1)]
    names = [s.name for s in name_segments(run)]
    assert len(set(names)) == 4
    assert {base_name(n) for n in names} == {RfmName.LOST, RfmName.ONE_TIME}
    assert sorted(names) == ["Lost · big baskets", "Lost · small baskets",
                             "One-time buyers · big baskets", "One-time buyers · small baskets"]


def test_a_segment_of_one_time_buyers_is_never_given_a_loyal_name() -> None:
    once = segment(1, **(CHAMPIONS | dict(one_time_buyer=0.55, recency_days=250)))
    assert base_name(name_segments([once])[0].name) in (RfmName.ONE_TIME, RfmName.LOST)


def test_a_name_is_kept_while_the_numbers_still_bear_it_out() -> None:
    drifted = segment(1, **(CHAMPIONS | dict(recency_days=40, frequency=11)))
    assert name_still_fits("Champions", drifted.stats)
    lapsed = segment(1, **(CHAMPIONS | dict(recency_days=250, trend=-0.8)))
    assert not name_still_fits("Champions", lapsed.stats)
    assert name_still_fits("At risk", lapsed.stats)
    assert name_still_fits("Lost · big baskets (B)", segment(1, **LOST).stats)
    assert not name_still_fits("High income · Big spenders", drifted.stats)
