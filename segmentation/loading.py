"""Read a customer table file: CSV/TSV text (`segmentation.text_tables`) or Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from segmentation.errors import DataError
from segmentation.result import CleaningStep
from segmentation.sources import FileSource, LoadedTable
from segmentation.text_tables import MISSING_MARKERS, TableBytes, read_text_table

__all__ = ["MISSING_MARKERS", "load_table", "read_file"]  # the markers: also database reads

_PARQUET_SUFFIXES = {".parquet", ".pq"}


def load_table(path: str | Path) -> pd.DataFrame:
    """The rows of a customer table file (see `read_file`), for tests and benchmarks."""
    return read_file(FileSource(Path(path))).frame


def read_file(source: FileSource) -> LoadedTable:
    """The table in a file, with what reading it took (see `segmentation.sources`)."""
    _check_readable(source.path)
    content = TableBytes(source.path.name, path=source.path)
    steps: tuple[CleaningStep, ...] = ()
    if source.path.suffix.lower() in _PARQUET_SUFFIXES:
        frame = _read_parquet(content)
    else:
        text = read_text_table(content)
        frame, steps = text.frame, text.steps
    frame.columns = [str(column).strip() for column in frame.columns]
    if frame.empty:
        raise DataError(f"{content.name} has a header but no rows: nothing to segment")
    return LoadedTable(frame, source.describe(), steps)


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give the path of a CSV, TSV or Parquet file")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes)")


def _read_parquet(content: TableBytes) -> pd.DataFrame:
    assert content.path is not None
    try:
        return pd.read_parquet(content.path)
    except Exception as error:  # pyarrow raises many unrelated types for a bad file
        raise DataError(f"cannot read {content.name} as Parquet: {error}") from error
