"""Benchmark issue 14's scale targets: `segbot refresh` as a whole process at 1M and 10M
customers, each phase against its floor, the answers on that store, and the honest peer.

    python bench/scale.py --rows 1000000,10000000

Per size, on `segbot sample --rows N --seed 7` (generated once into bench/out/scale/):

- `segbot refresh` as a whole process on a fresh store: wall time from spawn to exit, the
  child's peak RSS (``os.wait4``), start-up (spawn until the "reading" line, imports included)
  and each phase from the arrival times of its progress lines on stderr;
- the floors, in a process of their own: `pyarrow.csv.read_csv` of the same file beside
  `read_table` (best of rounds), one `KMeans` pass (``max_iter=1``) from the fitted centres
  beside `fit_model`, and bench/publish.py's `executemany` of as many narrow rows into a fresh
  SQLite file;
- on the refreshed store: `segbot customer ID` as a whole process (best of 3), `/customer` p99
  in-process, and every chart's time drawn in-process;
- at 1M (--peer-rows): the pipeline a competent analyst writes (the same prepared features,
  `StandardScaler`, `KMeans(n_init=10)` for k = 2..10 on all rows, `silhouette_score(
  sample_size=10_000, random_state=0)`, k at the elbow) against our `fit_model` on the same
  frame: the speed ratio and both silhouettes on one shared sample of the scaled features.

--complete-rows 30000000 refreshes the sizes it names as a whole process only (time, peak RSS
and phases; no floors or answers): issue 14's "30M completes on this machine".

Before timing anything, segbot's modules are compiled to bytecode, as an install does.

Prints the target / measured / met|missed table and writes bench/out/scale.json;
bench/run.py runs it with --scale-rows.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DATA_SEED = 7  # issue 14 measures `segbot sample --rows N --seed 7`
FLOOR_RATIO = 2.0
PEER_SPEEDUP = 5.0
PEER_SILHOUETTE_GAP = 0.02
PEER_SAMPLE = 10_000
# `segbot refresh` prints these first words on stderr; each line starts the phase it names
PHASE_BY_WORD = {"reading": "read", "cleaning": "clean", "fitting": "fit",
                 "profiling": "profile", "matching": "match", "publishing": "publish"}
GIB = 2**30


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000000",
                        type=lambda text: [int(v) for v in text.replace("_", "").split(",")],
                        help="comma-separated sizes (default 1000000)")
    parser.add_argument("--complete-rows", default=[],
                        type=lambda text: [int(v) for v in text.replace("_", "").split(",")],
                        help="comma-separated sizes only refreshed, whole process: time, peak "
                             "and phases, no floors or answers (issue 14's 30M run)")
    parser.add_argument("--peer-rows", type=int, default=1_000_000,
                        help="rows for the honest peer; 0 skips it (default 1000000)")
    parser.add_argument("--lookups", type=int, default=1000,
                        help="/customer answers timed in-process (default 1000)")
    parser.add_argument("--chart-calls", type=int, default=5,
                        help="renders per chart (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="the model's seed")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.worker:
        sys.path.insert(0, str(ROOT))
        result = WORKERS[args.worker](args)
        _result_path(args.out, args.worker, args.size).write_text(json.dumps(result, indent=1))
        return 0
    report = run_all(args)
    print(format_report(report))
    return 0


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement of every size, each in processes of its own; writes scale.json."""
    report: dict[str, Any] = {"load_before": os.getloadavg(), "sizes": {}, "peer": None}
    compile_bytecode()
    for rows in sorted(set(args.rows)):
        data = ensure_sample(args.out, rows)
        db = args.out / "scale" / f"refresh-{rows}.db"
        size: dict[str, Any] = {"refresh": time_refresh_process(data, db, args.seed)}
        print(f"  scale {rows:,}: refresh {size['refresh']['wall_s']:.1f} s, "
              f"{size['refresh']['peak_rss_mib'] / 1024:.2f} GiB, load {_load()}", flush=True)
        size["floors"] = _spawn("floors", args, rows)
        size["floors"]["read_arrow_fresh_s"] = fresh_read_floor(data)
        size["answers"] = _spawn("answers", args, rows)
        size["cli_customer_s"] = time_cli_customer(db, size["answers"]["ids"][:3])
        report["sizes"][rows] = size
        print(f"  scale {rows:,}: floors and answers done, load {_load()}", flush=True)
    report["complete"] = {}
    for rows in sorted(set(args.complete_rows)):
        refreshed = time_refresh_process(ensure_sample(args.out, rows),
                                         args.out / "scale" / f"refresh-{rows}.db", args.seed)
        report["complete"][rows] = refreshed
        print(f"  scale {rows:,} (refresh only): {refreshed['wall_s']:.1f} s, "
              f"{refreshed['peak_rss_mib'] / 1024:.2f} GiB, load {_load()}", flush=True)
    if args.peer_rows:
        ensure_sample(args.out, args.peer_rows)
        report["peer"] = _spawn("peer", args, args.peer_rows)
        print(f"  scale: honest peer at {args.peer_rows:,} done, load {_load()}", flush=True)
    report["load_after"] = os.getloadavg()
    (args.out / "scale.json").write_text(json.dumps(report, indent=1))
    return report


def compile_bytecode() -> None:
    """Compile segbot's modules to bytecode first, as installing a package does: a process
    started with PYTHONDONTWRITEBYTECODE (this sandbox sets it) on an editable checkout
    otherwise compiles every module from source at each start, 0.3-0.45 s of start-up that
    no installed segbot pays."""
    for package in ("bot", "segmentation", "storage"):
        compileall.compile_dir(ROOT / package, quiet=1)


def ensure_sample(out: Path, rows: int) -> Path:
    """`segbot sample --rows N --seed 7`, written once and cached."""
    path = out / "scale" / f"customers-{rows}-seed{DATA_SEED}.tsv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.tsv")
        subprocess.run([sys.executable, "-m", "bot.cli", "sample", "--rows", str(rows),
                        "--seed", str(DATA_SEED), "--out", str(partial)], check=True, cwd=ROOT)
        partial.replace(path)
    return path


def time_refresh_process(data: Path, db: Path, seed: int) -> dict[str, Any]:
    """`segbot refresh` on a fresh store, timed from spawn to exit: phases by the arrival of
    its progress lines, peak RSS of the child from the kernel."""
    _remove_store(db)
    load = os.getloadavg()
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bot.cli", "refresh", "--data", str(data),
                              "--db", str(db), "--seed", str(seed)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    assert child.stderr is not None
    marks: list[tuple[str, float]] = [("start-up", 0.0)]
    lines = []
    for line in child.stderr:
        lines.append(line.rstrip())
        words = line.split("]", 1)[-1].split()
        phase = PHASE_BY_WORD.get(words[0].lower()) if words else None
        if phase is not None:
            marks.append((phase, time.perf_counter() - started))
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise SystemExit("segbot refresh failed:\n" + "\n".join(lines[-20:]))
    phases: dict[str, float] = {}
    for (phase, at), (_, until) in zip(marks, [*marks[1:], ("exit", wall)], strict=True):
        phases[phase] = round(phases.get(phase, 0.0) + until - at, 3)
    return {"wall_s": round(wall, 3), "phases_s": phases,
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "load": [load, os.getloadavg()]}


FRESH_READ = """\
import sys, time
import pyarrow.csv as pa_csv
started = time.perf_counter()
pa_csv.read_csv(sys.argv[1], parse_options=pa_csv.ParseOptions(delimiter="\\t"))
print(time.perf_counter() - started)
"""


def fresh_read_floor(data: Path, rounds: int = 3) -> float:
    """`pyarrow.csv.read_csv` as the first read of a fresh process, as the refresh's read is:
    its memory is touched for the first time (best of ``rounds`` processes)."""
    times = [float(subprocess.run([sys.executable, "-c", FRESH_READ, str(data)], check=True,
                                  capture_output=True, text=True).stdout)
             for _ in range(rounds)]
    return round(min(times), 3)


def time_cli_customer(db: Path, ids: list[str]) -> list[float]:
    """`segbot customer ID` as a whole process, once per id."""
    times = []
    for customer_id in ids:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bot.cli", "customer", customer_id, "--db",
                        str(db)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
        times.append(round(time.perf_counter() - started, 3))
    return times


def _spawn(worker: str, args: argparse.Namespace, rows: int) -> dict[str, Any]:
    path = _result_path(args.out, worker, rows)
    path.unlink(missing_ok=True)
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", worker,
                    "--size", str(rows), "--seed", str(args.seed), "--out", str(args.out),
                    "--lookups", str(args.lookups), "--chart-calls", str(args.chart_calls)],
                   check=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(path.read_text())
    return result


def _result_path(out: Path, worker: str, rows: int | None) -> Path:
    return out / "scale" / f"{worker}-{rows}.json"


def _remove_store(db: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal", ".refresh.lock"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- worker: the floors ------------------------------------------------------------------

def floors_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The read against pyarrow, the fit against one K-Means pass from its centres, and the
    publish's executemany floor, on the file the refresh read."""
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pa_csv
    from publish import floor_seconds  # bench/publish.py, beside this file
    from sklearn.cluster import KMeans

    from segmentation.cleaning import ID
    from segmentation.model import ModelConfig, fit_model
    from segmentation.prepare import prepare_customers
    from segmentation.sources import FileSource, read_table

    data = args.out / "scale" / f"customers-{args.size}-seed{DATA_SEED}.tsv"
    arrow, ours = [], []
    for _ in range(3):  # alternated, so drifting load falls on both
        arrow.append(_seconds(lambda: pa_csv.read_csv(
            data, parse_options=pa_csv.ParseOptions(delimiter="\t"))))
        ours.append(_seconds(lambda: read_table(FileSource(data))))
    prepared = prepare_customers(read_table(FileSource(data)).frame)
    started = time.perf_counter()
    fitted = fit_model(prepared.frame, prepared.numeric, prepared.categorical,
                       ModelConfig(seed=args.seed), prepared.log_scaled)
    fit_s = time.perf_counter() - started
    centres = fitted.pipeline.named_steps["kmeans"].cluster_centers_
    one_pass = _seconds(lambda: KMeans(n_clusters=len(centres), init=centres, n_init=1,
                                       max_iter=1).fit(fitted.embedding))
    assignments = pd.DataFrame({"customer_id": prepared.frame[ID].astype(str),
                                "segment_id": fitted.labels + 1,
                                "distance": fitted.distances.astype(np.float64)})
    publish_floor = floor_seconds(_Result(assignments), args.out / "scale" / "floor.db")
    return {"read_arrow_s": min(arrow), "read_ours_s": min(ours), "read_rounds": [arrow, ours],
            "fit_ours_s": round(fit_s, 3), "fit_one_pass_s": one_pass,
            "publish_floor_s": publish_floor, "rows_fitted": len(prepared.frame),
            "load": os.getloadavg()}


class _Result:
    """What bench/publish.py's floor reads from a segmentation result: the assignments."""

    def __init__(self, assignments: Any) -> None:
        self.assignments = assignments


def _seconds(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return round(time.perf_counter() - started, 3)


# --- worker: the answers on the refreshed store --------------------------------------------

def answers_worker(args: argparse.Namespace) -> dict[str, Any]:
    """/customer p99 over random ids and every chart's render time, in this process."""
    import random

    import pyarrow.csv as pa_csv

    from bot import answers
    from bot.answers.digest import digest_answer
    from bot.answers.rendering import render
    from storage.store import Store

    data = args.out / "scale" / f"customers-{args.size}-seed{DATA_SEED}.tsv"
    column = pa_csv.read_csv(data, parse_options=pa_csv.ParseOptions(delimiter="\t"),
                             convert_options=pa_csv.ConvertOptions(include_columns=["ID"]))
    all_ids = column.column("ID").to_pylist()
    ids = [str(i) for i in random.Random(args.seed).sample(all_ids, args.lookups)]
    del all_ids, column
    store = Store(args.out / "scale" / f"refresh-{args.size}.db")
    times, customers = [], []
    for customer_id in ids:
        started = time.perf_counter()
        reply = answers.answer(store, answers.parse_request("/customer", customer_id))
        times.append((time.perf_counter() - started) * 1000)
        if reply.is_error:
            raise SystemExit(f"/customer {customer_id} answered with an error")
        customers.append(reply)
    times.sort()
    overview = answers.answer(store, answers.parse_request("/segments", ""))
    profile = answers.answer(store, answers.parse_request("/cluster", "1"))
    charts = {"overview": overview.charts[0], "profile": profile.charts[0],
              "customer": customers[0].charts[0]}
    for chart in (*answers.run_charts(store), *digest_answer(store).charts):
        charts.setdefault(chart.filename.split(".")[0].split("-")[0], chart)
    # The bot draws in worker processes forked from a server that has these loaded already
    # (bot/jobs/chart_processes.py): their import is start-up, timed apart from the draws.
    from importlib import import_module

    from bot.jobs.chart_processes import PRELOAD

    chart_import_s = _seconds(lambda: [import_module(module) for module in PRELOAD])
    chart_s = {}
    for name, chart in charts.items():
        samples = [_seconds(partial(render, chart)) for _ in range(args.chart_calls)]
        chart_s[name] = max(samples)
    return {"ids": ids[:3], "customer_ms": {"p50": round(times[len(times) // 2], 2),
                                            "p99": round(times[int(len(times) * 0.99) - 1], 2)},
            "chart_max_s": chart_s, "chart_import_s": round(chart_import_s, 2)}


# --- worker: the honest peer ------------------------------------------------------------------

def peer_worker(args: argparse.Namespace) -> dict[str, Any]:
    """The analyst's pipeline against our fit on the same prepared customers."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    from segmentation.model import ModelConfig, build_preprocessor, fit_model, knee_point
    from segmentation.prepare import prepare_customers
    from segmentation.sources import FileSource, read_table

    data = args.out / "scale" / f"customers-{args.size}-seed{DATA_SEED}.tsv"
    prepared = prepare_customers(read_table(FileSource(data)).frame)
    frame, numeric, categorical = prepared.frame, prepared.numeric, prepared.categorical
    config = ModelConfig(seed=args.seed)

    started = time.perf_counter()
    ours = fit_model(frame, numeric, categorical, config, prepared.log_scaled)
    ours_s = time.perf_counter() - started

    started = time.perf_counter()
    points = build_preprocessor(frame, numeric, categorical, config,
                                prepared.log_scaled).fit_transform(frame)
    fits = {}
    for k in range(2, 11):
        model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(points)
        fits[k] = (model.labels_, float(model.inertia_),
                   float(silhouette_score(points, model.labels_, sample_size=PEER_SAMPLE,
                                          random_state=0)))
        print(f"    peer k={k}: inertia {fits[k][1]:,.0f}, silhouette {fits[k][2]:.4f}",
              flush=True)
    peer_k = knee_point(list(fits), [inertia for _, inertia, _ in fits.values()])
    peer_s = time.perf_counter() - started

    shared = np.sort(np.random.default_rng(args.seed + 1).choice(
        len(points), size=min(PEER_SAMPLE, len(points)), replace=False))

    def on_shared(labels: np.ndarray) -> float:
        return round(float(silhouette_score(points[shared], labels[shared])), 4)

    return {"rows": len(frame), "ours_s": round(ours_s, 2), "peer_s": round(peer_s, 1),
            "speedup": round(peer_s / ours_s, 1), "ours_k": ours.selection.chosen_k,
            "peer_k": peer_k, "ours_silhouette": on_shared(ours.labels),
            "peer_silhouette": on_shared(fits[peer_k][0]),
            "peer_silhouettes_sampled": {k: round(s, 4) for k, (_, _, s) in fits.items()},
            "load": os.getloadavg()}


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "floors": floors_worker, "answers": answers_worker, "peer": peer_worker}


# --- the table --------------------------------------------------------------------------------

def targets(report: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(target, its limit, measured, met) for every row of issue 14 this report can answer;
    met is None where nothing was measured."""
    sizes = {int(rows): size for rows, size in report["sizes"].items()}
    rows_out: list[tuple[str, str, str, bool | None]] = []

    def add(what: str, limit: str, shown: str, met: bool | None) -> None:
        rows_out.append((what, limit, shown, met))

    for rows, limit_s, limit_gib in ((1_000_000, 6, 1.2), (10_000_000, 60, 6)):
        size = sizes.get(rows)
        label = f"{rows // 1_000_000}M"
        if size is None:
            add(f"{label}: refresh, whole process", f"≤ {limit_s} s", "not run", None)
            continue
        refresh = size["refresh"]
        gib = refresh["peak_rss_mib"] / 1024
        add(f"{label}: refresh, whole process", f"≤ {limit_s} s", f"{refresh['wall_s']:.1f} s",
            refresh["wall_s"] <= limit_s)
        add(f"{label}: refresh peak RSS", f"≤ {limit_gib} GiB", f"{gib:.2f} GiB",
            gib <= limit_gib)
    for rows, size in sorted(sizes.items()):
        label = f"{rows / 1e6:g}M"
        cli = min(size["cli_customer_s"])
        add(f"{label}: `segbot customer ID`, whole process", "≤ 0.5 s", f"{cli:.2f} s",
            cli <= 0.5)
        p99 = size["answers"]["customer_ms"]["p99"]
        add(f"{label}: /customer p99 in-process", "≤ 10 ms", f"{p99:.1f} ms", p99 <= 10)
        for chart, seconds in size["answers"]["chart_max_s"].items():
            add(f"{label}: chart {chart} (slowest of renders)", "≤ 1.5 s", f"{seconds:.2f} s",
                seconds <= 1.5)
        if "chart_import_s" in size["answers"]:  # start-up, not a draw: no target of its own
            add(f"{label}: importing matplotlib and the charts (the bot's chart server does it "
                "once at start-up)", "–", f"{size['answers']['chart_import_s']:.2f} s", None)
        phases, floors = size["refresh"]["phases_s"], size["floors"]
        read_ratio = floors["read_ours_s"] / floors["read_arrow_s"]
        add(f"{label}: read_table in-process {floors['read_ours_s']:.2f} s vs pyarrow "
            f"{floors['read_arrow_s']:.2f} s (best of 3 each)", f"≤ {FLOOR_RATIO:g}×",
            f"{read_ratio:.1f}×", read_ratio <= FLOOR_RATIO)
        for phase, ours, floor, floor_name in (
                ("read", phases.get("read", 0.0), floors["read_arrow_fresh_s"],
                 "pyarrow read_csv in a fresh process"),
                ("fit", phases.get("fit", 0.0), floors["fit_one_pass_s"], "one KMeans pass"),
                ("publish", phases.get("publish", 0.0), floors["publish_floor_s"],
                 "executemany")):
            add(f"{label}: {phase} phase {ours:.2f} s vs {floor_name} {floor:.2f} s",
                f"≤ {FLOOR_RATIO:g}×", f"{ours / floor:.1f}×", ours / floor <= FLOOR_RATIO)
    if 1_000_000 in sizes and 10_000_000 in sizes:
        small, large = sizes[1_000_000]["refresh"], sizes[10_000_000]["refresh"]
        time_growth = (large["wall_s"] / 10) / small["wall_s"]
        rss_growth = (large["peak_rss_mib"] / 10) / small["peak_rss_mib"]
        add("growth 1M→10M: time per customer", "≤ 1.0× (flat or falling)",
            f"{time_growth:.2f}×", time_growth <= 1.0)
        add("growth 1M→10M: peak RSS per customer", "≤ 1.0× (flat or falling)",
            f"{rss_growth:.2f}×", rss_growth <= 1.0)
    else:
        add("growth 1M→10M per customer", "flat or falling", "needs 1M and 10M", None)
    completed = {int(rows): refresh for rows, refresh in report.get("complete", {}).items()}
    for rows in sorted(completed) or [30_000_000]:
        label = f"{rows / 1e6:g}M completes on this machine"
        refresh = completed.get(rows)
        if refresh is None:
            add(label, "time and peak", "not run (--complete-rows 30000000)", None)
        else:
            add(label, "time and peak", f"{refresh['wall_s']:.0f} s, "
                f"{refresh['peak_rss_mib'] / 1024:.2f} GiB", True)
    peer = report.get("peer")
    if peer:
        add(f"peer at {peer['rows'] / 1e6:g}M: our fit {peer['ours_s']:.1f} s vs the analyst's "
            f"{peer['peer_s']:.0f} s", f"≥ {PEER_SPEEDUP:g}× faster", f"{peer['speedup']:.1f}×",
            peer["speedup"] >= PEER_SPEEDUP)
        gap = peer["ours_silhouette"] - peer["peer_silhouette"]
        add(f"peer silhouette, shared {PEER_SAMPLE:,} sample: ours k={peer['ours_k']} "
            f"{peer['ours_silhouette']:.3f}, peer k={peer['peer_k']} "
            f"{peer['peer_silhouette']:.3f}", f"≥ −{PEER_SILHOUETTE_GAP:g}", f"{gap:+.3f}",
            gap >= -PEER_SILHOUETTE_GAP)
    return rows_out


def phases_table(report: dict[str, Any]) -> list[str]:
    """The whole-process refresh of each size, phase by phase, beside its floors."""
    lines = ["| customers | wall (s) | peak RSS (GiB) | start-up | read | clean | fit | profile "
             "| publish | floors: read / fit / publish (s) | load (1 min) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for rows, size in sorted(report["sizes"].items(), key=lambda item: int(item[0])):
        refresh, floors = size["refresh"], size["floors"]
        phases = [f"{refresh['phases_s'].get(p, 0.0):.2f}"
                  for p in ("start-up", "read", "clean", "fit", "profile", "publish")]
        lines.append(f"| {int(rows):,} | {refresh['wall_s']:.1f} | "
                     f"{refresh['peak_rss_mib'] / 1024:.2f} | {' | '.join(phases)} | "
                     f"{floors['read_arrow_fresh_s']:.2f} / {floors['fit_one_pass_s']:.2f} / "
                     f"{floors['publish_floor_s']:.2f} | "
                     f"{refresh['load'][0][0]:.2f}–{refresh['load'][1][0]:.2f} |")
    for rows, refresh in sorted(report.get("complete", {}).items(), key=lambda i: int(i[0])):
        phases = [f"{refresh['phases_s'].get(p, 0.0):.2f}"
                  for p in ("start-up", "read", "clean", "fit", "profile", "publish")]
        lines.append(f"| {int(rows):,} (refresh only) | {refresh['wall_s']:.1f} | "
                     f"{refresh['peak_rss_mib'] / 1024:.2f} | {' | '.join(phases)} | – | "
                     f"{refresh['load'][0][0]:.2f}–{refresh['load'][1][0]:.2f} |")
    return lines


def format_report(report: dict[str, Any]) -> str:
    """The phases table and the target / measured / met|missed table, in Markdown."""
    lines = phases_table(report) + ["", "| target | limit | measured | |", "|---|---|---|---|"]
    for what, limit, shown, met in targets(report):
        verdict = "–" if met is None else ("met" if met else "**missed**")
        lines.append(f"| {what} | {limit} | {shown} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
