"""Commands answered while another process publishes a refresh: each answer comes from the old
run or the new one, none is an error, and none waits for the publish to finish."""

from __future__ import annotations

import multiprocessing
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from bot.answers import Answer, answer, parse_request
from bot.jobs.refresh import refresh
from segmentation.model import ModelConfig
from segmentation.synthetic import generate_customers, write_customers
from storage.store import Store

pytestmark = pytest.mark.slow

ROWS = 40_000
THREADS = 4  # as the bot's listener pool answers
HOLD_SECONDS = 0.5  # a 1M-customer publish holds its write transaction for seconds
COMMANDS = ("/segments", "/cluster N", "/customer ID", "/segments changes")
RUN_ID = re.compile(r"^Run (\d+) · ")


@dataclass(frozen=True)
class Reply:
    command: str
    text: str
    started: float  # time.monotonic(), which every process on the machine shares
    finished: float
    run_id: int | None
    error: str | None
    content: tuple = ()  # what the user reads: title, sections, context


class PublishWatch:
    """A store trace callback: notes when the publish transaction begins, and holds it open
    for HOLD_SECONDS before its commit, so that readers surely meet an uncommitted run."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {}

    def __call__(self, statement: str) -> None:
        if statement == "BEGIN IMMEDIATE":  # publish_run is the refresh's only write
            self.marks["began"] = time.monotonic()
        elif statement == "COMMIT" and "began" in self.marks and "held" not in self.marks:
            time.sleep(HOLD_SECONDS)
            self.marks["held"] = time.monotonic()


def refresh_in_child(db: Path, data: Path, marks: multiprocessing.Queue) -> None:
    """What `segbot refresh` does beside the bot, reporting when its publish ran."""
    watch = PublishWatch()
    refresh(Store(db, trace=watch), data, config=ModelConfig())
    marks.put({**watch.marks, "published": time.monotonic()})


def ask(kind: str, rng: random.Random, segments: list[int], ids: list[str]) -> tuple[str, str]:
    command, _, text = kind.partition(" ")
    return command, {"N": str(rng.choice(segments)), "ID": rng.choice(ids)}.get(text, text)


def what_users_read(store: Store, segments: list[int], ids: list[str]) -> dict[tuple, tuple]:
    """Every answer the threads may give, as the store gives it now: (command, text) → content."""
    requests = [("/segments", ""), ("/segments", "changes"),
                *(("/cluster", str(n)) for n in segments), *(("/customer", i) for i in ids)]
    return {request: _content(answer(store, parse_request(*request))) for request in requests}


def _content(reply: Answer) -> tuple:
    return reply.title, reply.sections, reply.context


def answer_until(store: Store, stop: threading.Event, segments: list[int], ids: list[str],
                 seed: int, replies: list[Reply]) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        command, text = ask(rng.choice(COMMANDS), rng, segments, ids)
        started = time.monotonic()
        try:
            reply = answer(store, parse_request(command, text))
        except Exception as error:  # every failure is a finding: record it, keep answering
            replies.append(Reply(command, text, started, time.monotonic(), None,
                                 repr(error)))
            continue
        match = RUN_ID.match(reply.context)
        replies.append(Reply(command, text, started, time.monotonic(),
                             int(match.group(1)) if match else None,
                             reply.sections[0].text if reply.is_error else None,
                             _content(reply)))


@pytest.fixture
def weeks(tmp_path: Path) -> tuple[Path, Path]:
    """This week's customers and next week's: the same ids, 10 % behaving differently."""
    before = generate_customers(ROWS, seed=7)
    after = before.copy()
    changed = np.random.default_rng(8).random(ROWS) < 0.10
    after.loc[changed, "Recency"] = 99 - after.loc[changed, "Recency"]
    after.loc[changed, "NumWebVisitsMonth"] += 3
    return (write_customers(before, tmp_path / "week1.tsv"),
            write_customers(after, tmp_path / "week2.tsv"))


def test_commands_answer_from_the_old_or_new_run_while_a_refresh_publishes(
        weeks: tuple[Path, Path], tmp_path: Path) -> None:
    week1, week2 = weeks
    store = Store(tmp_path / "segbot.db")
    old = refresh(store, week1, config=ModelConfig())
    segments = [s.segment_id for s in store.list_segments(old.id)]
    ids = random.Random(1).sample(store.assignment_frame(old.id)["customer_id"].tolist(), 500)
    expected = {old.id: what_users_read(store, segments, ids)}

    stop, replies = threading.Event(), [[] for _ in range(THREADS)]
    threads = [threading.Thread(target=answer_until,
                                args=(store, stop, segments, ids, n, replies[n]))
               for n in range(THREADS)]
    for thread in threads:
        thread.start()
    context = multiprocessing.get_context("spawn")  # never fork a process that runs threads
    queue = context.Queue()
    child = context.Process(target=refresh_in_child, args=(store.path, week2, queue))
    try:
        child.start()
        child.join(timeout=240)
        time.sleep(0.5)  # and a little longer, on the new run
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0
    marks = queue.get(timeout=10)
    new = store.current_run()
    expected[new.id] = what_users_read(store, segments, ids)
    answered = [reply for thread in replies for reply in thread]

    assert [r for r in answered if r.error or r.run_id is None] == []
    assert {r.run_id for r in answered} == {old.id, new.id} and new.id != old.id
    # the whole answer is that run's, not only its label: nothing mixes the two runs
    mixed = [r for r in answered if r.content != expected[r.run_id][r.command, r.text]]
    assert [(r.command, r.text, r.run_id) for r in mixed] == []
    # read while the refresh held the write lock on a whole uncommitted run: they went on
    # (WAL), and saw the run that was current then
    inside = [r for r in answered if marks["began"] < r.started and r.finished < marks["held"]]
    assert len(inside) >= THREADS
    assert {r.run_id for r in inside} == {old.id}
    # once the publish has returned, no answer falls back to the old run
    after = [r for r in answered if r.started > marks["published"]]
    assert after and {r.run_id for r in after} == {new.id}
