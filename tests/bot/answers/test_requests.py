"""What users type after a command is parsed strictly, and explained when it is not understood."""

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
