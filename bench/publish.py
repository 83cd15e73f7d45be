"""Benchmark publishing a run: `Store.publish_run` against its floor, an `executemany` of as
many narrow rows into a fresh SQLite file (issue 14: publish within 2x of it).

    python bench/publish.py --rows 1000000,10000000

What is published is a real engine result: synthetic customers (`generate_customers`)
segmented by `segment_customers`, 1M customers at most; a larger size repeats that result
with distinct ids (10M = the 1M result ten times), so the columns, types and values are the
engine's while making the result stays cheap. Each size runs in a fresh process, in rounds:
the publish into a fresh store, then the floor (run_id, customer_id, segment_id, distance
tuples built beforehand, one `executemany` in one transaction, SQLite's defaults), each on a
fresh file; the best round of each is reported, and the ratio is the median of the
rounds' ratios, which a shared machine's drifting load skews less. The publish is split into
encoding (checks, id order, column types: `customers.customer_rows`), inserting the
customers table, and the rest (the run, segments, exclusions, the commit and its WAL
checkpoint). Peak RSS is the most the process held during the publish above what it held
before (the result itself), sampled every 2 ms (VmHWM cannot be reset on every kernel).

Then, on the last store: `Store.get_customer` p99 over random ids in the process (target
10 ms), and `segbot customer ID` as a whole process (target 0.5 s at 10M). Writes
bench/out/publish.json; bench/run.py runs it with --publish-rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import repeat
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BASE_ROWS = 1_000_000
TARGET_RATIO = 2.0
LOOKUP_P99_MS = 10.0
CLI_LOOKUP_S = 0.5


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default=str(BASE_ROWS),
                        type=lambda text: [int(v) for v in text.replace("_", "").split(",")],
                        help="comma-separated sizes (default 1000000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per size (default 3)")
    parser.add_argument("--lookups", type=int, default=1000,
                        help="get_customer calls timed on each store (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        result = measure(args.worker, args.repeat, args.lookups, args.seed, args.out)
        (args.out / f"publish-{args.worker}.json").write_text(json.dumps(result, indent=1))
        return 0
    results = [spawn(rows, args) for rows in sorted(set(args.rows))]
    report = {"load_before": results[0]["load"][0], "sizes": results,
              "load_after": os.getloadavg()}
    (args.out / "publish.json").write_text(json.dumps(report, indent=1))
    print(format_report(results))
    return 0


def spawn(rows: int, args: argparse.Namespace) -> dict[str, Any]:
    """One size in a process of its own, so its peak RSS is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(rows),
               "--repeat", str(args.repeat), "--lookups", str(args.lookups),
               "--seed", str(args.seed), "--out", str(args.out)]
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads((args.out / f"publish-{rows}.json").read_text())


def measure(rows: int, rounds: int, lookups: int, seed: int, out: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    started = time.perf_counter()
    result = engine_result(rows, seed)
    made_s = time.perf_counter() - started
    load = [os.getloadavg()]
    floors, publishes = [], []
    for _ in range(max(1, rounds)):
        # The publish first: its RSS is then measured before the floor's tuples come and go.
        publishes.append(publish(result, out / f"publish-{rows}.db"))
        floors.append(floor_seconds(result, out / f"floor-{rows}.db"))
    load.append(os.getloadavg())
    best = min(publishes, key=lambda p: p["total_s"])
    ratios = [p["total_s"] / f for p, f in zip(publishes, floors, strict=True)]
    return {"rows": rows, "result_made_s": round(made_s, 1), "floor_s": min(floors),
            "floors_s": floors, "publish": best, "publishes_s": [p["total_s"] for p in publishes],
            "peak_rss_mib": max(p["peak_rss_mib"] for p in publishes),
            "ratio": statistics.median(ratios), "load": load,
            **lookup_times(out / f"publish-{rows}.db", result, lookups, seed)}


def engine_result(rows: int, seed: int) -> Any:
    """The engine's result for min(rows, 1M) synthetic customers, repeated up to ``rows``."""
    from segmentation.engine import segment_customers
    from segmentation.model import ModelConfig
    from segmentation.synthetic import generate_customers

    base = segment_customers(generate_customers(min(rows, BASE_ROWS), seed=seed),
                             source="synthetic", config=ModelConfig(seed=seed))
    copies = -(-rows // len(base.assignments))
    return base if copies == 1 else repeated(base, copies, rows)


def repeated(base: Any, copies: int, rows: int) -> Any:
    """``base`` ``copies`` times over, cut to ``rows`` customers, each copy's ids distinct."""
    import pandas as pd

    def ids(column: pd.Series) -> pd.Series:
        # Numbered customers stay numbered (copy c adds c * 10^digits), as a real table's are:
        # the store orders decimal ids faster than other text.
        numbers = pd.to_numeric(column, errors="coerce")
        if numbers.notna().all():
            step = 10 ** len(str(int(numbers.max())))
            return pd.concat([(numbers.astype("int64") + copy * step).astype(str)
                              for copy in range(copies)], ignore_index=True)
        return pd.concat([column.astype(str) + ("" if copy == 0 else f"-{copy}")
                          for copy in range(copies)], ignore_index=True)

    def frame(data: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([data] * copies, ignore_index=True).assign(
            customer_id=ids(data["customer_id"])).iloc[:rows]

    return replace(base, assignments=frame(base.assignments),
                   attributes=frame(base.attributes), excluded=frame(base.excluded))


def floor_seconds(result: Any, path: Path) -> float:
    """An executemany of one narrow row per customer into a fresh file, committed."""
    ids = sorted(result.assignments["customer_id"].astype(str).tolist())
    rows = list(zip(repeat(1, len(ids)), ids, result.assignments["segment_id"].tolist(),
                    result.assignments["distance"].tolist(), strict=True))
    del ids
    _remove(path)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("CREATE TABLE assignments (run_id INTEGER, customer_id TEXT, "
                     "segment_id INTEGER, distance REAL)")
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO assignments VALUES (?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        return round(time.perf_counter() - started, 3)
    finally:
        conn.close()
        _remove(path)


def publish(result: Any, path: Path) -> dict[str, Any]:
    """Publish ``result`` into a fresh store: seconds in all and per part, peak RSS added."""
    from datetime import UTC, datetime

    from storage import customers
    from storage import store as store_module

    _remove(path)
    store = store_module.Store(path)
    parts: dict[str, float] = {}
    moment = datetime(2026, 3, 2, tzinfo=UTC)
    with _timed(customers, "customer_rows", "encode", parts), \
            _timed(store_module, "_insert_customers", "insert customers", parts), \
            _PeakRss() as peak:
        started = time.perf_counter()
        store.publish_run(result, started_at=moment, finished_at=moment)
        total = time.perf_counter() - started
    parts["run, segments, exclusions, commit"] = total - sum(parts.values())
    return {"total_s": round(total, 3), "parts_s": {k: round(v, 3) for k, v in parts.items()},
            "peak_rss_mib": round(peak.added_mib, 1),
            "file_mib": round(path.stat().st_size / 2**20, 1)}


def lookup_times(path: Path, result: Any, lookups: int, seed: int) -> dict[str, Any]:
    """`Store.get_customer` in this process, and `segbot customer ID` as a whole process."""
    from storage.store import Store

    ids = result.assignments["customer_id"].astype(str)
    picks = [ids.iloc[i] for i in random.Random(seed).sample(range(len(ids)), lookups)]
    store = Store(path)
    times = []
    for customer_id in picks:
        started = time.perf_counter()
        store.get_customer(customer_id)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    cli = []
    for customer_id in picks[:3]:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "customer", customer_id, "--db",
                        str(path)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        cli.append(round(time.perf_counter() - started, 3))
    return {"lookup_ms": {"p50": round(times[len(times) // 2], 3),
                          "p99": round(times[int(len(times) * 0.99) - 1], 3),
                          "max": round(times[-1], 3)},
            "cli_customer_s": cli}


class _timed:
    """Time every call of ``module.name`` into ``parts[label]`` while the block runs."""

    def __init__(self, module: Any, name: str, label: str, parts: dict[str, float]) -> None:
        self.module, self.name, self.label, self.parts = module, name, label, parts

    def __enter__(self) -> None:
        self.real: Callable[..., Any] = getattr(self.module, self.name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return self.real(*args, **kwargs)
            finally:
                self.parts[self.label] = self.parts.get(self.label, 0.0) + \
                    time.perf_counter() - started

        setattr(self.module, self.name, timed)

    def __exit__(self, *exc: object) -> None:
        setattr(self.module, self.name, self.real)


class _PeakRss:
    """The most RSS the process held while the block ran, above what it held before."""

    def __enter__(self) -> _PeakRss:
        self.baseline = self.peak = _rss_mib()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self) -> None:
        while not self.done.wait(0.002):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, _rss_mib())
        self.added_mib = self.peak - self.baseline


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def format_report(results: list[dict[str, Any]]) -> str:
    lines = ["| customers | publish (s) | floor (s) | ratio (median) | encode / insert / rest (s)"
             " | peak RSS added | get_customer p50 / p99 | `segbot customer` |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        parts = " / ".join(f"{v:.2f}" for v in r["publish"]["parts_s"].values())
        lines.append(
            f"| {r['rows']:,} | {r['publish']['total_s']:.2f} | {r['floor_s']:.2f} | "
            f"{r['ratio']:.2f}x | {parts} | {r['peak_rss_mib']:,.0f} MiB | "
            f"{r['lookup_ms']['p50']:.2f} / {r['lookup_ms']['p99']:.2f} ms | "
            f"{min(r['cli_customer_s']):.2f} s |")
    lines.append("")
    lines += [verdict(r) for r in results]
    return "\n".join(lines)


def verdict(r: dict[str, Any]) -> str:
    """The met/missed lines of one size."""
    checks = [(f"publish within {TARGET_RATIO:g}x the executemany floor", r["ratio"],
               r["ratio"] <= TARGET_RATIO, "x"),
              (f"get_customer p99 <= {LOOKUP_P99_MS:g} ms", r["lookup_ms"]["p99"],
               r["lookup_ms"]["p99"] <= LOOKUP_P99_MS, " ms"),
              (f"`segbot customer ID` <= {CLI_LOOKUP_S:g} s", min(r["cli_customer_s"]),
               min(r["cli_customer_s"]) <= CLI_LOOKUP_S, " s")]
    return "\n".join(f"{r['rows']:>11,}: {'met' if ok else 'MISSED'}: {name} ({value:.2f}{unit})"
                     for name, value, ok, unit in checks)


if __name__ == "__main__":
    raise SystemExit(main())
