"""`segbot` on the command line: thin commands over the engine, the store and the answers."""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from bot import answers
from bot.answers import RequestKind, terminal
from bot.clock import utc_now
from bot.jobs.refresh import RefreshInProgress, refresh
from bot.settings import DEFAULT_DB, Engine, Settings, SettingsError, load_settings, spark_setting
from bot.spark import spark_engine
from segmentation.errors import SegmentationError
from segmentation.sources import table_source
from storage.errors import StoreDamaged, StoreError, StoreUnavailable
from storage.retention import check_keep
from storage.store import Store

DEMO_DIR = Path("segbot-demo")

Handler = Callable[[argparse.Namespace, Settings], int]


class CliError(Exception):
    """A problem to report as one line with exit code 2."""


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of the `segbot` console script; `environ` defaults to the process's."""
    args = build_parser().parse_args(argv)
    try:
        settings = command_settings(args, os.environ if environ is None else environ)
        _prepare_charts_folder(getattr(args, "charts", None))
        handler: Handler = args.handler
        return handler(args, settings)
    except (CliError, SegmentationError, StoreError, RefreshInProgress, SettingsError,
            answers.UsageError) as error:
        print(f"segbot: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an output path that cannot be written, a full disk ...
        where = f"{error.filename}: " if error.filename else ""
        print(f"segbot: error: {where}{error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segbot: interrupted; the store keeps its previous run", file=sys.stderr)
        return 130


def run() -> NoReturn:
    """The `segbot` console script: `main`, then the process's exit.

    After a refresh the interpreter would free every object and module one by one before the
    process ends: 0.6 s after a million customers, for a process whose work is done and
    whose output is written. When nothing else of the process is still running (no other
    thread, no child process, Spark never started), the output is flushed and the process
    ends at once; otherwise it exits as usual.
    """
    use_small_pages_for_arrays(os.environ)
    code = main()
    if _nothing_else_running():
        _flush_output()
        os._exit(code)
    sys.exit(code)


def use_small_pages_for_arrays(environ: MutableMapping[str, str]) -> None:
    """Have NumPy, when it is imported, leave its arrays in the kernel's ordinary 4 KiB pages
    unless ``NUMPY_MADVISE_HUGEPAGE`` says otherwise (call before NumPy is imported).

    NumPy asks Linux for transparent huge pages for every array of 4 MB or more. Where the
    kernel grants them only on request (``/sys/kernel/mm/transparent_hugepage/defrag`` is
    ``madvise``, as on our machines) it compacts memory to find each 2 MB page inside the
    page fault, and a refresh allocates and frees large arrays at every step: a 1M refresh
    spent 2.0-2.7 s in the kernel instead of 1.7-1.9 s and took 7.8-8.7 s instead of
    7.2-7.9 s (alternated); at 10M it made no difference.
    """
    environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")


def _nothing_else_running() -> bool:
    if threading.active_count() > 1 or "pyspark" in sys.modules:
        return False
    if "multiprocessing" in sys.modules:
        import multiprocessing

        return not multiprocessing.active_children()
    return True


def _flush_output() -> None:
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader gone (| head), or the stream closed
            pass


def command_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    """The settings, read once from `environ`, with the command's --db in place of $SEGBOT_DB.

    Only `serve` needs the Slack tokens; `--http` chooses HTTP over Socket Mode.
    """
    serving = args.handler is cmd_serve
    settings = load_settings(environ, require_slack=serving,
                             http=True if serving and args.http else None)
    return replace(settings, db_path=args.db) if args.db is not None else settings


def build_parser() -> argparse.ArgumentParser:
    """Every `segbot` command, its options and its handler."""
    parser = argparse.ArgumentParser(
        prog="segbot", description="Customer segments for marketers, in Slack and here.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    db_help = f"SQLite results store (default: $SEGBOT_DB, else ./{DEFAULT_DB})"

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--db", type=Path, help=db_help)
        sub.set_defaults(handler=handler)
        return sub

    sub = command("refresh", cmd_refresh, "Segment a customer table and publish the run.")
    sub.add_argument("--data", required=True, metavar="FILE|URL",
                     help="CSV/TSV, Parquet or Excel file (also .gz/.zip/.bz2/.xz), or a "
                          "database URL such as postgresql://host/dbname")
    sub.add_argument("--table", help="with a database URL: the table to read")
    sub.add_argument("--query", help='with a database URL: the query to read ("SELECT …")')
    sub.add_argument("--sheet", help="with an Excel file: the sheet to read (default: the first)")
    _model_options(sub)
    sub.add_argument("--schema", type=Path, help="TOML file overriding the inferred schema "
                                                 "(it may also name the table or query)")
    sub.add_argument("--engine", choices=[e.value for e in Engine],
                     help="where to segment: this process, or Spark (the spark extra) "
                          "(default: $SEGBOT_ENGINE, else local)")
    sub.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                     type=_spark_setting, help="a Spark setting for --engine spark, e.g. "
                     "spark.driver.memory=4g (repeatable; over $SEGBOT_SPARK_CONF)")
    sub = command("segments", cmd_segments, "Overview of the current run's segments.")
    _charts_option(sub)
    sub = command("cluster", cmd_cluster, "One segment in detail.")
    sub.add_argument("segment", help="segment number, as listed by `segbot segments`")
    sub.add_argument("--export", type=Path, help="also write the segment's customers to CSV")
    _charts_option(sub)
    sub = command("customer", cmd_customer, "One customer's segment and profile.")
    sub.add_argument("customer_id", help="the customer's id")
    _charts_option(sub)
    sub = command("ask", cmd_ask, 'Answer a Slack command here, e.g. segbot ask "/cluster 2".')
    sub.add_argument("text", help='the command as typed in Slack, e.g. "/customer 5524"')
    _charts_option(sub)
    sub = command("sample", cmd_sample, "Write synthetic customers in the reference schema, or "
                                        "with --orders a synthetic order history.")
    sub.add_argument("--orders", action="store_true",
                     help="order lines (about ten per customer) instead of customers")
    sub.add_argument("--rows", type=_positive_int, default=5000,
                     help="customers, or with --orders order lines (default 5000)")
    sub.add_argument("--out", type=Path, required=True, help=".tsv/.csv or .parquet")
    sub.add_argument("--seed", type=int, default=0)
    sub = command("demo", cmd_demo, "Sample, refresh and answer: segbot end to end, no Slack.")
    sub.add_argument("--rows", type=_enough_customers, default=5000)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", type=Path, default=DEMO_DIR,
                     help="folder for data, charts and (without --db) the store")
    sub = command("serve", cmd_serve,
                  "Run the Slack bot and its scheduler: Socket Mode when SLACK_APP_TOKEN is "
                  "set, else HTTP.")
    sub.add_argument("--http", action="store_true",
                     help="serve HTTP even when SLACK_APP_TOKEN is set")
    sub.add_argument("--port", type=_positive_int,
                     help="HTTP port, or in Socket Mode the port of GET /health "
                          "(default: $PORT; HTTP falls back to 3000)")
    sub = command("digest", cmd_digest,
                  "Print the digest of the current run, or post it with --post.")
    sub.add_argument("--post", action="store_true",
                     help="post to $SEGBOT_DIGEST_CHANNEL (once per run and channel)")
    sub = command("prune", cmd_prune,
                  "Delete old runs, keeping the newest N (a run of 1M customers is ~100 MB).")
    sub.add_argument("--keep", type=_runs_to_keep, required=True, metavar="N",
                     help="runs to keep, newest first (2 or more: the digest compares the "
                          "current run with the one before it)")
    sub.add_argument("--vacuum", action="store_true",
                     help="also shrink the file (rewrites it: needs as much free disk space)")
    sub = command("schedule", cmd_schedule, "Show when the scheduled refresh will run next.")
    sub.add_argument("--count", type=_positive_int, default=5, help="how many run times")
    return parser


def _spark_setting(raw: str) -> tuple[str, str]:
    """One --spark-conf: its value is taken whole, semicolons and all."""
    try:
        return spark_setting(raw)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _model_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--k", type=_segment_count, help="number of segments (default: elbow)")
    sub.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _charts_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--charts", type=Path, metavar="DIR", help="write the charts as PNG here")


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _segment_count(text: str) -> int:
    value = _whole_number(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{text} must be at least 2: one segment is everyone")
    return value


def _enough_customers(text: str) -> int:
    from segmentation.prepare import MIN_CUSTOMERS

    value = _whole_number(text)
    if value < MIN_CUSTOMERS:
        raise argparse.ArgumentTypeError(
            f"{text} is too few: segmenting needs at least {MIN_CUSTOMERS} customers")
    return value


def _runs_to_keep(text: str) -> int:
    value = _whole_number(text)
    try:
        check_keep(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _prepare_charts_folder(folder: Path | None) -> None:
    """Create the --charts folder before anything is printed, or say why it cannot be."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CliError(f"--charts {folder}: cannot create the folder "
                       f"({error.strerror or error})") from None
    if not os.access(folder, os.W_OK):
        raise CliError(f"--charts {folder}: the folder cannot be written to")


def _open_store(path: Path, *, create: bool = False) -> Store:
    """The store at `path`; only a refresh may create one (a typo must not make a new file)."""
    if path.exists() and path.is_dir():
        raise CliError(f"--db {path} is a folder; give a file path")
    if not create and not path.exists():
        raise CliError(f"no store at {path}: run `segbot refresh --data FILE --db {path}` "
                       "first, or pass the right --db")
    return Store(path)


def _progress() -> Callable[[str], None]:
    started = time.perf_counter()

    def report(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def cmd_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from segmentation.config import ModelConfig
    from segmentation.schema_file import load_schema_file

    overrides = load_schema_file(args.schema) if args.schema else None
    source = table_source(args.data, table=args.table, query=args.query, sheet=args.sheet,
                          schema=overrides)
    if args.engine is not None:
        settings = replace(settings, engine=Engine(args.engine))
    if args.spark_conf and settings.engine is not Engine.SPARK:
        raise CliError("--spark-conf applies to --engine spark (or SEGBOT_ENGINE=spark)")
    spark = spark_engine(settings, dict(args.spark_conf))
    store = _open_store(settings.db_path, create=True)
    try:
        run = refresh(store, source, config=ModelConfig(k=args.k, seed=args.seed),
                      overrides=overrides, progress=_progress(), spark=spark)
    except StoreDamaged:
        raise  # what it still serves cannot be trusted
    except StoreUnavailable as error:
        raise CliError(f"{error}. Nothing was published; {_serving(store)}") from error
    print(terminal.refresh_summary(run, store))
    return 0


def _serving(store: Store) -> str:
    """What answers come from after a failed refresh, as far as the store can still say."""
    try:
        run = store.current_run()
    except StoreError:
        return "answers cannot be read from it either"
    return "there are no segments yet" if run is None else f"answers still come from run {run.id}"


def _show(answer: answers.Answer, charts_dir: Path | None,
          extra: tuple[answers.Attachment, ...] = ()) -> int:
    print(terminal.render_text(answer), end="")
    if charts_dir is not None and not answer.is_error:
        for path in terminal.write_attachments(answer.charts + extra, charts_dir):
            print(f"chart written: {path}")
    return 2 if answer.is_error else 0


def _answer_or_fail(store: Store, request: answers.Request) -> answers.Answer:
    result = answers.answer(store, request)
    if result.is_error:
        raise CliError(terminal.plain(result.sections[0].text))
    return result


def cmd_segments(args: argparse.Namespace, settings: Settings) -> int:
    store = _open_store(settings.db_path)
    result = _answer_or_fail(store, answers.Request(RequestKind.OVERVIEW))
    extra = answers.run_charts(store) if args.charts else ()
    return _show(result, args.charts, extra)


def cmd_cluster(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request = answers.parse_request("cluster", args.segment)
    except answers.UsageError:  # its wording is Slack's (/cluster N export)
        raise CliError(f"{args.segment!r} is not a segment number: use one listed by "
                       "`segbot segments`, e.g. `segbot cluster 2`") from None
    if args.export is not None and not args.export.parent.is_dir():
        # checked before the answer is printed, so a typo does not come after a screenful
        raise CliError(f"--export {args.export}: there is no folder {args.export.parent}")
    store = _open_store(settings.db_path)
    result = _answer_or_fail(store, request)
    status = _show(result, args.charts)
    if args.export:
        export = _answer_or_fail(store, answers.Request(RequestKind.EXPORT, request.argument))
        args.export.write_bytes(export.files[0].render())
        audit_export(store, request.argument, [args.export])
        print(f"customers written: {args.export}")
    return status


def audit_export(store: Store, segment: str, paths: Sequence[Path]) -> None:
    """Record a CLI export in the audit log, as Slack exports are: who, what, and where."""
    store.record_audit(at=utc_now(), actor=f"cli:{getpass.getuser()}", channel=None,
                       action=RequestKind.EXPORT.value, subject=segment, allowed=True,
                       destination=", ".join(str(path.resolve()) for path in paths))


def cmd_customer(args: argparse.Namespace, settings: Settings) -> int:
    store = _open_store(settings.db_path)
    request = answers.parse_request("customer", args.customer_id)
    return _show(_answer_or_fail(store, request), args.charts)


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    command, _, text = args.text.strip().partition(" ")
    if not command.startswith("/"):
        raise CliError('write the command as typed in Slack, e.g. segbot ask "/cluster 2"')
    store = _open_store(settings.db_path)
    result = _answer_or_fail(store, answers.parse_request(command, text))
    status = _show(result, args.charts)
    if args.charts is not None and result.files:
        written = terminal.write_attachments(result.files, args.charts)
        audit_export(store, answers.parse_request(command, text).subject, written)
        for path in written:
            print(f"file written: {path}")
    return status


def cmd_sample(args: argparse.Namespace, settings: Settings) -> int:
    if args.orders:
        return _sample_orders(args)
    from segmentation.synthetic import generate_customers, write_customers

    started = time.perf_counter()
    try:
        path = write_customers(generate_customers(args.rows, seed=args.seed), args.out)
    except ValueError as error:  # an unsupported file type, named in the message
        raise CliError(str(error)) from error
    print(f"{args.rows:,} synthetic customers written to {path} "
          f"in {time.perf_counter() - started:.1f}s")
    return 0


def _sample_orders(args: argparse.Namespace) -> int:
    from segmentation.synthetic_orders import generate_order_lines, write_orders

    started = time.perf_counter()
    lines = generate_order_lines(args.rows, seed=args.seed)
    try:
        path = write_orders(lines, args.out)
    except ValueError as error:  # an unsupported file type, named in the message
        raise CliError(str(error)) from error
    print(f"{len(lines):,} synthetic order lines of {lines['customer_id'].nunique():,} "
          f"customers written to {path} in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_prune(args: argparse.Namespace, settings: Settings) -> int:
    db = settings.db_path
    store = _open_store(db)
    report = store.prune_runs(args.keep)
    if not report.removed:
        print(f"Nothing to delete: {db} has {len(report.kept)} run(s), "
              f"keeping up to {args.keep}.")
    else:
        print(f"Deleted {_runs(report.removed)} ({report.customer_rows:,} customer rows); "
              f"kept {_runs(report.kept)}.")
    if args.vacuum:
        before = db.stat().st_size
        store.vacuum()
        print(f"Vacuumed {db}: {_megabytes(before)} → {_megabytes(db.stat().st_size)}.")
    elif report.removed:
        print(f"{_megabytes(store.free_bytes())} inside {db} is now free and will hold the "
              "next runs; `--vacuum` returns it to the disk.")
    return 0


def _runs(run_ids: tuple[int, ...]) -> str:
    shown = ", ".join(str(run_id) for run_id in run_ids)
    return f"run {shown}" if len(run_ids) == 1 else f"{len(run_ids)} runs ({shown})"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from segmentation.config import ModelConfig
    from segmentation.synthetic import generate_customers, write_customers

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = write_customers(generate_customers(args.rows, seed=args.seed), out / "customers.tsv")
    print(f"1/4 sample: {args.rows:,} synthetic customers → {data}")
    db_path = args.db or out / "segbot.db"
    store = _open_store(db_path, create=True)
    print(f"2/4 refresh → {db_path}")
    run = refresh(store, data, config=ModelConfig(seed=args.seed), progress=_progress())
    print(f"{terminal.refresh_summary(run, store)}\n")
    overview = _answer_or_fail(store, answers.Request(RequestKind.OVERVIEW))
    print("3/4 answers, as segbot gives them in Slack:\n")
    _show(overview, out, answers.run_charts(store))
    first = store.list_segments(run.id)[0]
    _show(_answer_or_fail(store, answers.Request(RequestKind.SEGMENT, str(first.segment_id))), out)
    customer_id = str(store.segment_members(first.segment_id, run.id, limit=1)
                      ["customer_id"].iloc[0])
    _show(_answer_or_fail(store, answers.Request(RequestKind.CUSTOMER, customer_id)), out)
    print(f"\n4/4 charts are in {out}/. Next: `segbot segments --db {db_path}`, "
          f"`segbot ask \"/cluster 2\" --db {db_path}`, or the README's Slack set-up.")
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """`segbot serve`: the bot until interrupted (Slack libraries load only here)."""
    from bot.slack.server import serve

    return serve(settings, port=args.port)


def cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    """`segbot digest [--post]`: print the current run's digest, or post it once."""
    store = _open_store(settings.db_path)
    if not args.post:
        from bot.answers.digest import digest_answer

        answer = digest_answer(store)
        print(terminal.render_text(answer), end="")
        for attachment in answer.charts + answer.files:
            print(f"attached when posted: {attachment.filename} — {attachment.title}")
        return 0
    from bot.slack import digest_posts

    try:
        channel = digest_posts.digest_channel(settings)
        client = digest_posts.digest_client(settings)
        outcome = digest_posts.post_digest(
            store, client, channel, include_movers=digest_posts.movers_allowed(settings, channel))
    except digest_posts.DigestError as error:
        raise CliError(str(error)) from error
    print(outcome.detail)
    if outcome.posted:  # a run announced by hand reaches the Home tabs as a scheduled one does
        from bot.slack.home import refresh_homes

        homes = refresh_homes(settings, store, client)
        if homes.people:
            print(homes.detail)
    return 0


def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    """`segbot schedule`: the next refresh times, and what the refresh reads and posts."""
    from bot.jobs.scheduler import schedule_text

    print(schedule_text(settings, args.count, utc_now()))
    return 0


if __name__ == "__main__":
    run()
