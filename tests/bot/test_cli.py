"""The `segbot` command line, end to end, as a user runs it."""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from storage.store import Store
from tests.bot.conftest import copy_store, three_runs


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args, environ={})
    out, err = capsys.readouterr()
    return code, out, err


def test_refresh_summary_then_segments_lists_named_segments(db_path, capsys) -> None:
    code, out, _ = run_cli(["segments", "--db", str(db_path)], capsys)
    assert code == 0
    store = Store(db_path)
    segments = store.list_segments()
    assert 3 <= len(segments) <= 8
    assert sum(s.size for s in segments) == store.current_run().rows_kept == 2236
    for segment in segments:
        assert f"{segment.segment_id} · {segment.name}" in out


def test_customer_5524_shows_its_segment(db_path, capsys) -> None:
    code, out, _ = run_cli(["customer", "5524", "--db", str(db_path)], capsys)
    record = Store(db_path).get_customer("5524")
    assert code == 0
    assert f"segment {record.segment_id} · {record.segment_name}" in out
    assert "58,138" in out  # the customer's income, as a marketer reads it


def test_excluded_customer_says_why(db_path, capsys) -> None:
    code, out, _ = run_cli(["customer", "9432", "--db", str(db_path)], capsys)
    assert code == 0
    assert "666,666" in out and "left out" in out


def test_cluster_with_charts_and_export(db_path, tmp_path, capsys) -> None:
    export = tmp_path / "members.csv"
    code, out, _ = run_cli(["cluster", "2", "--db", str(db_path), "--charts",
                            str(tmp_path), "--export", str(export)], capsys)
    assert code == 0
    assert "Recommended action" in out
    pngs = list(tmp_path.glob("*.png"))
    assert pngs and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    members = pd.read_csv(export)
    assert len(members) == Store(db_path).get_segment(2).size
    assert members.columns[0] == "customer_id"
    entry = Store(db_path).audit_entries(limit=1)[0]  # exports are audited everywhere
    assert (entry.action, entry.subject, entry.channel, entry.destination) == (
        "export", "2", None, str(export.resolve()))
    assert entry.actor.startswith("cli:")


def test_ask_for_an_export_writes_the_file_and_audits_it(db_path, tmp_path,
                                                         capsys) -> None:
    code, out, _ = run_cli(["ask", "/cluster 3 export", "--db", str(db_path),
                            "--charts", str(tmp_path)], capsys)
    [written] = tmp_path.glob("*.csv")
    assert code == 0 and f"file written: {written}" in out
    entry = Store(db_path).audit_entries(limit=1)[0]
    assert (entry.action, entry.subject, entry.destination) == ("export", "3", str(written))


def test_ask_runs_the_slack_answer_code(db_path, tmp_path, capsys) -> None:
    code, out, _ = run_cli(["ask", "/cluster 1", "--db", str(db_path), "--charts",
                            str(tmp_path)], capsys)
    assert code == 0 and "Segment 1 ·" in out
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())


def test_ask_where_counts_what_pandas_counts_on_the_same_run(db_path, capsys) -> None:
    code, out, _ = run_cli(["ask", "/cluster 1 where income > 50000 and days since last "
                            "purchase >= 60", "--db", str(db_path)], capsys)
    members = Store(db_path).segment_members(1)
    count = ((members["Income"] > 50_000) & (members["Recency"] >= 60)).sum()
    assert code == 0 and f"{count:,} customers match: " in out


def test_ask_where_export_writes_the_audience_and_audits_the_condition(
        db_path, tmp_path, capsys) -> None:
    code, out, _ = run_cli(["ask", "/segments where education = phd export", "--db",
                            str(db_path), "--charts", str(tmp_path)], capsys)
    [written] = tmp_path.glob("*.csv")
    assert code == 0 and f"file written: {written}" in out
    assert set(pd.read_csv(written)["Education"]) == {"PhD"}
    entry = Store(db_path).audit_entries(limit=1)[0]
    assert (entry.action, entry.subject) == ("export", "all segments where education = phd")


def _table(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


BAD_INPUTS = {
    "missing file": lambda t: ["refresh", "--data", str(t / "nope.csv")],
    "empty file": lambda t: ["refresh", "--data", str(_table(t, "e.csv", b""))],
    "no usable columns": lambda t: ["refresh", "--data", str(_table(
        t, "n.csv", b"id,note\n" + b"".join(b"%d,text %d\n" % (i, i) for i in range(30))))],
    "one row": lambda t: ["refresh", "--data", str(_table(t, "o.csv", b"id,spend\n1,2\n"))],
    "k larger than rows": lambda t: ["refresh", "--k", "40", "--data", str(_table(
        t, "k.csv", b"id,spend\n" + b"".join(b"%d,%d\n" % (i, i * 7 % 11) for i in range(20))))],
    "duplicate ids": lambda t: ["refresh", "--data", str(_table(
        t, "d.csv", b"id,spend\n" + b"".join(b"%d,%d\n" % (i % 15, i) for i in range(20))))],
    "unreadable encoding": lambda t: ["refresh", "--data", str(_table(
        t, "l.csv", "id,city\n1,Z\xfcrich\n".encode("latin-1") * 20))],
    "unknown customer": lambda t: ["customer", "does-not-exist"],
    "unknown segment": lambda t: ["cluster", "99"],
    "garbage segment": lambda t: ["cluster", "1; DROP TABLE runs"],
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_line_exit_2_and_the_store_untouched(
        case, db_path, tmp_path, capsys) -> None:
    before = Store(db_path).list_runs()
    args = BAD_INPUTS[case](tmp_path) + ["--db", str(db_path)]
    code, _, err = run_cli(args, capsys)
    assert code == 2
    lines = [line for line in err.strip().splitlines() if not line.startswith("[")]  # progress
    assert len(lines) == 1 and lines[0].startswith("segbot: error: "), err
    assert "Traceback" not in err
    after = Store(db_path).list_runs()
    assert [r.id for r in after] == [r.id for r in before]


def test_no_published_run_says_how_to_refresh(tmp_path, capsys) -> None:
    code, _, err = run_cli(["segments", "--db", str(tmp_path / "new.db")], capsys)
    assert code == 2 and "segbot refresh" in err


def test_sample_writes_reference_schema(tmp_path, capsys, reference_csv) -> None:
    out = tmp_path / "s.tsv"
    code, _, _ = run_cli(["sample", "--rows", "300", "--out", str(out), "--seed", "2"], capsys)
    assert code == 0
    sample = pd.read_csv(out, sep="\t")
    assert list(sample.columns) == list(pd.read_csv(reference_csv, sep="\t", nrows=1).columns)
    assert len(sample) == 300


@pytest.mark.slow  # a real process, as a new user runs it
def test_console_script_demo_runs_on_embedded_defaults(tmp_path) -> None:
    segbot = Path(sys.executable).with_name("segbot")
    completed = subprocess.run([str(segbot), "demo", "--rows", "3000"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "Customer segments" in completed.stdout
    charts = list((tmp_path / "segbot-demo").glob("*.png"))
    assert len(charts) >= 5
    assert (tmp_path / "segbot-demo" / "segbot.db").exists()


@pytest.mark.slow  # real processes, their output to a pipe and to a file
def test_a_refresh_process_writes_its_whole_summary_and_exits_with_its_code(
        tmp_path, reference_csv) -> None:
    command = [sys.executable, "-m", "bot.cli", "refresh", "--data", str(reference_csv),
               "--db", str(tmp_path / "segbot.db")]
    # output buffered as a user's shell has it: what is not flushed at the exit is lost
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    piped = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environ)
    assert piped.returncode == 0, piped.stderr
    assert "Run 1 published" in piped.stdout
    assert re.search(r"^ +4 · .+ — [\d,]+ \(\d+%\)$", piped.stdout, re.MULTILINE)  # the last
    with (tmp_path / "out.txt").open("w") as out:
        filed = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=300, env=environ)
    assert filed.returncode == 0, filed.stderr
    assert (tmp_path / "out.txt").read_text().splitlines()[-1] == \
        piped.stdout.splitlines()[-1].replace("Run 1", "Run 2")
    failed = subprocess.run([*command[:5], str(tmp_path / "missing.csv"), *command[6:]],
                            capture_output=True, text=True, timeout=300, env=environ)
    assert failed.returncode == 2
    assert "segbot: error: no such file" in failed.stderr and failed.stdout == ""


def test_the_process_ends_at_once_only_when_nothing_else_runs() -> None:
    from bot.cli import _nothing_else_running

    alone = subprocess.run(  # this test's own process has pytest's threads
        [sys.executable, "-c", "from bot.cli import _nothing_else_running as alone; "
                               "print(alone())"], capture_output=True, text=True, timeout=120)
    assert alone.stdout.strip() == "True", alone.stderr
    release = threading.Event()
    waiting = threading.Thread(target=release.wait)
    waiting.start()
    try:
        assert not _nothing_else_running()
    finally:
        release.set()
        waiting.join()


@pytest.mark.parametrize("setting, huge_pages", [(None, False), ("1", True), ("0", False)])
def test_the_console_script_keeps_arrays_in_small_pages_unless_told(
        setting: str | None, huge_pages: bool) -> None:
    probe = ("import os\n"
             "from bot.cli import use_small_pages_for_arrays\n"
             "use_small_pages_for_arrays(os.environ)\n"
             "from numpy._core.multiarray import _get_madvise_hugepage\n"
             "print(_get_madvise_hugepage())\n")
    environ = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if setting is not None:
        environ["NUMPY_MADVISE_HUGEPAGE"] = setting
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120, env=environ)
    assert answer.stdout.strip() == str(huge_pages), answer.stderr


@pytest.mark.parametrize("args, message", [
    (["segments", "--db", "{tmp}/typo.db"], "no store at"),
    (["segments", "--db", "{tmp}/not-a-db.txt"], "cannot open the store"),
    (["refresh", "--data", "{data}", "--db", "{tmp}/missing-folder/x.db"], "cannot open"),
    (["cluster", "1", "--db", "{db}", "--export", "{tmp}/missing-folder/f.csv"],
     "there is no folder"),
    (["segments", "--db", "{db}", "--charts", "{tmp}/not-a-db.txt"], "exists"),
    (["sample", "--rows", "10", "--out", "{tmp}/y.xlsx"], "xlsx"),
])
def test_paths_that_cannot_be_used_are_one_line_errors(args, message, db_path, tmp_path,
                                                       reference_csv, capsys) -> None:
    (tmp_path / "not-a-db.txt").write_text("hello, this is not SQLite\n" * 100)
    args = [a.format(tmp=tmp_path, db=db_path, data=reference_csv) for a in args]
    code, _, err = run_cli(args, capsys)
    lines = [line for line in err.strip().splitlines() if not line.startswith("[")]
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not (tmp_path / "typo.db").exists()


def test_refresh_summary_reports_the_inferred_schema(tmp_path, capsys) -> None:
    rows = 60
    table = pd.DataFrame({
        "Account Code": [f"A{i:03d}" for i in range(rows)],
        "signup": pd.date_range("2023-01-01", periods=rows).strftime("%Y-%m-%d"),
        "plan": ["free", "team", "pro"] * (rows // 3),
        "spend": [float(i % 7) * 10 for i in range(rows)],
        "notes": [f"note {i}" for i in range(rows)],
    })
    table.to_csv(tmp_path / "saas.csv", index=False)
    code, out, _ = run_cli(["refresh", "--data", str(tmp_path / "saas.csv"),
                            "--db", str(tmp_path / "s.db")], capsys)
    assert code == 0
    assert "id: Account Code" in out
    assert "clustered on: spend, signup_days, plan" in out
    assert "notes (free text" in out


@pytest.mark.slow  # over a second: the fast tier stays under a minute
def test_prune_keeps_the_newest_runs_and_vacuum_shrinks_the_file(tmp_path, capsys) -> None:
    data, db = tmp_path / "customers.tsv", tmp_path / "segbot.db"
    assert run_cli(["sample", "--rows", "3000", "--out", str(data)], capsys)[0] == 0
    for seed in (1, 2, 3):
        assert run_cli(["refresh", "--data", str(data), "--db", str(db), "--k", "3",
                        "--seed", str(seed)], capsys)[0] == 0

    segmented = Store(db).get_run(1).rows_kept

    code, out, _ = run_cli(["prune", "--keep", "2", "--db", str(db)], capsys)
    assert code == 0
    assert out.startswith(f"Deleted run 1 ({segmented:,} customer rows); kept 2 runs (3, 2).")
    assert "MB inside" in out and "--vacuum" in out
    assert [run.id for run in Store(db).list_runs()] == [3, 2]

    code, out, _ = run_cli(["prune", "--keep", "2", "--vacuum", "--db", str(db)], capsys)
    assert code == 0 and out.startswith("Nothing to delete")
    before, after = re.search(r"Vacuumed .*: ([\d.]+) MB → ([\d.]+) MB", out).groups()
    assert float(after) < float(before)


@pytest.mark.parametrize("keep", ["1", "0", "-1"])
def test_prune_refuses_to_keep_fewer_than_two_runs(keep, db_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["prune", "--keep", keep, "--db", str(db_path)], environ={})
    assert exit_.value.code == 2
    assert f"keep at least 2 runs (got {keep})" in capsys.readouterr().err
    assert len(Store(db_path).list_runs()) >= 1


@pytest.mark.parametrize("args, message", [
    (["cluster", "0"], "'0' is not a segment number: use one listed by `segbot segments`"),
    (["cluster", "1", "--export", "/no/such/folder/c.csv"], "there is no folder /no/such/folder"),
    (["segments", "--charts", "/proc/segbot-charts"],
     "--charts /proc/segbot-charts: cannot create the folder"),
])
def test_argument_errors_come_before_any_answer(args, message, db_path, capsys) -> None:
    code, out, err = run_cli([*args, "--db", str(db_path)], capsys)
    assert code == 2 and out == ""
    assert err == f"segbot: error: {err.removeprefix('segbot: error: ')}" and message in err


@pytest.mark.parametrize("args, message", [
    (["refresh", "--data", "customers.csv", "--k", "1"],
     "argument --k: 1 must be at least 2: one segment is everyone"),
    (["demo", "--rows", "5"],
     "argument --rows: 5 is too few: segmenting needs at least 10 customers"),
])
def test_numbers_the_engine_would_refuse_are_refused_before_any_work(
        args, message, tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--db", str(tmp_path / "segbot.db")], environ={})
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # no sample, no store


def test_ask_compare_answers_with_a_chart_of_both_segments(db_path, tmp_path, capsys) -> None:
    code, out, _ = run_cli(["ask", "/segments compare 1 2", "--db", str(db_path), "--charts",
                            str(tmp_path)], capsys)
    chart = tmp_path / "compare-1-2-run1.png"
    assert code == 0 and "Segment 1 vs segment 2" in out and "Recommended actions" in out
    assert f"chart written: {chart}" in out and chart.read_bytes().startswith(b"\x89PNG")


def test_ask_compare_of_an_unknown_segment_is_one_error_line(db_path, capsys) -> None:
    code, _, err = run_cli(["ask", "/segments compare 1 42", "--db", str(db_path)], capsys)
    assert code == 2 and "segbot: error: no segment 42 in run 1; segments are" in err


def test_ask_history_answers_with_a_chart_of_every_run(two_run_db, tmp_path, capsys) -> None:
    db = copy_store(two_run_db, tmp_path / "segbot.db")
    charts = tmp_path / "charts"
    code, out, _ = run_cli(["ask", "/segments history", "--db", str(db), "--charts",
                            str(charts)], capsys)
    chart = charts / "history-run2.png"
    assert code == 0 and "2 refreshes from run 1" in out
    assert f"chart written: {chart}" in out and chart.read_bytes().startswith(b"\x89PNG")


def test_ask_cluster_history_after_prune_still_shows_the_pruned_runs(tmp_path, capsys) -> None:
    db = tmp_path / "weeks.db"
    three_runs(db)
    assert run_cli(["prune", "--keep", "2", "--db", str(db)], capsys)[0] == 0
    code, out, _ = run_cli(["ask", "/cluster 1 history", "--db", str(db), "--charts",
                            str(tmp_path)], capsys)
    assert code == 0 and "in 3 of the 3 refreshes shown" in out
    assert [line.split(" · ")[0] for line in out.splitlines() if line.startswith("• run")] == \
        ["• run 3", "• run 2", "• run 1"]
    assert (tmp_path / "history-segment-1-run3.png").read_bytes().startswith(b"\x89PNG")


# Together ~0.3 s of imports: without them `segbot customer` answers in half the 0.5 s that
# issue 14 allows a whole process (BENCHMARKS.md, "Scale targets").
HEAVY_LIBRARIES = ("pandas", "numpy", "pyarrow", "sklearn", "matplotlib", "sqlite_utils")


@pytest.mark.parametrize("command", [["customer", "5524"], ["segments"], ["cluster", "2"]])
def test_reading_answers_loads_neither_pandas_nor_sqlite_utils(db_path: Path,
                                                               command: list[str]) -> None:
    probe = ("import sys; from bot.cli import main; code = main(sys.argv[1:], environ={}); "
             "print(code, sorted({name.split('.')[0] for name in sys.modules} & "
             f"{set(HEAVY_LIBRARIES)!r}))")
    done = subprocess.run([sys.executable, "-c", probe, *command, "--db", str(db_path)],
                          capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.splitlines()[-1] == "0 []"


def test_a_schema_file_in_the_settings_does_not_load_pandas_for_a_lookup(
        db_path: Path, tmp_path: Path) -> None:
    # SEGBOT_SCHEMA is read at the start of every command, lookups included
    schema = tmp_path / "schema.toml"
    schema.write_text('id = "ID"\nfeatures = ["Income", "Recency"]\n', encoding="utf-8")
    probe = ("import sys; from bot.cli import main; "
             f"code = main(sys.argv[1:], environ={{'SEGBOT_SCHEMA': {str(schema)!r}}}); "
             "print(code, sorted({name.split('.')[0] for name in sys.modules} & "
             f"{set(HEAVY_LIBRARIES)!r}))")
    done = subprocess.run([sys.executable, "-c", probe, "customer", "5524", "--db",
                           str(db_path)], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.splitlines()[-1] == "0 []"
