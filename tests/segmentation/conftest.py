"""The engine's fixtures: tables segmented once per session for every test that reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmentation.engine import segment_customers
from segmentation.loading import load_table
from segmentation.model import ModelConfig
from segmentation.result import SegmentationResult
from segmentation.synthetic import generate_customers


@pytest.fixture(scope="session")
def reference_result(reference_csv: Path) -> SegmentationResult:
    """The shipped reference table segmented with the default configuration (seed 0)."""
    return segment_customers(load_table(reference_csv), source="ref")


@pytest.fixture(scope="session")
def synthetic_result() -> SegmentationResult:
    """6,000 synthetic customers (seed 4) segmented with the default configuration."""
    return segment_customers(generate_customers(6000, seed=4), source="t")


@pytest.fixture(scope="session")
def ten_segment_result() -> SegmentationResult:
    """4,000 synthetic customers (seed 1) forced into ten segments."""
    return segment_customers(generate_customers(4000, seed=1), source="t",
                             config=ModelConfig(k=10))
