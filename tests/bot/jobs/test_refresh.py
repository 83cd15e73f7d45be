"""A refresh continues the previous run: same ids and names, movement kept, one at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from bot.jobs.refresh import RefreshInProgress, refresh, refresh_lock
from segmentation.errors import DataError
from segmentation.model import ModelConfig
from segmentation.result import GONE, NEW
from segmentation.synthetic import generate_customers, write_customers
from storage.store import Store
from tests.conftest import ROOT

FAST = ModelConfig(k_max=6, n_init=10)


def fast(seed: int) -> ModelConfig:
    return ModelConfig(k_max=FAST.k_max, n_init=FAST.n_init, seed=seed)


@pytest.fixture(scope="module")
def weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, set[str], set[str]]:
    """Two weekly extracts: in the second, 10% of customers changed behaviour, 40 left and
    25 joined. Returns both paths and the ids that left and joined."""
    folder = tmp_path_factory.mktemp("weeks")
    before = generate_customers(1500, seed=5)
    after = before.copy()
    rng = np.random.default_rng(0)
    changed = rng.choice(len(after), size=len(after) // 10, replace=False)
    after.loc[changed, "Recency"] = 99 - after.loc[changed, "Recency"]
    after.loc[changed, "NumWebVisitsMonth"] = after.loc[changed, "NumWebVisitsMonth"] + 3
    left = after.sample(40, random_state=1)
    joined = generate_customers(25, seed=11).assign(ID=np.arange(900_001, 900_026))
    after = pd.concat([after.drop(left.index), joined], ignore_index=True)
    return (write_customers(before, folder / "week1.csv"),
            write_customers(after, folder / "week2.csv"),
            set(left["ID"].astype(str)), set(joined["ID"].astype(str)))


@pytest.fixture(scope="module")
def two_runs(weeks, tmp_path_factory: pytest.TempPathFactory) -> Store:
    week1, week2, _, _ = weeks
    store = Store(tmp_path_factory.mktemp("runs") / "segbot.db")
    refresh(store, week1, config=fast(seed=1))
    refresh(store, week2, config=fast(seed=2))
    return store


def test_changed_behaviour_keeps_segment_ids_and_names(two_runs: Store) -> None:
    first = [(s.segment_id, s.name) for s in two_runs.list_segments(1)]
    second = [(s.segment_id, s.name) for s in two_runs.list_segments(2)]

    assert second == first
    assert two_runs.retired_segments(2) == []
    assert [m.previous_id for m in two_runs.segment_matches(2)] == [i for i, _ in first]


def test_movement_counts_every_customer_once(two_runs: Store, weeks) -> None:
    _, _, left, joined = weeks
    before, after = two_runs.assignment_frame(1), two_runs.assignment_frame(2)
    moves = two_runs.movement(2)

    out_of = moves[moves["from"] != NEW].groupby("from")["customers"].sum()
    into = moves[moves["to"] != GONE].groupby("to")["customers"].sum()
    assert out_of.to_dict() == before["segment_id"].astype(str).value_counts().to_dict()
    assert into.to_dict() == after["segment_id"].astype(str).value_counts().to_dict()
    gone = set(before["customer_id"]) - set(after["customer_id"])
    new = set(after["customer_id"]) - set(before["customer_id"])
    assert gone <= left and new <= joined  # only the customers who left or joined
    assert moves.loc[moves["to"] == GONE, "customers"].sum() == len(gone) > 30
    assert moves.loc[moves["from"] == NEW, "customers"].sum() == len(new) > 20


def test_movers_are_the_off_diagonal_of_the_movement(two_runs: Store) -> None:
    moves = two_runs.movement(2)
    both = moves[(moves["from"] != NEW) & (moves["to"] != GONE)]
    moved = both.loc[both["from"] != both["to"], "customers"].sum()

    movers = two_runs.movers(2)

    assert len(movers) == moved > 0
    assert (movers["from_segment"] != movers["to_segment"]).all()
    stayed = both.loc[both["from"] == both["to"], "customers"].sum()
    assert stayed / both["customers"].sum() > 0.8  # most customers keep their segment


def test_a_refresh_while_another_runs_is_refused_and_changes_nothing(
        tmp_path: Path, weeks, capsys: pytest.CaptureFixture[str]) -> None:
    week1 = weeks[0]
    db = tmp_path / "segbot.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom pathlib import Path\n"
         "from bot.jobs.refresh import refresh_lock\n"
         "with refresh_lock(Path(sys.argv[1])):\n"
         "    print('locked', flush=True)\n    sys.stdin.read()\n", str(db)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "locked"

        code = main(["refresh", "--data", str(week1), "--db", str(db), "--k", "3"], environ={})

        err = capsys.readouterr().err
        assert code == 2
        assert f"a refresh of {db} is already running (pid {holder.pid}, started" in err
        assert "nothing was changed" in err
        assert Store(db).current_run() is None
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)

    assert main(["refresh", "--data", str(week1), "--db", str(db), "--k", "3"], environ={}) == 0


def test_the_lock_is_held_for_the_whole_refresh_and_released_after_a_failure(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "segbot.db")
    with refresh_lock(store.path), pytest.raises(RefreshInProgress):
        refresh(store, tmp_path / "customers.csv", config=FAST)

    with pytest.raises(DataError):
        refresh(store, tmp_path / "missing.csv", config=FAST)

    with refresh_lock(store.path):  # free again: a failed refresh leaves no lock behind
        pass


def test_a_second_refresh_with_another_seed_keeps_ids_and_names(two_run_db: Path) -> None:
    store = Store(two_run_db)

    first = [(s.segment_id, s.name) for s in store.list_segments(1)]
    second = [(s.segment_id, s.name) for s in store.list_segments(2)]

    assert second == first
    assert [m.previous_id for m in store.segment_matches(2)] == [i for i, _ in first]


@pytest.mark.parametrize("collecting", [True, False])
def test_importing_the_engine_leaves_the_collector_as_it_was(collecting: bool) -> None:
    # in a process of its own: this one has imported the engine already
    probe = ("import gc\n"
             f"{'' if collecting else 'gc.disable()'}\n"
             "from bot.jobs.refresh import ENGINE, import_long_lived\n"
             "frozen = gc.get_freeze_count()\n"
             "import_long_lived(ENGINE)\n"
             "import segmentation.engine\n"
             "print(gc.isenabled(), gc.get_freeze_count() > frozen + 50_000)\n")
    answer = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            cwd=ROOT, check=True, timeout=120).stdout.split()
    assert answer == [str(collecting), "True"]
