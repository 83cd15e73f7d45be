"""Answers and runs as terminal text: marks dropped where they are Slack's, kept in code."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers.terminal import plain
from bot.cli import main
from tests.segmentation.test_number_codes import wholesale_customers


def test_bold_and_code_marks_go_but_stars_inside_code_stay() -> None:
    text = "*Run 3* from `postgresql://ana:***@db/crm` (`SELECT * FROM t`)"
    assert plain(text) == "Run 3 from postgresql://ana:***@db/crm (SELECT * FROM t)"


def test_the_refresh_summary_lists_the_numbers_read_as_codes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "wholesale.csv"
    wholesale_customers().to_csv(data, index=False)

    assert main(["refresh", "--data", str(data), "--db", str(tmp_path / "s.db")],
                environ={}) == 0

    out = capsys.readouterr().out
    assert "read as codes, not amounts: Channel (1/2), Region (1/2/3)" in out
