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
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.answers import Attachment, Chart

log = logging.getLogger(__name__)

# Imported once by the fork server; every worker forked from it starts with them loaded.
PRELOAD = ["bot.answers", "segmentation.charts"]


class ChartProcessError(RuntimeError):
    """A worker process stopped while drawing a chart (killed, out of memory, crashed)."""


class ChartProcesses:
    """A renderer (`bot.delivery.Renderer`) drawing charts in `workers` processes.

    Call `start()` at start-up so the first chart does not pay for starting processes, and
    `close()` at shutdown. A worker that dies fails only the charts it was drawing, with
    `ChartProcessError`; the next chart gets a fresh pool.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def __call__(self, attachment: Attachment) -> bytes:
        return self.submit(attachment).result()

    def render_all(self, attachments: Sequence[Attachment]) -> list[bytes]:
        """Every attachment's bytes, in order; the charts draw side by side meanwhile."""
        pending = [self.submit(attachment) for attachment in attachments]
        return [future.result() for future in pending]

    def submit(self, attachment: Attachment) -> Future[bytes]:
        """Start drawing `attachment`: in a worker if it is a `Chart`, else right here."""
        if not isinstance(attachment.render, Chart):
            return _done(attachment)
        pool = self._current_pool()
        outcome: Future[bytes] = Future()
        try:
            drawing = pool.submit(attachment.render)
        except BrokenProcessPool as error:
            self._replace(pool)
            outcome.set_exception(_stopped(attachment, error))
            return outcome
        drawing.add_done_callback(lambda done: self._settle(done, outcome, attachment, pool))
        return outcome

    def start(self) -> None:
        """Start every worker now and draw a small chart in each (fonts, caches)."""
        pool = self._current_pool()
        for future in [pool.submit(_warm_up) for _ in range(self.workers)]:
            future.result()

    def close(self) -> None:
        """Stop the workers; charts not started yet are cancelled."""
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def _settle(self, drawing: Future[bytes], outcome: Future[bytes], attachment: Attachment,
                pool: ProcessPoolExecutor) -> None:
        error = drawing.exception()
        if isinstance(error, BrokenProcessPool):
            self._replace(pool)
            outcome.set_exception(_stopped(attachment, error))
        elif error is not None:
            outcome.set_exception(error)  # the chart's own error, e.g. nothing to draw
        else:
            outcome.set_result(drawing.result())

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self._context)

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """A fresh pool instead of `broken`, once, however many charts saw it break."""
        with self._lock:
            if self._pool is not broken:
                return
            log.error("a chart process stopped unexpectedly; starting new ones")
            broken.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()


def _done(attachment: Attachment) -> Future[bytes]:
    future: Future[bytes] = Future()
    try:
        future.set_result(attachment.render())
    except Exception as error:  # raised to the caller by .result(), as a direct call would
        future.set_exception(error)
    return future


def _stopped(attachment: Attachment, error: BaseException) -> ChartProcessError:
    stopped = ChartProcessError(
        f"the process drawing {attachment.filename} stopped before it finished "
        "(killed or out of memory?); try again")
    stopped.__cause__ = error
    return stopped


def _warm_up() -> None:
    """Draw a tiny chart: the first draw in a process loads fonts and builds caches."""
    import pandas as pd

    from segmentation.charts import render_migration_chart

    render_migration_chart(pd.DataFrame([[5, 1], [0, 7]], index=["1", "2"], columns=["1", "2"]))
