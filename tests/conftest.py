"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent  # the checkout
DATA = ROOT / "tests" / "data"  # shipped fixtures: see tests/data/README.md
REFERENCE_CSV = DATA / "marketing_campaign.csv"
ORDERS_CSV = DATA / "cdnow_transactions.csv"

# Tests talk only to servers on 127.0.0.1; slack-sdk would otherwise honour a proxy.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def reference_csv() -> Path:
    """The real customer table (Kaggle "Customer Personality Analysis", CC0), shipped."""
    return REFERENCE_CSV
