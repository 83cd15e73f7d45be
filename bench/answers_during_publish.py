"""Answer Slack commands while another process publishes a refresh: every answer must come
from the old run or the new one, and none may be an error.

    python bench/answers_during_publish.py --rows 1000000

A store gets a first run of N synthetic customers; then a second refresh (the same customers,
3 % of their rows drawn afresh, so the runs differ) runs in a separate process, as `segbot
refresh` runs beside the bot, while this process answers `/segments`, `/cluster N`,
`/customer ID` (random ids) and `/segments changes` in a loop from several threads, as the
bot's listener pool would, through the same code the Slack listeners call
(`bot.answers.parse_request` + `bot.answers.answer`). It answers for a while before the
refresh starts and a while after it exits. The refresh process reports when its publish
transaction began (``BEGIN IMMEDIATE``) and committed (``COMMIT``), both seen through the
store's trace callback, and when `refresh()` returned (commit and WAL checkpoint done), so
each answer is placed by its start time: before the refresh, while it computes, during the
publish transaction, during its commit, after. Each answer must be the very answer its run
gives when nothing else runs (computed before and after for every command and id asked).
Prints a table; writes bench/out/during-publish-N.json and .md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from run import sample_customer_ids  # bench/run.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
COMMANDS = ("/segments", "/cluster N", "/customer ID", "/segments changes")
PHASES = ("before the refresh", "refresh computing", "publish transaction", "commit + checkpoint",
          "after publish")
_RUN_ID = re.compile(r"^Run (\d+) · ")
_NO_SEGMENT = re.compile(r"^no segment (\d+) in run (\d+);")


@dataclass
class Reply:
    """One answered command: when it ran (time.monotonic, shared by all processes on Linux),
    the run it came from, and the error text if it was an error."""

    command: str  # one of COMMANDS
    text: str
    started: float
    seconds: float
    run_id: int | None
    error: str | None
    content: int = 0  # hash of what the user reads: title, sections, context


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        Path(args.result).write_text(json.dumps(refresh_worker(args.data, args.db, args.seed)))
        return 0
    return measure(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=lambda text: int(text.replace("_", "")),
                        default=1_000_000, help="customers (default 1000000)")
    parser.add_argument("--threads", type=int, default=4,
                        help="threads answering commands (default 4)")
    parser.add_argument("--before", type=float, default=3.0,
                        help="seconds of answers before the refresh starts (default 3)")
    parser.add_argument("--after", type=float, default=3.0,
                        help="seconds of answers after the refresh process exits (default 3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser


# --- the measuring process ----------------------------------------------------------------

def measure(args: argparse.Namespace) -> int:
    from storage.store import Store

    args.out.mkdir(parents=True, exist_ok=True)
    first, second = ensure_weeks(args.out, args.rows, args.seed)
    db = args.out / f"during-publish-{args.rows}.db"
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        path.unlink(missing_ok=True)
    print(f"  first run from {first.name}", flush=True)
    spawn_refresh(args, first, db).wait_result()
    store = Store(db)
    old = store.current_run()
    old_segments = [s.segment_id for s in store.list_segments(old.id)]
    ids = sample_customer_ids(first, 2_000, args.seed)
    expected = {old.id: what_users_read(store, old_segments, ids)}

    stop = threading.Event()
    replies: list[list[Reply]] = [[] for _ in range(args.threads)]
    threads = [threading.Thread(target=answer_loop,
                                args=(store, old_segments, ids, args.seed + n, stop, replies[n]))
               for n in range(args.threads)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(args.before)
    print(f"  second refresh from {second.name}, answering from {args.threads} threads",
          flush=True)
    refresh = spawn_refresh(args, second, db)
    window = refresh.wait_result()
    time.sleep(args.after)
    stop.set()
    for thread in threads:
        thread.join()
    ended = time.monotonic()

    new = store.current_run()
    expected[new.id] = what_users_read(store, old_segments, ids)
    segments_of = {run.id: {s.segment_id for s in store.list_segments(run.id)}
                   for run in (old, new)}
    report = summarise([r for thread in replies for r in thread], old.id, new.id, segments_of,
                       expected, window, began, ended)
    report.update(rows=args.rows, threads=args.threads, machine=_machine())
    text, markdown = format_report(report)
    print(text)
    (args.out / f"during-publish-{args.rows}.json").write_text(json.dumps(report, indent=1))
    (args.out / f"during-publish-{args.rows}.md").write_text(markdown)
    return 1 if report["errors"] or report["stale"] or report["mixed"] else 0


def ensure_weeks(out: Path, rows: int, seed: int) -> tuple[Path, Path]:
    """Two tables of the same customers, the second with 3 % of rows drawn afresh; cached.
    The first is the table bench/run.py generates for the same size and seed."""
    first = out / f"customers-{rows}-seed{seed}.tsv"
    second = out / f"customers-{rows}-seed{seed}-redrawn.tsv"
    if first.exists() and second.exists():
        return first, second
    import numpy as np

    from segmentation.synthetic import generate_customers, write_customers

    started = time.perf_counter()
    customers = generate_customers(rows, seed=seed)
    if not first.exists():
        write_customers(customers, first.with_suffix(".partial.tsv")).replace(first)
    redrawn = generate_customers(rows, seed=seed + 1)
    changed = np.random.default_rng(seed + 1).random(rows) < 0.03
    for column in customers.columns.drop("ID"):
        customers.loc[changed, column] = redrawn.loc[changed, column].to_numpy()
    write_customers(customers, second.with_suffix(".partial.tsv")).replace(second)
    print(f"  generated {rows:,} customers in {time.perf_counter() - started:.1f} s",
          flush=True)
    return first, second


def what_users_read(store: Any, segments: list[int], ids: list[str]) -> dict[tuple, int]:
    """Every answer the threads may give, as the store gives it when nothing else runs:
    (command, text) → hash of its content."""
    from bot.answers import answer, parse_request

    requests = [("/segments", ""), ("/segments changes", "changes"),
                *(("/cluster N", str(n)) for n in segments), *(("/customer ID", i) for i in ids)]
    return {(kind, text): _content(answer(store, parse_request(kind.split()[0], text)))
            for kind, text in requests}


def _content(reply: Any) -> int:
    return hash((reply.title, reply.sections, reply.context))


def answer_loop(store: Any, segments: list[int], ids: list[str], seed: int,
                stop: threading.Event, replies: list[Reply]) -> None:
    """Answer random commands as a listener thread would, until ``stop``."""
    import random

    from bot.answers import answer, parse_request

    rng = random.Random(seed)
    while not stop.is_set():
        kind = rng.choice(COMMANDS)
        command, _, text = kind.partition(" ")
        text = {"N": str(rng.choice(segments)), "ID": rng.choice(ids)}.get(text, text)
        started = time.monotonic()
        try:
            reply = answer(store, parse_request(command, text))
        except Exception as error:  # the measurement is there to count them
            replies.append(Reply(kind, text, started, time.monotonic() - started, None,
                                 f"{type(error).__name__}: {error}"))
            continue
        seconds = time.monotonic() - started
        match = _RUN_ID.match(reply.context)
        error = " / ".join(s.text for s in reply.sections) if reply.is_error else None
        replies.append(Reply(kind, text, started, seconds,
                             int(match.group(1)) if match else None, error, _content(reply)))


class RefreshProcess:
    """`refresh()` in a child process, as `segbot refresh` runs beside the bot."""

    def __init__(self, command: list[str], result: Path) -> None:
        self.result = result
        self.spawned = time.monotonic()
        self.process = subprocess.Popen(command, cwd=ROOT)

    def wait_result(self) -> dict[str, float]:
        if self.process.wait() != 0:
            raise SystemExit(f"the refresh process failed (exit {self.process.returncode})")
        window = json.loads(self.result.read_text())
        return {**window, "spawned": self.spawned, "exited": time.monotonic()}


def spawn_refresh(args: argparse.Namespace, data: Path, db: Path) -> RefreshProcess:
    result = args.out / f"during-publish-{args.rows}-refresh.json"
    result.unlink(missing_ok=True)
    return RefreshProcess([sys.executable, str(Path(__file__).resolve()), "--worker",
                           "--data", str(data), "--db", str(db), "--seed", str(args.seed),
                           "--result", str(result)], result)


# --- the refresh process ------------------------------------------------------------------

def refresh_worker(data: Path, db: Path, seed: int) -> dict[str, float]:
    """Refresh the store from ``data``; return when refresh() ran and when it published."""
    from bot.jobs.refresh import refresh
    from segmentation.model import ModelConfig
    from storage.store import Store

    marks: dict[str, float] = {}

    def trace(statement: str) -> None:
        if statement == "BEGIN IMMEDIATE":  # only publish_run writes during a refresh
            marks["publish_began"] = time.monotonic()
        elif statement == "COMMIT" and "publish_began" in marks:
            marks.setdefault("commit", time.monotonic())

    marks["refresh_began"] = time.monotonic()
    run = refresh(Store(db, trace=trace), data, config=ModelConfig(seed=seed))
    marks["published"] = time.monotonic()  # commit and WAL checkpoint done
    return {**marks, "run_id": run.id}


# --- the report ---------------------------------------------------------------------------

def summarise(replies: list[Reply], old: int, new: int, segments_of: dict[int, set[int]],
              expected: dict[int, dict[tuple, int]], window: dict[str, float], began: float,
              ended: float) -> dict[str, Any]:
    """Counts and latency per phase, and every error."""
    bounds = (began, window["spawned"], window["publish_began"], window["commit"],
              window["published"], ended)
    errors = [r for r in replies if _is_error(r, old, new, segments_of)]
    # a read that starts after the commit must see it; the old run then would be a stale read
    stale = [r for r in replies if r.started > window["published"] and r.run_id == old]
    # labelled with one run but not that run's answer: read partly from the other
    mixed = [r for r in replies if r.run_id in expected
             and r.content != expected[r.run_id][r.command, r.text]]
    phases = {}
    for name, start, stop in zip(PHASES, bounds, bounds[1:], strict=False):
        inside = [r for r in replies if start <= r.started < stop]
        phases[name] = {"seconds": round(stop - start, 2), **_counts(inside, old, new),
                        "errors": sum(r in errors for r in inside),
                        "by_command": _by_command(inside)}
    overlapping = [r for r in replies
                   if r.started < window["published"]
                   and r.started + r.seconds > window["publish_began"]]
    return {"answers": len(replies), "errors": len(errors), "stale": len(stale),
            "mixed": len(mixed),
            "old_run": old, "new_run": new, "phases": phases,
            "all": {**_counts(replies, old, new), "errors": len(errors)},
            "overlapping_publish": _counts(overlapping, old, new),
            "by_command": _by_command(replies),
            "refresh_process_s": round(window["exited"] - window["spawned"], 2),
            "refresh_call_s": round(window["published"] - window["refresh_began"], 2),
            "publish_transaction_s": round(window["commit"] - window["publish_began"], 2),
            "commit_s": round(window["published"] - window["commit"], 2),
            "slowest": [{**asdict(r), "started": round(r.started - window["publish_began"], 3)}
                        for r in sorted(replies, key=lambda r: -r.seconds)[:10]],
            "error_samples": [asdict(r) for r in (errors + stale + mixed)[:20]]}


def _is_error(reply: Reply, old: int, new: int, segments_of: dict[int, set[int]]) -> bool:
    if reply.error is None:
        return reply.run_id not in (old, new)
    # "/cluster N" for a segment the new run retired is a right answer, not a fault
    missing = _NO_SEGMENT.match(reply.error)
    return not (missing and int(missing.group(2)) in segments_of
                and int(missing.group(1)) not in segments_of[int(missing.group(2))])


def _counts(replies: list[Reply], old: int, new: int) -> dict[str, Any]:
    return {"answers": len(replies), "old": sum(r.run_id == old for r in replies),
            "new": sum(r.run_id == new for r in replies),
            **_percentiles([r.seconds for r in replies])}


def _by_command(replies: list[Reply]) -> dict[str, dict[str, float]]:
    return {kind: {"answers": len(times), **_percentiles(times)}
            for kind in COMMANDS
            if (times := [r.seconds for r in replies if r.command == kind])}


def _percentiles(seconds: list[float]) -> dict[str, float | None]:
    import numpy as np

    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    values = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1),
            "max_ms": round(float(values.max()), 1)}


def format_report(report: dict[str, Any]) -> tuple[str, str]:
    """The report as a plain-text table and as Markdown."""
    head = ("phase", "s", "answers", "old run", "new run", "errors", "p50 ms", "p99 ms",
            "max ms")
    rows = [(name, f"{p['seconds']:.2f}", *_cells(p)) for name, p in report["phases"].items()]
    rows.append(("all", "", *_cells(report["all"])))
    overlap = report["overlapping_publish"]
    rows.append(("in flight at any time of the publish", "", overlap["answers"], overlap["old"],
                 overlap["new"], "", _ms(overlap["p50_ms"]), _ms(overlap["p99_ms"]),
                 _ms(overlap["max_ms"])))
    by_phase = ("p50 / p99 ms", *PHASES, "all")
    commands = [(kind, *(_p50_p99(phase["by_command"].get(kind))
                         for phase in report["phases"].values()),
                 _p50_p99(report["by_command"].get(kind))) for kind in COMMANDS]
    notes = [f"{report['rows']:,} customers, {report['threads']} answering threads, "
             f"runs {report['old_run']} → {report['new_run']}",
             f"refresh process {report['refresh_process_s']:.2f} s (refresh() "
             f"{report['refresh_call_s']:.2f} s, of which the publish transaction "
             f"{report['publish_transaction_s']:.2f} s, its commit and WAL checkpoint "
             f"{report['commit_s']:.2f} s)",
             f"errors {report['errors']}, stale answers (old run after the commit) "
             f"{report['stale']}, answers mixing the runs {report['mixed']}; "
             f"load average {report['machine']['load']}"]
    notes += [f"ERROR {e['command']} ({e['text']}): {e['error'] or 'run ' + str(e['run_id'])}"
              for e in report["error_samples"]]
    text = "\n".join([_plain(head, rows), "", _plain(by_phase, commands), "", *notes])
    markdown = "\n".join([_markdown(head, rows), "", _markdown(by_phase, commands), "",
                          *(f"- {note}" for note in notes)])
    return text, markdown


def _markdown(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
                      *("| " + " | ".join(map(str, row)) + " |" for row in rows)])


def _p50_p99(latency: dict[str, Any] | None) -> str:
    return "–" if latency is None else f"{_ms(latency['p50_ms'])} / {_ms(latency['p99_ms'])}"


def _cells(phase: dict[str, Any]) -> tuple[Any, ...]:
    return (phase["answers"], phase["old"], phase["new"], phase["errors"],
            _ms(phase["p50_ms"]), _ms(phase["p99_ms"]), _ms(phase["max_ms"]))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _plain(head: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    table = [tuple(map(str, head)), *(tuple(map(str, row)) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    return "\n".join(row[0].ljust(widths[0]) + "  " + "  ".join(
        cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))
        for row in table)


def _machine() -> dict[str, Any]:
    import os

    return {"cpus": os.cpu_count(), "load": " ".join(f"{v:.2f}" for v in os.getloadavg())}


if __name__ == "__main__":
    raise SystemExit(main())
