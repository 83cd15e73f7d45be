"""The engine's fixtures: the reference table segmented once for every test that reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.engine import segment_customers
from segmentation.loading import load_table
from segmentation.result import SegmentationResult


@pytest.fixture(scope="session")
def reference_result(reference_csv: Path) -> SegmentationResult:
    """The shipped reference table segmented with the default configuration (seed 0)."""
    return segment_customers(load_table(reference_csv), source="ref")
