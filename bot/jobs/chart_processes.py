"""Charts drawn in worker processes, so that the bot's own threads never wait on matplotlib.

matplotlib holds the GIL for the whole of a draw (0.2-0.5 s a chart). Drawn in the bot's
process, a chart holds up every other thread: Slack's 3-second acks, uploads, the scheduled
refresh. `ChartProcesses` draws each `Chart` in one of a few worker processes forked from a
server that has matplotlib loaded already, so charts draw side by side on separate cores
(the digest's two, or two users' at once) and the bot's threads stay free.

Only `Chart`s cross to a worker (plain data that pickles); files such as CSV exports are
closures over the store and are written in the calling process, as before.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.answers.parts import Attachment, Chart

log = logging.getLogger(__name__)

# Imported once by the fork server; every worker forked from it starts with them loaded.
PRELOAD = ["bot.answers.parts", "segmentation.charts"]


class ChartProcessError(RuntimeError):
    """A worker process stopped while drawing a chart (killed, out of memory, crashed)."""


class ChartProcesses:
    """A renderer (`bot.answers.rendering.BatchRenderer`) drawing charts in `workers` processes.

    Call `start()` at start-up so the first chart does not pay for starting processes, and
    `close()` at shutdown. A worker that dies fails the charts in flight at that moment with
    `ChartProcessError`, and the next chart gets fresh processes.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._lock = threading.Lock()
        self._closed = False
        self._pool = self._new_pool()

    def __call__(self, attachment: Attachment) -> bytes:
        return self.render_all([attachment])[0]

    def render_all(self, attachments: Sequence[Attachment]) -> list[bytes]:
        """Every attachment's bytes, in order; the charts draw side by side meanwhile."""
        pool = self._current_pool()
        pending = [self._start(pool, attachment) for attachment in attachments]
        return [self._finish(pool, attachment, future)
                for attachment, future in zip(attachments, pending, strict=True)]

    def _start(self, pool: ProcessPoolExecutor, attachment: Attachment) -> Future[bytes]:
        """A chart goes to a worker; anything else is rendered right here."""
        if not isinstance(attachment.render, Chart):
            return _done(attachment.render)
        try:
            return pool.submit(attachment.render)
        except RuntimeError as error:  # the pool is broken (BrokenProcessPool) or shut down
            return _failed(error)

    def _finish(self, pool: ProcessPoolExecutor, attachment: Attachment,
                future: Future[bytes]) -> bytes:
        try:
            return future.result()
        except (BrokenProcessPool, CancelledError) as error:
            self._replace(pool)
            raise ChartProcessError(
                f"the process drawing {attachment.filename} stopped before it finished "
                "(killed or out of memory?); try again") from error

    def start(self) -> None:
        """Start every worker now; each draws a small chart as it starts (fonts, caches)."""
        pool = self._current_pool()
        for future in [pool.submit(os.getpid) for _ in range(self.workers)]:
            future.result()

    def close(self) -> None:
        """Stop the workers; charts not started yet are cancelled."""
        with self._lock:
            self._closed = True
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._context,
                                   initializer=_warm_up)

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A fresh pool instead of `broken`, once, however many charts saw it break."""
        with self._lock:
            if self._closed or self._pool is not broken:
                return
            log.error("a chart process stopped unexpectedly; starting new ones")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()


def _done(render: Callable[[], bytes]) -> Future[bytes]:
    future: Future[bytes] = Future()
    try:
        future.set_result(render())
    except Exception as error:  # raised to the caller by .result(), as a direct call would
        future.set_exception(error)
    return future


def _failed(error: BaseException) -> Future[bytes]:
    future: Future[bytes] = Future()
    future.set_exception(error)
    return future


def _warm_up() -> None:
    """Draw a tiny chart: the first draw in a process loads fonts and builds caches."""
    import pandas as pd

    from segmentation.charts import render_migration_chart

    render_migration_chart(pd.DataFrame([[5, 1], [0, 7]], index=["1", "2"], columns=["1", "2"]))
