"""Benchmark segbot: a full refresh per size, answer latency, and the textbook approach.

    python bench/run.py --rows 100000,300000,1000000

Synthetic customers are generated once per size and seed into bench/out/ (git-ignored), and
so is an order history of about ten lines per customer (--orders-customers), whose whole
refresh is set against the refresh of as many customers given one row each.
Sizes of 1M and more (or --scale-rows) are also measured against issue 14's scale targets by
bench/scale.py: `segbot refresh` as a whole process, each phase against its floor, the answers
on its store and the honest peer, ending in a target / measured / met|missed table; issue 14's
run is `python bench/run.py --rows 1000000 --scale-rows 1000000,10000000` (the refresh section
at 10M needs the most memory and adds little to bench/scale.py's whole-process refresh).
Every measurement runs in a fresh Python process, so the peak RSS reported for a size is
that size's own. Prints a table and writes bench/out/results.json and bench/out/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PHASES = ("load", "clean+features", "fit (incl. k)", "profiles", "match previous run",
          "publish", "digest + charts")
# refresh() reports progress with these first words; each starts the phase it names
PHASE_BY_WORD = {"reading": "load", "cleaning": "clean+features", "fitting": "fit (incl. k)",
                 "profiling": "profiles", "matching": "match previous run",
                 "publishing": "publish"}
TEXT_ANSWERS = ("/segments", "/cluster N", "/customer ID")
CHARTS = ("overview", "elbow", "sizes", "scatter", "migration", "profile", "customer")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        result = WORKERS[args.worker](args)
        Path(args.result).write_text(json.dumps(result, indent=1))
        return 0
    return run_all(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="100000,300000,1000000",
                        type=lambda text: [int(v) for v in text.replace("_", "").split(",")],
                        help="comma-separated table sizes (default: 100000,300000,1000000)")
    parser.add_argument("--calls", type=int, default=200,
                        help="calls per text answer, at every size (default 200)")
    parser.add_argument("--chart-calls", type=int, default=200,
                        help="renders per chart, at the largest size only (default 200)")
    parser.add_argument("--textbook-rows", type=int, default=100_000,
                        help="rows for the textbook comparison; 0 skips it (default 100000)")
    parser.add_argument("--orders-customers", type=int, default=1_000_000,
                        help="customers of the generated order history (about ten order lines "
                             "each) refreshed from CSV; 0 skips it (default 1000000: ~10M "
                             "lines)")
    parser.add_argument("--sql-rows", type=int, default=1_000_000,
                        help="rows read from PostgreSQL against COPY (bench/sql_read.py); "
                             "0 skips it (default 1000000)")
    parser.add_argument("--publish-rows", default="1000000",
                        help="comma-separated sizes whose publish is timed against an "
                             "executemany floor (bench/publish.py); 0 skips it "
                             "(default 1000000)")
    parser.add_argument("--scale-rows", default=None,
                        help="comma-separated sizes measured against issue 14's scale targets "
                             "(bench/scale.py: `segbot refresh` as a whole process, its phases "
                             "against their floors, the answers on its store); 0 skips it "
                             "(default: the --rows sizes of 1M and more)")
    parser.add_argument("--peer-rows", type=int, default=1_000_000,
                        help="rows for bench/scale.py's honest peer, run with the scale "
                             "section; 0 skips it (default 1000000)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="refreshes per size, each in a fresh process; the fastest is "
                             "reported, the highest peak RSS (default 1)")
    parser.add_argument("--chart-processes", type=int, default=2,
                        help="processes drawing charts, as SEGBOT_CHART_PROCESSES for `segbot "
                             "serve`; 0 draws them in the benchmark's process (default 2)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser


# --- the parent: data, one process per measurement, the table --------------------------------

def run_all(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    sizes = sorted(set(args.rows))
    report: dict[str, Any] = {"command": _command_line(), "machine": _machine(),
                              "load_before": os.getloadavg(), "refresh": {}, "textbook": None}
    for rows in sizes:
        ensure_next_week(args.out, rows, args.seed)
        chart_calls = args.chart_calls if rows == sizes[-1] else 0
        # latency is measured once, after the first refresh; repeats only time the refresh
        runs = [_spawn("refresh", args, rows=rows, calls=args.calls if attempt == 0 else 0,
                       chart_calls=chart_calls if attempt == 0 else 0)
                for attempt in range(max(1, args.repeat))]
        report["refresh"][rows] = _best_of(runs)
        print(f"  {rows:>9,} rows: refresh {report['refresh'][rows]['total_s']:.2f} s, "
              f"load average {_load()}", flush=True)
    if args.orders_customers:
        ensure_order_weeks(args.out, args.orders_customers, args.seed)
        runs = [_spawn("orders", args, rows=args.orders_customers,
                       calls=args.calls if attempt == 0 else 0)
                for attempt in range(max(1, args.repeat))]
        report["orders"] = _best_of(runs)
        print(f"  orders of {args.orders_customers:,} customers: refresh "
              f"{report['orders']['total_s']:.2f} s, load average {_load()}", flush=True)
    if args.textbook_rows:
        ensure_data(args.out, args.textbook_rows, args.seed)
        report["textbook"] = _spawn("textbook", args, rows=args.textbook_rows)
        print(f"  textbook at {args.textbook_rows:,} rows done, load average {_load()}",
              flush=True)
    if args.sql_rows:
        report["sql_read"] = _spawn_sql_read(args)
    if args.publish_rows != "0":
        report["publish"] = _spawn_publish(args)
    scale_rows = _scale_rows(args)
    if scale_rows:
        report["scale"] = _spawn_scale(args, scale_rows)
    report["load_after"] = os.getloadavg()
    text, markdown = format_report(report)
    print(text)
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    (args.out / "results.md").write_text(markdown)
    print(f"\nwritten: {args.out / 'results.json'}, {args.out / 'results.md'}")
    return 0


def ensure_data(out: Path, rows: int, seed: int) -> Path:
    """The synthetic table for ``rows`` and ``seed``, generated on first use and cached."""
    path = out / f"customers-{rows}-seed{seed}.tsv"
    if not path.exists():
        from segmentation.synthetic import generate_customers, write_customers

        started = time.perf_counter()
        partial = path.with_suffix(".partial.tsv")
        write_customers(generate_customers(rows, seed=seed), partial)
        partial.replace(path)
        print(f"  generated {path.name} in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def ensure_next_week(out: Path, rows: int, seed: int) -> Path:
    """Next week's extract of the table for ``rows`` and ``seed``: the same customers but 1 %
    gone, 1 % new and 3 % whose rows are drawn afresh, so that the weekly refresh moves some
    customers between segments and the digest has movers, as a real week has. Cached."""
    path = out / f"customers-{rows}-seed{seed}-week2.tsv"
    this_week = ensure_data(out, rows, seed)
    if not path.exists():
        import numpy as np
        import pandas as pd

        from segmentation.synthetic import generate_customers, write_customers

        week = pd.read_csv(this_week, sep="\t", dtype={"ID": "int64"})
        rng = np.random.default_rng(seed + 1)
        redrawn = generate_customers(rows, seed=seed + 1)
        changed = rng.random(len(week)) < 0.03
        for column in week.columns.drop("ID"):
            week.loc[changed, column] = redrawn.loc[changed, column].to_numpy()
        arrivals = generate_customers(max(1, rows // 100), seed=seed + 2)
        arrivals["ID"] += 5 * rows  # synthetic ids are below 5 × rows: no clash
        week = pd.concat([week[rng.random(len(week)) >= 0.01], arrivals], ignore_index=True)
        partial = path.with_suffix(".partial.tsv")
        write_customers(week, partial)
        partial.replace(path)
    return path


def ensure_order_weeks(out: Path, customers: int, seed: int) -> tuple[Path, Path]:
    """The generated order history of ``customers`` as CSV (bench/orders.py's file), and the
    same history a week shorter: the weekly refresh reads the week appended. Cached."""
    from orders import ensure_orders  # bench/orders.py, beside this file

    full = ensure_orders(out, customers, seed, "csv")
    week_before = out / f"orders-{customers}-seed{seed}-week-before.csv"
    if not week_before.exists():
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pa_csv

        table = pa_csv.read_csv(full)
        dates = table.column("order_date")
        cut = pc.subtract(pc.max(dates), pa.scalar(7 * 86_400_000_000, pa.duration("us")))
        partial = week_before.with_suffix(".partial.csv")
        pa_csv.write_csv(table.filter(pc.less_equal(dates, pc.cast(cut, dates.type))), partial,
                         write_options=pa_csv.WriteOptions(quoting_style="none"))
        partial.replace(week_before)
    return week_before, full


def _spawn(worker: str, args: argparse.Namespace, **options: Any) -> dict[str, Any]:
    result = args.out / f"{worker}-{options['rows']}.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", worker,
               "--result", str(result), "--seed", str(args.seed), "--out", str(args.out),
               "--rows", str(options["rows"]), "--calls", str(options.get("calls", 0)),
               "--chart-calls", str(options.get("chart_calls", 0)),
               "--chart-processes", str(args.chart_processes)]
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads(result.read_text())


def _spawn_sql_read(args: argparse.Namespace) -> dict[str, Any]:
    """bench/sql_read.py in a process of its own: the read from PostgreSQL against COPY."""
    command = [sys.executable, str(ROOT / "bench" / "sql_read.py"), "--rows", str(args.sql_rows),
               "--repeat", str(max(3, args.repeat)), "--seed", str(args.seed),
               "--out", str(args.out)]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    result = json.loads((args.out / "sql_read.json").read_text())
    print(f"  SQL read of {args.sql_rows:,} rows done, load average {_load()}", flush=True)
    return result


def _spawn_publish(args: argparse.Namespace) -> dict[str, Any]:
    """bench/publish.py in a process of its own: the publish against its executemany floor;
    it prints its own table and met/missed lines."""
    command = [sys.executable, str(ROOT / "bench" / "publish.py"), "--rows", args.publish_rows,
               "--seed", str(args.seed), "--out", str(args.out)]
    subprocess.run(command, check=True, cwd=ROOT)
    return json.loads((args.out / "publish.json").read_text())


def _scale_rows(args: argparse.Namespace) -> list[int]:
    if args.scale_rows is None:
        return [rows for rows in args.rows if rows >= 1_000_000]
    return [int(v) for v in args.scale_rows.replace("_", "").split(",") if int(v)]


def _spawn_scale(args: argparse.Namespace, sizes: list[int]) -> dict[str, Any]:
    """bench/scale.py in a process of its own: issue 14's targets, met or missed."""
    command = [sys.executable, str(ROOT / "bench" / "scale.py"),
               "--rows", ",".join(map(str, sizes)), "--peer-rows", str(args.peer_rows),
               "--seed", str(args.seed), "--out", str(args.out)]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    result: dict[str, Any] = json.loads((args.out / "scale.json").read_text())
    return result


def _best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    best = dict(min(runs, key=lambda run: run["total_s"]))
    for peak in ("peak_rss_mib", "chart_processes_rss_mib", "total_rss_mib"):
        best[peak] = max(run[peak] for run in runs)
    best["repeats"] = [run["total_s"] for run in runs]
    first = runs[0]
    best["latency_ms"], best["chart_ms"] = first["latency_ms"], first["chart_ms"]
    return best


def _command_line() -> str:
    return "python bench/run.py " + " ".join(sys.argv[1:])


def _machine() -> dict[str, Any]:
    import platform

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpus": os.cpu_count(), "memory_gib": round(memory, 1),
            "python": platform.python_version(), "platform": platform.platform()}


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# --- worker: one full refresh, then answer latency -------------------------------------------

def refresh_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Time two refreshes phase by phase on a fresh store, then the answers it serves.

    The first refresh publishes the store's first run; the second, on next week's extract,
    is the weekly one: it also matches its segments to the previous run, counts movement,
    and its digest carries the movers CSV.
    """
    rows = args.rows[0]
    weeks = (args.out / f"customers-{rows}-seed{args.seed}.tsv",
             args.out / f"customers-{rows}-seed{args.seed}-week2.tsv")
    return time_refreshes(args, weeks, args.out / f"bench-{rows}.db",
                          lambda count: sample_customer_ids(weeks[1], count, args.seed))


def orders_worker(args: argparse.Namespace) -> dict[str, Any]:
    """`refresh_worker` on the generated order history: the first refresh reads it a week
    short, the weekly one with that week's orders appended."""
    customers = args.rows[0]
    weeks = ensure_order_weeks(args.out, customers, args.seed)
    return time_refreshes(args, weeks, args.out / f"bench-orders-{customers}.db",
                          lambda count: sample_customer_ids(weeks[1], count, args.seed,
                                                            column="customer_id", delimiter=","))


def time_refreshes(args: argparse.Namespace, weeks: tuple[Path, Path], db: Path,
                   sample_ids: Callable[[int], list[str]]) -> dict[str, Any]:
    """Two refreshes of ``weeks`` into a fresh store at ``db``, each with its digest, then the
    latency of the answers and the charts."""
    from bot.jobs.refresh import refresh
    from segmentation.model import ModelConfig
    from storage.store import Store

    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)
    store = Store(db)
    renderer = _warm_up(args.out, args.chart_processes)
    baseline = _peak_rss_mib()
    load_before = os.getloadavg()
    timed = []
    for data in weeks:
        clock = PhaseClock()
        run = refresh(store, data, config=ModelConfig(seed=args.seed), progress=clock.progress)
        clock.start("digest + charts")
        render_digest(store, renderer)
        timed.append((run, clock.stop(), _peak_rss_mib()))
    (_, first, first_rss), (run, phases, peak_rss) = timed
    missing = [phase for phase in PHASES if phase not in phases]
    if missing:
        raise SystemExit(f"refresh() did not report the phases {missing}; update PHASE_BY_WORD")
    result = {"rows": args.rows[0], "rows_in": run.rows_in, "rows_kept": run.rows_kept,
              "k": run.k, "silhouette": run.silhouette, "phases_s": phases,
              "total_s": round(sum(phases.values()), 3),
              "first_run_phases_s": first, "first_run_total_s": round(sum(first.values()), 3),
              "baseline_rss_mib": baseline, "first_run_peak_rss_mib": first_rss,
              "peak_rss_mib": peak_rss, "load_during": [load_before, os.getloadavg()],
              "chart_processes": args.chart_processes,
              "segments": [f"{s.name} {s.share:.0%}" for s in store.list_segments(run.id)]}
    from bot import answers
    from bot.answers.comparison import load_comparison

    result["flows"] = vars(load_comparison(store).flows())

    ids = sample_ids(max(args.calls, args.chart_calls))
    latency, built = time_answers(store, answers, run.k, ids, args.calls, args.seed)
    result["latency_ms"] = latency
    result["chart_ms"] = time_charts(store, answers, built, args.chart_calls, renderer)
    result["chart_processes_rss_mib"] = descendants_peak_rss_mib()
    result["total_rss_mib"] = round(_peak_rss_mib() + result["chart_processes_rss_mib"], 1)
    if hasattr(renderer, "close"):
        renderer.close()
    return result


def _warm_up(scratch: Path, chart_processes: int) -> Any:
    """What the running bot has done long before a scheduled refresh: start its chart
    processes, import the digest and Slack modules, the engine and the matching solver
    (imported on first use), load fonts and build matplotlib's caches, read a table once
    (pyarrow's first call). Without it the first refreshes of a fresh process pay ~1 s of
    start-up. Returns the renderer `segbot serve` would draw charts with."""
    import pandas as pd
    import scipy.optimize  # noqa: F401  (segment matching imports it on first use)

    import bot.slack.digest_posts  # noqa: F401  (slack_sdk and the digest, as `segbot serve` imports them)
    import segmentation.engine  # noqa: F401  (bot.jobs.refresh imports it on the first refresh)
    from segmentation.charts import render_elbow_chart, render_migration_chart
    from segmentation.loading import load_table
    from segmentation.result import KSelection
    from segmentation.synthetic import generate_customers, write_customers

    render_elbow_chart(KSelection((2, 3, 4), (3.0, 2.0, 1.5), (0.3, 0.2, 0.1), 3, "warm-up",
                                  "elbow"))
    render_migration_chart(pd.DataFrame([[5, 1], [0, 7]], index=["1", "2"], columns=["1", "2"]))
    small = write_customers(generate_customers(50, seed=1), scratch / "warm-up.tsv")
    load_table(small)
    small.unlink()
    if chart_processes == 0:
        from bot.answers.rendering import render

        return render
    from bot.jobs.chart_processes import ChartProcesses

    charts = ChartProcesses(chart_processes)
    charts.start()
    return charts


class PhaseClock:
    """Wall time per phase, phases started by refresh()'s progress messages."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.current: str | None = None
        self.since = 0.0

    def progress(self, message: str) -> None:
        first = message.split(maxsplit=1)[0].lower() if message.strip() else ""
        phase = PHASE_BY_WORD.get(first)
        if phase is not None:  # other messages belong to the phase they occur in
            self.start(phase)

    def start(self, phase: str) -> None:
        now = time.perf_counter()
        if self.current is not None:
            self.times[self.current] = self.times.get(self.current, 0.0) + now - self.since
        self.current, self.since = phase, now

    def stop(self) -> dict[str, float]:
        self.start("")
        self.times.pop("", None)
        return {phase: round(self.times[phase], 3) for phase in PHASES if phase in self.times}


def render_digest(store: Any, renderer: Any) -> Any:
    """What the scheduled refresh does after refresh(): the digest, its charts and files,
    drawn as `post_digest` draws them (side by side in the chart processes)."""
    from bot.answers.digest import digest_answer
    from bot.answers.rendering import render_all

    digest = digest_answer(store)
    render_all(renderer, (*digest.charts, *digest.files))
    return digest


def sample_customer_ids(data: Path, count: int, seed: int, *, column: str = "ID",
                        delimiter: str = "\t") -> list[str]:
    """``count`` random ids of the table's customers (with repeats if the table is small;
    an order history's repeat customers are drawn as often as they bought)."""
    import numpy as np
    import pyarrow.csv as pa_csv

    table = pa_csv.read_csv(data, parse_options=pa_csv.ParseOptions(delimiter=delimiter),
                            convert_options=pa_csv.ConvertOptions(include_columns=[column]))
    ids = table.column(column).to_numpy()
    picks = np.random.default_rng(seed).choice(len(ids), size=count, replace=count > len(ids))
    return [str(ids[i]) for i in picks]


def time_answers(store: Any, answers: Any, k: int, ids: list[str], calls: int,
                 seed: int) -> tuple[dict[str, dict[str, float]], dict[str, list[Any]]]:
    """p50/p99 of each text answer over ``calls`` calls; the answers are kept for the charts."""
    import numpy as np

    if calls <= 0:
        return {}, {}
    segments = np.random.default_rng(seed).integers(1, k + 1, size=calls)
    requests = {"/segments": [("/segments", "")] * calls,
                "/cluster N": [("/cluster", str(s)) for s in segments],
                "/customer ID": [("/customer", i) for i in ids[:calls]]}
    latency, built = {}, {}
    for name, calls_of in requests.items():
        samples, built[name] = [], []
        for command, text in calls_of:
            started = time.perf_counter()
            reply = answers.answer(store, answers.parse_request(command, text))
            samples.append(time.perf_counter() - started)
            if reply.is_error:
                raise SystemExit(f"{command} {text} answered with an error: {reply.sections}")
            built[name].append(reply)
        latency[name] = _percentiles(samples, scale=1000)
    return latency, built


def time_charts(store: Any, answers: Any, built: dict[str, list[Any]], calls: int,
                renderer: Any) -> dict[str, dict[str, float]]:
    """p50/p99 time to draw each chart over ``calls`` renders (profiles and customers vary),
    through ``renderer`` as the bot draws them (in a chart process: pickling included)."""
    if calls <= 0:
        return {}
    (overview,) = answers.answer(store, answers.parse_request("/segments", "")).charts
    elbow, sizes, scatter = answers.run_charts(store)
    migration = render_digest(store, renderer).charts[0]
    if not migration.filename.startswith("migration"):
        raise SystemExit(f"expected the digest's migration chart, got {migration.filename}")
    sources: dict[str, Callable[[int], Any]] = {
        "overview": lambda _: overview, "elbow": lambda _: elbow, "sizes": lambda _: sizes,
        "scatter": lambda _: scatter, "migration": lambda _: migration,
        "profile": lambda i: _cycle(built["/cluster N"], i).charts[0],
        "customer": lambda i: _cycle(built["/customer ID"], i).charts[0],
    }
    timings = {}
    for name, chart_of in sources.items():
        samples = []
        for i in range(calls):
            chart = chart_of(i)
            started = time.perf_counter()
            renderer(chart)
            samples.append(time.perf_counter() - started)
        timings[name] = _percentiles(samples, scale=1000)
    return timings


def _cycle(items: list[Any], i: int) -> Any:
    if not items:
        raise SystemExit("chart renders need answers: run with --calls > 0")
    return items[i % len(items)]


def _percentiles(samples: list[float], scale: float) -> dict[str, float]:
    import numpy as np

    values = np.asarray(samples) * scale
    return {"p50": round(float(np.percentile(values, 50)), 2),
            "p99": round(float(np.percentile(values, 99)), 2),
            "max": round(float(values.max()), 2), "calls": len(samples)}


def descendants_peak_rss_mib() -> float:
    """The summed peak RSS of this process's descendants (the chart processes, their fork
    server); shared pages count once per process, so this overstates their memory."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    total_kib, pending = 0, list(children.get(os.getpid(), []))
    while pending:
        pid = pending.pop()
        pending += children.get(pid, [])
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total_kib += next((int(line.split()[1]) for line in status.splitlines()
                           if line.startswith("VmHWM:")), 0)
    return round(total_kib / 2**10, 1)


def _peak_rss_mib() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


# --- worker: the textbook approach against ours ----------------------------------------------

SHARED_SAMPLE = 10_000


def textbook_worker(args: argparse.Namespace) -> dict[str, Any]:
    """Ours and the textbook fit on the same prepared customers; silhouettes on one sample."""
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, silhouette_score
    from sklearn.pipeline import Pipeline

    from segmentation.loading import load_table
    from segmentation.model import (
        ModelConfig,
        build_pipeline,
        build_preprocessor,
        fit_model,
        knee_point,
    )
    from segmentation.prepare import prepare_customers

    rows, config = args.rows[0], ModelConfig(seed=args.seed)
    prepared = prepare_customers(load_table(args.out / f"customers-{rows}-seed{args.seed}.tsv"))
    frame, numeric, categorical = prepared.frame, prepared.numeric, prepared.categorical

    started = time.perf_counter()
    ours = fit_model(frame, numeric, categorical, config)
    ours_s = time.perf_counter() - started

    # The textbook: the same preprocessing and PCA, then every k fitted on all customers
    # with n_init=10 and scored by silhouette on all customers (sklearn computes it exactly,
    # in chunks of pairwise distances). Like the product, it takes k at the elbow of its
    # inertia curve (the Kneedle rule: farthest below the chord); the k with the best
    # silhouette is reported beside it.
    started = time.perf_counter()
    steps = build_pipeline(build_preprocessor(frame, numeric, categorical, config), 2,
                           config).steps[:2]
    points = Pipeline(steps).fit_transform(frame)
    fits, silhouette_s = {}, 0.0
    for k in range(config.k_min, config.k_max + 1):
        model = KMeans(n_clusters=k, n_init=10, random_state=args.seed).fit(points)
        scored = time.perf_counter()
        fits[k] = (model.labels_, float(silhouette_score(points, model.labels_)),
                   float(model.inertia_))
        silhouette_s += time.perf_counter() - scored
        print(f"    textbook k={k}: inertia {fits[k][2]:,.0f}, silhouette on all "
              f"{len(points):,} = {fits[k][1]:.4f}", flush=True)
    textbook_s = time.perf_counter() - started
    textbook_k = knee_point(list(fits), [inertia for _, _, inertia in fits.values()])
    best_silhouette_k = max(fits, key=lambda k: fits[k][1])

    sample = np.sort(np.random.default_rng(args.seed + 1).choice(
        len(points), size=min(SHARED_SAMPLE, len(points)), replace=False))

    def on_sample(labels: np.ndarray) -> float:
        return round(float(silhouette_score(points[sample], labels[sample])), 4)

    ours_k = ours.selection.chosen_k
    return {
        "rows": len(frame), "ours_s": round(ours_s, 3), "textbook_s": round(textbook_s, 3),
        "textbook_silhouette_s": round(silhouette_s, 3),
        "speedup": round(textbook_s / ours_s, 1), "ours_k": ours_k, "textbook_k": textbook_k,
        "shared_sample": len(sample),
        "ours_silhouette": on_sample(ours.labels),
        "textbook_silhouette": on_sample(fits[textbook_k][0]),
        "textbook_same_k_silhouette": on_sample(fits[ours_k][0]),
        "best_silhouette_k": best_silhouette_k,
        "best_silhouette_k_silhouette": on_sample(fits[best_silhouette_k][0]),
        "textbook_full_silhouette": {k: round(s, 4) for k, (_, s, _) in fits.items()},
        "textbook_inertia": {k: round(inertia, 1) for k, (_, _, inertia) in fits.items()},
        "ours_inertia_sample": {k: round(inertia, 1) for k, inertia in zip(
            ours.selection.ks, ours.selection.inertias, strict=True)},
        "agreement_same_k_ari": round(float(adjusted_rand_score(ours.labels,
                                                                fits[ours_k][0])), 3),
        "load_during": os.getloadavg(),
    }


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "refresh": refresh_worker, "orders": orders_worker, "textbook": textbook_worker}


# --- the table --------------------------------------------------------------------------------

def format_report(report: dict[str, Any]) -> tuple[str, str]:
    """The results as a plain-text table for the terminal and as Markdown."""
    refreshes = {int(rows): run for rows, run in report["refresh"].items()}
    sizes = sorted(refreshes)
    header = ["", *(f"{rows:,}" for rows in sizes), "target"]
    table = [header]
    for phase in PHASES:
        table.append([f"{phase} (s)", *(f"{refreshes[r]['phases_s'].get(phase, 0):.2f}"
                                        for r in sizes), ""])
    table.append(["total refresh (s)", *(f"{refreshes[r]['total_s']:.2f}" for r in sizes),
                  "≤ 3 at 100k, ≤ 20 at 1M"])
    table.append(["s per 100k rows", *(f"{refreshes[r]['total_s'] / r * 1e5:.2f}"
                                       for r in sizes), "flat or falling"])
    table.append(["weekly refresh: moved / new / gone",
                  *(_flows(refreshes[r].get("flows")) for r in sizes), ""])
    table.append(["first refresh, empty store (s)",
                  *(f"{refreshes[r]['first_run_total_s']:.2f}" for r in sizes), ""])
    table.append(["peak RSS incl. chart processes (MiB)",
                  *(f"{refreshes[r]['total_rss_mib']:,.0f}" for r in sizes), "≤ 3,072 at 1M"])
    table.append(["  refresh process", *(f"{refreshes[r]['peak_rss_mib']:,.0f}" for r in sizes),
                  ""])
    table.append(["    after the first refresh",
                  *(f"{refreshes[r]['first_run_peak_rss_mib']:,.0f}" for r in sizes), ""])
    table.append([f"  {refreshes[sizes[0]]['chart_processes']} chart processes + fork server",
                  *(f"{refreshes[r]['chart_processes_rss_mib']:,.0f}" for r in sizes), ""])
    table.append(["k / silhouette", *(f"{refreshes[r]['k']} / {refreshes[r]['silhouette']:.3f}"
                                      for r in sizes), ""])
    for name in TEXT_ANSWERS:
        target = "≤ 20" if name == "/customer ID" else "≤ 100"
        table.append([f"{name} p50 / p99 (ms)",
                      *(_p50_p99(refreshes[r]["latency_ms"].get(name)) for r in sizes),
                      f"p99 {target} at 1M"])
    for name in CHARTS:
        table.append([f"chart {name} p50 / p99 (ms)",
                      *(_p50_p99(refreshes[r]["chart_ms"].get(name)) for r in sizes),
                      "≤ 1,500"])
    tables = [table]
    if report.get("orders"):
        tables.append(_orders_table(report["orders"], refreshes))
    if report.get("textbook"):
        tables.append(_textbook_table(report["textbook"]))
    if report.get("sql_read"):
        tables.append(_sql_read_table(report["sql_read"]))
    loads = (f"load average (1/5/15 min) before {_fmt_load(report['load_before'])}, "
             f"after {_fmt_load(report['load_after'])}; {report['machine']['cpus']} CPUs, "
             f"{report['machine']['memory_gib']} GiB")
    checks = verdicts(refreshes, report.get("textbook"))
    if report.get("orders"):
        checks.extend(orders_verdicts(report["orders"], refreshes))
    if report.get("sql_read"):
        from sql_read import verdict  # bench/sql_read.py, beside this file

        checks.append(verdict(report["sql_read"]))
    text = "\n\n".join(_plain(t) for t in tables) + "\n" + loads + "\n\n" + "\n".join(checks)
    markdown = ("\n\n".join(_markdown(t) for t in tables) + "\n\n" + loads + "\n\n"
                + "\n".join(f"- {line}" for line in checks) + "\n")
    if report.get("scale"):
        from scale import format_report as scale_report  # bench/scale.py, beside this file

        scale = "\n\nScale targets (issue 14)\n\n" + scale_report(report["scale"]) + "\n"
        text, markdown = text + scale, markdown + scale
    return text, markdown


def verdicts(refreshes: dict[int, dict[str, Any]], book: dict[str, Any] | None) -> list[str]:
    """One line per target of issue 5 that this run measured: the number, met or missed."""
    lines = []

    def check(what: str, value: float, limit: float, unit: str, at_most: bool = True) -> None:
        met = value <= limit if at_most else value >= limit
        sign = "≤" if at_most else "≥"
        shown = f"{value:+.4f}" if not unit else f"{value:,.2f}{unit}"
        lines.append(f"{'met   ' if met else 'MISSED'} {what}: {shown} "
                     f"(target {sign} {limit:,g}{unit})")

    if 1_000_000 in refreshes:
        big = refreshes[1_000_000]
        check("refresh at 1M", big["total_s"], 20, " s")
        check("peak RSS at 1M (incl. chart processes)", big["total_rss_mib"], 3072, " MiB")
        for name, limit in (("/customer ID", 20), ("/segments", 100), ("/cluster N", 100)):
            if name in big["latency_ms"]:
                check(f"{name} p99 at 1M", big["latency_ms"][name]["p99"], limit, " ms")
        if big["chart_ms"]:
            worst = max(big["chart_ms"], key=lambda c: big["chart_ms"][c]["p99"])
            check(f"slowest chart p99 at 1M ({worst})", big["chart_ms"][worst]["p99"] / 1000,
                  1.5, " s")
    if 100_000 in refreshes:
        check("refresh at 100k", refreshes[100_000]["total_s"], 3, " s")
    sizes = sorted(refreshes)
    if len(sizes) > 1:
        small, large = refreshes[sizes[0]], refreshes[sizes[-1]]
        check(f"time growth {sizes[0]:,} → {sizes[-1]:,} rows ({sizes[-1] / sizes[0]:g}× rows)",
              large["total_s"] / small["total_s"], sizes[-1] / sizes[0], "×")
    if book:
        check("speed-up over the textbook", book["speedup"], 10, "×", at_most=False)
        check(f"silhouette vs textbook at its own elbow, k={book['textbook_k']} "
              f"(ours k={book['ours_k']})",
              book["ours_silhouette"] - book["textbook_silhouette"], -0.02, "", at_most=False)
        check(f"silhouette vs textbook at the same k={book['ours_k']}",
              book["ours_silhouette"] - book["textbook_same_k_silhouette"], -0.02, "",
              at_most=False)
        if "best_silhouette_k" in book:
            gap = book["ours_silhouette"] - book["best_silhouette_k_silhouette"]
            lines.append(f"note   a textbook that picks k by best silhouette instead of the elbow "
                         f"takes k={book['best_silhouette_k']}: ours is {gap:+.4f} against it "
                         f"(another choice of k, not a target; see BENCHMARKS.md)")
    return lines


ORDERS_TARGET = 2.0  # issue 13: the refresh from order lines within 2x that of the customers


def _orders_table(orders: dict[str, Any], refreshes: dict[int, dict[str, Any]]
                  ) -> list[list[str]]:
    """The order history's weekly refresh phase by phase, beside the customer table's."""
    customers = refreshes.get(orders["rows"])
    header = [f"{orders['rows_in']:,} order lines → {orders['rows_kept']:,} customers",
              "orders", f"{orders['rows']:,} customer rows" if customers else "", "target"]
    table = [header]
    for phase in PHASES:
        table.append([f"{phase} (s)", f"{orders['phases_s'].get(phase, 0):.2f}",
                      f"{customers['phases_s'].get(phase, 0):.2f}" if customers else "", ""])
    table.append(["total refresh (s)", f"{orders['total_s']:.2f}",
                  f"{customers['total_s']:.2f}" if customers else "",
                  f"≤ {ORDERS_TARGET:g}× the customers'"])
    table.append(["first refresh, empty store (s)", f"{orders['first_run_total_s']:.2f}",
                  f"{customers['first_run_total_s']:.2f}" if customers else "", ""])
    table.append(["peak RSS, refresh process (MiB)", f"{orders['peak_rss_mib']:,.0f}",
                  f"{customers['peak_rss_mib']:,.0f}" if customers else "", ""])
    table.append(["k / silhouette", f"{orders['k']} / {orders['silhouette']:.3f}",
                  f"{customers['k']} / {customers['silhouette']:.3f}" if customers else "", ""])
    table.append(["weekly refresh: moved / new / gone", _flows(orders.get("flows")),
                  _flows(customers.get("flows")) if customers else "", ""])
    latency = orders.get("latency_ms", {}).get("/customer ID")
    table.append(["/customer ID p50 / p99 (ms)", _p50_p99(latency),
                  _p50_p99(customers["latency_ms"].get("/customer ID")) if customers else "",
                  ""])
    return table


def orders_verdicts(orders: dict[str, Any], refreshes: dict[int, dict[str, Any]]) -> list[str]:
    """The order history's refresh against the refresh of as many customers' rows."""
    customers = refreshes.get(orders["rows"])
    if customers is None:
        return [f"note   no customer table of {orders['rows']:,} rows refreshed in this run "
                f"(--rows): the order history's {orders['total_s']:.2f} s has no yardstick"]
    ratio = orders["total_s"] / customers["total_s"]
    met = ratio <= ORDERS_TARGET
    return [f"{'met   ' if met else 'MISSED'} refresh from {orders['rows_in']:,} order lines "
            f"against {orders['rows']:,} customer rows: {orders['total_s']:.2f} s vs "
            f"{customers['total_s']:.2f} s, {ratio:.2f}× (target ≤ {ORDERS_TARGET:g}×)",
            f"note   the order history's segments: {'; '.join(orders.get('segments', []))}"]


def _sql_read_table(sql: dict[str, Any]) -> list[list[str]]:
    table = [[f"read {sql['rows']:,} rows from PostgreSQL", "best (s)", "÷ best COPY",
              "median round ÷ COPY", "target"]]
    for name, best in sql["best_s"].items():
        table.append([name, f"{best:.2f}", f"{sql['ratio_to_copy'][name]:.2f}",
                      f"{sql['median_round_ratio'][name]:.2f}",
                      "≤ 2" if name == "segbot" else ""])
    return table


def _textbook_table(book: dict[str, Any]) -> list[list[str]]:
    return [
        [f"at {book['rows']:,} customers", "ours", "textbook", "target"],
        ["model fit incl. choosing k (s)", f"{book['ours_s']:.2f}", f"{book['textbook_s']:.1f}",
         ""],
        ["  of which silhouette (s)", "", f"{book['textbook_silhouette_s']:.1f}", ""],
        ["speed-up", f"{book['speedup']:.1f}×", "", "≥ 10×"],
        ["k chosen (elbow)", str(book["ours_k"]), str(book["textbook_k"]), ""],
        [f"silhouette, shared {book['shared_sample']:,} sample", f"{book['ours_silhouette']:.4f}",
         f"{book['textbook_silhouette']:.4f}", "ours ≥ textbook − 0.02"],
        [f"silhouette at k={book['ours_k']}, shared sample", f"{book['ours_silhouette']:.4f}",
         f"{book['textbook_same_k_silhouette']:.4f}", ""],
        [f"agreement at k={book['ours_k']} (ARI)", f"{book['agreement_same_k_ari']:.3f}", "", ""],
        *([[f"textbook by best silhouette instead: k={book['best_silhouette_k']}", "",
            f"{book['best_silhouette_k_silhouette']:.4f}", "(not a target)"]]
          if "best_silhouette_k" in book else []),
    ]


def _flows(flows: dict[str, int] | None) -> str:
    return "–" if not flows else f"{flows['moved']:,} / {flows['new']:,} / {flows['gone']:,}"


def _p50_p99(stats: dict[str, float] | None) -> str:
    return "–" if not stats else f"{stats['p50']:,.1f} / {stats['p99']:,.1f}"


def _fmt_load(load: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in load)


def _plain(table: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def _markdown(table: list[list[str]]) -> str:
    rows = ["| " + " | ".join(row) + " |" for row in table]
    rows.insert(1, "|" + "---|" * len(table[0]))
    return "\n".join(rows)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # runs from a checkout without `pip install -e .` too
    raise SystemExit(main())
