"""Benchmark order histories: detect, parse and aggregate generated order lines to features.

    python bench/orders.py --customers 1000000 --repeat 3 [--csv]

Order lines (about ten per customer) are generated once per size and seed into bench/out/
(git-ignored) as Parquet, and with --csv also as CSV, read the way a refresh reads a file
(`load_table`: ids and dates as text). Each repeat runs in a fresh Python process. Per step
it reports wall and CPU time (CPU time moves less when other work shares the machine) and
the step's own peak RSS (the kernel's high-water mark is reset before each step); the
repeat with the fastest customer_features is kept. bench/run.py may call `run_orders`.
Prints a table and writes bench/out/orders-<customers>-<parquet|csv>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
STEPS = ("load", "detect", "parse_orders", "customer_features")
TARGET_SECONDS = 10.0  # issue 13: 10M order rows to features on 2 cores


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        result = measure_once(Path(args.worker))
        Path(args.result).write_text(json.dumps(result, indent=1))
        return 0
    sources = ["parquet"] + (["csv"] if args.csv else [])
    for source in sources:
        report = run_orders(args.customers, seed=args.seed, repeat=args.repeat, source=source,
                            out=args.out)
        print(render(report))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=lambda text: int(text.replace("_", "")),
                        default=1_000_000, help="customers to generate (default 1000000: "
                        "about 10M order lines)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="fresh processes per source; the fastest is kept (default 3)")
    parser.add_argument("--csv", action="store_true",
                        help="also measure reading the lines from CSV text, as a refresh does")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    return parser


# --- the parent: data once, one process per repeat ---------------------------------------------

def run_orders(customers: int, *, seed: int = 0, repeat: int = 3, source: str = "parquet",
               out: Path = OUT) -> dict[str, Any]:
    """Measure every step on generated order lines in ``repeat`` fresh processes."""
    out.mkdir(parents=True, exist_ok=True)
    path = ensure_orders(out, customers, seed, source)
    runs = [_spawn(path, out) for _ in range(max(repeat, 1))]
    best = min(runs, key=lambda run: run["steps"]["customer_features"]["seconds"])
    report = {"customers": customers, "seed": seed, "source": source, "file": path.name,
              "repeat": len(runs), "machine": _machine(), "load_before": os.getloadavg(),
              "best": best,
              "customer_features_seconds_all": [
                  run["steps"]["customer_features"]["seconds"] for run in runs]}
    stem = out / f"orders-{customers}-{source}"
    stem.with_suffix(".json").write_text(json.dumps(report, indent=1))
    stem.with_suffix(".md").write_text(render(report) + "\n")
    return report


def ensure_orders(out: Path, customers: int, seed: int, source: str) -> Path:
    """The generated order lines for a size and seed, written once."""
    path = out / f"orders-{customers}-seed{seed}.{'csv' if source == 'csv' else 'parquet'}"
    if not path.exists():
        sys.path.insert(0, str(ROOT))
        from segmentation.synthetic_orders import generate_orders, write_orders

        started = time.perf_counter()
        lines = generate_orders(customers, seed=seed)
        generated = time.perf_counter() - started
        write_orders(lines, path)
        print(f"generated {len(lines):,} order lines for {customers:,} customers in "
              f"{generated:.1f} s -> {path.relative_to(ROOT)}", file=sys.stderr)
    return path


def _spawn(path: Path, out: Path) -> dict[str, Any]:
    result = out / f"orders-worker-{os.getpid()}.json"
    result.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", str(path),
                    "--result", str(result)], check=True, cwd=ROOT)
    measured: dict[str, Any] = json.loads(result.read_text())
    result.unlink()
    return measured


def _machine() -> dict[str, Any]:
    import platform

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def render(report: dict[str, Any]) -> str:
    best = report["best"]
    all_runs = ", ".join(f"{s:.2f}" for s in report["customer_features_seconds_all"])
    lines = [
        f"## Order lines to customer features: {best['rows']:,} lines, "
        f"{best['customers']:,} customers ({report['source']})",
        "",
        f"{report['machine']['cpus']} CPUs, load before {report['load_before'][0]:.2f}; "
        f"fastest of {report['repeat']} fresh processes (customer_features: {all_runs} s)",
        "",
        "| step | seconds | CPU seconds | RSS before (MiB) | peak RSS in the step (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for step in STEPS:
        measured = best["steps"][step]
        lines.append(f"| {step} | {measured['seconds']:.2f} | {measured['cpu_seconds']:.2f} | "
                     f"{measured['rss_before_mib']:,.0f} | {measured['peak_mib']:,.0f} |")
    seconds = best["steps"]["customer_features"]["seconds"]
    verdict = "within" if seconds <= TARGET_SECONDS else "OVER"
    lines += ["", f"customer_features: {seconds:.2f} s, {verdict} the {TARGET_SECONDS:.0f} s "
              f"target; process peak RSS {best['process_peak_mib']:,.0f} MiB"]
    return "\n".join(lines)


# --- the worker: one fresh process ----------------------------------------------------------

def measure_once(path: Path) -> dict[str, Any]:
    """Time each step on one file, with the peak RSS each step reached."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from segmentation.loading import load_table
    from segmentation.orders import customer_features, detect_order_history, parse_orders

    steps: dict[str, dict[str, float]] = {}
    frame = _step(steps, "load", lambda: load_table(path) if path.suffix == ".csv"
                  else pd.read_parquet(path))
    columns = _step(steps, "detect", lambda: detect_order_history(frame))
    if columns is None:
        raise SystemExit(f"{path.name} was not recognised as an order history")
    orders, _ = _step(steps, "parse_orders", lambda: parse_orders(frame, columns))
    features = _step(steps, "customer_features", lambda: customer_features(orders, columns))
    return {"rows": len(frame), "customers": len(features), "roles": columns.describe(),
            "steps": steps,
            "process_peak_mib": max(step["peak_mib"] for step in steps.values())}


def _step(steps: dict[str, dict[str, float]], name: str, work: Callable[[], Any]) -> Any:
    _reset_peak()
    before = _status_mib("VmRSS:")
    started, cpu = time.perf_counter(), time.process_time()
    value = work()
    steps[name] = {"seconds": round(time.perf_counter() - started, 3),
                   "cpu_seconds": round(time.process_time() - cpu, 3),
                   "rss_before_mib": before, "peak_mib": _peak_mib()}
    return value


def _reset_peak() -> None:
    """Start the kernel's peak-RSS counter again from the current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass  # elsewhere a step's peak is the process's peak so far


def _status_mib(field: str) -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith(field):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _peak_mib() -> float:
    """The peak RSS since the last reset (or since the process started, where there is none)."""
    if Path("/proc/self/status").exists():
        return _status_mib("VmHWM:")
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


if __name__ == "__main__":
    sys.exit(main())
