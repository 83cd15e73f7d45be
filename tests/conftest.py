"""Fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# beside the checkout, read-only; SEGBOT_REFERENCE_CSV points elsewhere (a clone in /tmp)
REFERENCE_CSV = Path(os.environ.get("SEGBOT_REFERENCE_CSV")
                     or ROOT.parent / "shared" / "data" / "marketing_campaign.csv")

# Tests talk only to servers on 127.0.0.1; slack-sdk would otherwise honour a proxy.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(_name, None)

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def reference_csv() -> Path:
    """The real customer table, from ../shared/data beside the checkout (never copied in)."""
    if not REFERENCE_CSV.exists():
        pytest.fail(f"reference data missing: {REFERENCE_CSV} (the tests read the real table "
                    "beside the checkout; set SEGBOT_REFERENCE_CSV to its path if it is "
                    "elsewhere)")
    return REFERENCE_CSV
