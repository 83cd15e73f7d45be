"""Benchmark issue 16: `segbot refresh --engine spark` on Spark local[2] beside the local engine.

    python bench/spark.py --rows 1000000,10000000

Per size, on `segbot sample --rows N --seed 7` written as Parquet (once, into bench/out/spark/),
each engine refreshes a fresh store as a whole process (spawn to exit). Memory is sampled every
0.2 s from /proc over the process and its descendants: the peak of the Python process, of the
JVM (pyspark's child), and of both together. Phases come from the arrival times of the
progress lines on stderr. Then both stores are compared: the same k and names, and the share
of customers in the same segment (both are first runs: ids are by size in both).

Writes bench/out/spark.json and prints one row per size and engine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATA_SEED = 7
MIB = 2**20
_LINE = re.compile(r"^\[\s*[\d.]+s\] (.*)$")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000",
                        type=lambda text: [int(v) for v in text.replace("_", "").split(",")])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g",
                        help="spark.driver.memory: local mode's one JVM holds the cache and "
                             "the collected assignments (default 6g)")
    parser.add_argument("--engines", default="local,spark")
    args = parser.parse_args(argv)
    folder = OUT / "spark"
    folder.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"load_before": os.getloadavg(), "runs": []}
    for rows in args.rows:
        data = folder / f"customers-{rows}-seed{DATA_SEED}.parquet"
        if not data.exists():
            _segbot(["sample", "--rows", str(rows), "--seed", str(DATA_SEED), "--out", str(data)])
        stores = {}
        for engine in args.engines.split(","):
            db = folder / f"{engine}-{rows}.db"
            for stale in folder.glob(f"{db.name}*"):
                stale.unlink()
            extra = [] if engine == "local" else [
                "--engine", "spark", "--spark-conf", f"spark.driver.memory={args.driver_memory}",
                "--spark-conf", "spark.sql.shuffle.partitions=8",
                "--spark-conf", "spark.ui.enabled=false"]
            run = _measure(["refresh", "--data", str(data), "--db", str(db), *extra],
                           {"SEGBOT_SPARK_MASTER": args.master})
            run.update(rows=rows, engine=engine, store_mib=round(db.stat().st_size / MIB, 1))
            report["runs"].append(run)
            stores[engine] = db
            _print(run)
        local_db = folder / f"local-{rows}.db"
        if "spark" in stores and local_db.exists():  # this run's, or an earlier run's
            parity = _compare(local_db, stores["spark"])
            parity["rows"] = rows
            report.setdefault("parity", []).append(parity)
            print(f"  parity at {rows:,}: {parity}")
    report["load_after"] = os.getloadavg()
    (OUT / "spark.json").write_text(json.dumps(report, indent=1))
    print(f"load before {report['load_before']}, after {report['load_after']}")
    return 0


def _segbot(args: list[str]) -> None:
    subprocess.run([sys.executable, "-m", "bot.cli", *args], check=True, cwd=ROOT)


def _measure(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", "import sys; from bot.cli import main; "
                              "sys.exit(main())", *args], cwd=ROOT, stderr=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, text=True, env={**os.environ, **env})
    peaks = {"python_mib": 0.0, "jvm_mib": 0.0, "total_mib": 0.0}
    done = threading.Event()
    watcher = threading.Thread(target=_watch, args=(child.pid, peaks, done), daemon=True)
    watcher.start()
    lines: list[tuple[float, str]] = []
    other: list[str] = []  # Spark's and Python's own messages: the tail is shown on failure
    assert child.stderr is not None
    for line in child.stderr:
        found = _LINE.match(line.strip())
        if found:
            lines.append((time.perf_counter() - started, found.group(1)))
        else:
            other = [*other[-40:], line.rstrip()]
    code = child.wait()
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    if code != 0:
        raise SystemExit("\n".join([*other, f"segbot {' '.join(args)} exited {code}"]))
    phases = {}
    for (at, message), (until, _) in zip(lines, [*lines[1:], (wall, "")], strict=True):
        phases[message[:48]] = round(until - at, 2)
    return {"wall_s": round(wall, 2), **{k: round(v) for k, v in peaks.items()},
            "phases": phases, "load": os.getloadavg()}


def _watch(pid: int, peaks: dict[str, float], done: threading.Event) -> None:
    while not done.is_set():
        python = jvm = 0.0
        for process in _tree(pid):
            rss = _rss_mib(process)
            if process == pid:
                python += rss
            elif b"java" in _cmdline(process):
                jvm += rss
            else:
                python += rss
        peaks["python_mib"] = max(peaks["python_mib"], python)
        peaks["jvm_mib"] = max(peaks["jvm_mib"], jvm)
        peaks["total_mib"] = max(peaks["total_mib"], python + jvm)
        time.sleep(0.2)


def _tree(pid: int) -> list[int]:
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = Path(f"/proc/{parent}/task").iterdir()
            children = [int(c) for t in tasks
                        for c in (t / "children").read_text().split()]
        except OSError:
            continue
        found += children
        frontier += children
    return found


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _compare(local_db: Path, spark_db: Path) -> dict[str, Any]:
    from storage.store import Store

    def read(db: Path) -> tuple[list[str], Any]:
        store = Store(db)
        run = store.current_run()
        assert run is not None
        names = [s.name for s in store.list_segments(run.id)]
        return names, store.assignment_frame(run.id).set_index("customer_id")["segment_id"]

    local_names, local = read(local_db)
    spark_names, spark = read(spark_db)
    same = (spark.reindex(local.index) == local).mean()
    return {"same_names": local_names == spark_names, "k": [len(local_names), len(spark_names)],
            "same_segment_share": round(float(same), 6), "customers": [len(local), len(spark)]}


def _print(run: dict[str, Any]) -> None:
    print(f"{run['engine']:>5} {run['rows']:>11,}: {run['wall_s']:7.1f} s, peak "
          f"{run['total_mib'] / 1024:.2f} GiB (Python {run['python_mib'] / 1024:.2f}, "
          f"JVM {run['jvm_mib'] / 1024:.2f}), store {run['store_mib']} MiB, load "
          f"{run['load'][0]:.1f}")
    for phase, seconds in run["phases"].items():
        print(f"        {seconds:7.2f} s  {phase}")


if __name__ == "__main__":
    raise SystemExit(main())
