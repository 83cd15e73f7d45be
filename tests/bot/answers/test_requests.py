"""What users type after a command is parsed strictly, and explained when it is not understood."""

import re

import pytest

from bot.answers import UsageError, parse_request


@pytest.mark.parametrize("command, text, kind, argument", [
    ("/segments", "", "overview", ""),
    ("/segments", "  HELP ", "help", ""),
    ("/segments", "changes", "changes", ""),
    ("/cluster", "2", "segment", "2"),
    ("/cluster", "007", "segment", "7"),
    ("/cluster", "3 export", "export", "3"),
    ("/customer", "5524", "customer", "5524"),
    ("/customer", "Müller-01", "customer", "Müller-01"),
])
def test_valid_requests(command: str, text: str, kind: str, argument: str) -> None:
    request = parse_request(command, text)
    assert (request.kind, request.argument) == (kind, argument)


@pytest.mark.parametrize("command, text", [
    ("/cluster", "１"),  # full-width digit: not a segment number a user meant
    ("/cluster", "0"),
    ("/cluster", "-1"),
    ("/cluster", "1.5"),
    ("/cluster", "1; DROP TABLE runs"),
    ("/cluster", "2 delete"),
    ("/customer", ""),
    ("/customer", "a b"),
    ("/customer", "x" * 65),
    ("/segments", "everything"),
    ("/segments", "x" * 10_000),
])
def test_invalid_requests_explain_the_usage(command: str, text: str) -> None:
    with pytest.raises(UsageError, match="Usage|characters"):
        parse_request(command, text)


@pytest.mark.parametrize("command, text, kind, argument, condition", [
    ("/cluster", "2 where income > 50000", "audience", "2", "income > 50000"),
    ("/cluster", "2 WHERE age between 30 and 45 export", "export", "2",
     "age between 30 and 45"),
    ("/segments", "where marital status in (Married, Together)", "audience", "",
     "marital status in (Married, Together)"),
    ("/segments", "where not complain export", "export", "", "not complain"),
])
def test_where_requests_carry_their_condition(command: str, text: str, kind: str,
                                              argument: str, condition: str) -> None:
    request = parse_request(command, text)
    assert (request.kind, request.argument, request.condition) == (kind, argument, condition)
    assert request.audited == (kind == "export")
    assert request.subject == f"{argument or 'all segments'} where {condition}"


@pytest.mark.parametrize("command, text, expected", [
    ("/cluster", "where income > 5", "Usage: `/cluster N`"),
    ("/cluster", "0 where income > 5", "Usage: `/cluster N`"),
    ("/segments", "all where income > 5", "Usage: `/segments`"),
    ("/segments", "where", "the condition is empty"),
    ("/segments", "where income >", "expected a value"),
    ("/cluster", "2 where (income > 5 export", "expected `)`"),
])
def test_a_where_request_that_cannot_be_parsed_says_what_is_expected(
        command: str, text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=re.escape(expected)):
        parse_request(command, text)


@pytest.mark.parametrize("text, first, second", [
    ("compare 1 2", "1", "2"),
    ("COMPARE 04 3", "4", "3"),
    ("  compare   2   10 ", "2", "10"),
])
def test_compare_names_two_segments_in_the_order_typed(text: str, first: str,
                                                       second: str) -> None:
    request = parse_request("/segments", text)
    assert (request.kind, request.argument, request.other) == ("compare", first, second)


@pytest.mark.parametrize("text, expected", [
    ("compare", "two different segment numbers"),
    ("compare 1", "two different segment numbers"),
    ("compare 1 2 3", "two different segment numbers"),
    ("compare 1 two", "two different segment numbers"),
    ("compare 0 1", "two different segment numbers"),
    ("compare 1 -2", "two different segment numbers"),
    ("compare 3 3", "Segment 3 compared with itself"),
    ("compare 3 003", "Segment 3 compared with itself"),
])
def test_a_compare_without_two_different_segments_says_what_is_expected(
        text: str, expected: str) -> None:
    with pytest.raises(UsageError, match=expected):
        parse_request("/segments", text)


@pytest.mark.parametrize("command, text, argument", [
    ("/segments", "history", ""),
    ("/segments", " HISTORY ", ""),
    ("/cluster", "2 history", "2"),
    ("/cluster", "04 History", "4"),
])
def test_history_of_every_segment_or_one(command: str, text: str, argument: str) -> None:
    request = parse_request(command, text)
    assert (request.kind, request.argument) == ("history", argument)


@pytest.mark.parametrize("command, text", [
    ("/segments", "history 2"),
    ("/cluster", "history"),
    ("/cluster", "2 history now"),
    ("/cluster", "0 history"),
])
def test_a_history_in_another_form_explains_the_usage(command: str, text: str) -> None:
    with pytest.raises(UsageError, match="Usage"):
        parse_request(command, text)


def test_help_shows_every_form_with_an_example() -> None:
    from bot.answers.requests import HELP_TEXT

    examples = ["`/segments`", "`/segments changes`", "`/segments history`",
                "`/segments compare 1 2`", "`/cluster 2`", "`/cluster 2 history`",
                "`/cluster 2 export`", "`/cluster 2 where income > 50k and education = PhD`",
                "`/segments where days since last purchase >= 60`",
                "`/cluster 2 where age between 30 and 45 export`", "`/customer 5524`",
                "`/segments help`"]
    for example in examples:
        assert example in HELP_TEXT
        command, _, text = example.strip("`").partition(" ")
        parse_request(command, text)  # every example is a request segbot understands
