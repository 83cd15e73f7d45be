"""Time pandas' Excel readers on a customer workbook: calamine (Rust) against openpyxl.

    python bench/excel_readers.py --rows 100000 --repeat 3

Writes N synthetic customers in the reference schema as an .xlsx (xlsxwriter; enrolment
dates as Excel dates, as a workbook saved from Excel has them) into bench/out/ once, then
reads the first sheet with each engine `--repeat` times in this process, and prints the
fastest read of each and the ratio. openpyxl is only needed to run this comparison.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ENGINES = ("calamine", "openpyxl")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    path = ensure_workbook(args.out, args.rows)
    best = {engine: min(time_read(path, engine) for _ in range(args.repeat))
            for engine in ENGINES}
    print(f"{args.rows:,} rows × 29 columns, {path.stat().st_size / 1e6:.1f} MB: {path.name}")
    for engine, seconds in best.items():
        print(f"  {engine:9s} {seconds:6.2f} s  ({args.rows / seconds:,.0f} rows/s)")
    print(f"  openpyxl / calamine: {best['openpyxl'] / best['calamine']:.1f}×")
    return 0


def ensure_workbook(out: Path, rows: int) -> Path:
    """The workbook of `rows` synthetic customers, written on first use and cached."""
    path = out / f"customers-{rows}-seed0.xlsx"
    if not path.exists():
        from segmentation.synthetic import generate_customers

        out.mkdir(parents=True, exist_ok=True)
        frame = generate_customers(rows, seed=0)
        frame["Dt_Customer"] = pd.to_datetime(frame["Dt_Customer"], format="%d-%m-%Y")
        partial = path.with_suffix(".partial.xlsx")
        # not xlsxwriter's constant_memory mode: pandas writes column by column, and that
        # mode keeps only cells written row by row
        frame.to_excel(partial, index=False, sheet_name="Customers", engine="xlsxwriter")
        partial.replace(path)
    return path


def time_read(path: Path, engine: str) -> float:
    """Seconds to read the first sheet into a DataFrame with `engine`."""
    started = time.perf_counter()
    frame = pd.read_excel(path, engine=engine)  # type: ignore[call-overload]
    elapsed = time.perf_counter() - started
    assert len(frame) > 0
    return elapsed


if __name__ == "__main__":
    raise SystemExit(main())
