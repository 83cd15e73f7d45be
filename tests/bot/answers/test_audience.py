"""Answers about filtered audiences, on a refresh of the real reference table: the counts a
marketer would compute with pandas, the profile, the breakdown, and what a bad condition says."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from bot.answers import Answer, answer, parse_request
from storage.store import Store


def ask(store: Store, command: str, text: str) -> Answer:
    return answer(store, parse_request(command, text))


def said(reply: Answer) -> str:
    return "\n".join([reply.title, *(s.text for s in reply.sections),
                      *(f for s in reply.sections for f in s.fields)])


@pytest.fixture
def store(db_path: Path) -> Store:
    return Store(db_path)


def everyone(store: Store) -> pd.DataFrame:
    return pd.concat([store.segment_members(s.segment_id).assign(segment_id=s.segment_id)
                      for s in store.list_segments()])


def test_segments_where_counts_each_segment_as_pandas_does(store: Store) -> None:
    reply = ask(store, "/segments", "where income > 50k and education = phd")

    members = everyone(store)
    match = members[(members["Income"] > 50_000) & (members["Education"] == "PhD")]
    assert f"*{len(match):,} customers match*" in said(reply)
    for segment in store.list_segments():
        count = int((match["segment_id"] == segment.segment_id).sum())
        assert (f"{segment.segment_id} · {segment.name}: {count:,} (" in said(reply)
                or (count == 0 and "none in segment" in said(reply)))
    assert reply.in_channel and not reply.files and len(reply.charts) == 1
    assert "Their profile* (matching vs all)" in said(reply)


def test_cluster_where_compares_the_audience_with_its_segment(store: Store) -> None:
    reply = ask(store, "/cluster", "2 where days since last purchase >= 60")

    members = store.segment_members(2)
    match = members[members["Recency"] >= 60]
    segment = store.get_segment(2)
    assert f"*{len(match):,} customers match*: {len(match) / segment.size:.1%} of segment 2" \
        in said(reply)
    assert "matching vs segment vs all" in said(reply)
    assert "`/cluster 2 where days since last purchase >= 60 export`" in said(reply)


def test_an_empty_audience_says_so_and_suggests_loosening(store: Store) -> None:
    reply = ask(store, "/segments", "where income > 10m")
    assert "No customer in all segments matches `income > 10m`" in said(reply)
    assert "loosening" in said(reply) and not reply.charts


def test_a_handful_of_customers_is_counted_but_not_profiled(store: Store) -> None:
    reply = ask(store, "/segments", "where income > 160k")
    assert "customer" in said(reply) and "profile is not shown" in said(reply)


@pytest.mark.parametrize("text, expected", [
    ("where incme > 5", "Did you mean `Income`"),
    ("where education > 3", "`Education` is text"),
    ("where education = doctor", "its values are"),
    ("where income", "not yes/no"),
])
def test_a_condition_the_run_cannot_answer_is_an_error_saying_why(
        store: Store, text: str, expected: str) -> None:
    reply = ask(store, "/segments", text)
    assert reply.is_error and expected in said(reply)


def test_where_export_is_exactly_the_audience(store: Store) -> None:
    reply = ask(store, "/cluster", "3 where income > 50000 export")

    [csv_file] = reply.files
    exported = pd.read_csv(io.BytesIO(csv_file.render()), dtype={"customer_id": str})
    members = store.segment_members(3)
    assert sorted(exported["customer_id"]) == sorted(
        members.loc[members["Income"] > 50_000, "customer_id"])
    assert set(exported["segment_id"]) == {3} and not reply.in_channel


def test_help_lists_the_forms_and_the_fields_of_the_run(store: Store) -> None:
    text = said(ask(store, "/segments", "help"))
    for form in ("/cluster N where", "/segments where", "… where … export"):
        assert form in text
    assert "Days since last purchase (`Recency`): 0 to 99" in text
    assert "Education: Basic, Graduation, Master, PhD" in text
