"""The scheduled refresh inside the bot process: refresh on a cron schedule, then post the digest
and publish the new run to the Home tab of everyone who has opened it.

APScheduler 3 keeps jobs in memory, so a refresh missed while the bot was down is caught up on
start when its slot is less than the misfire grace time ago. On start the bot also retries every
digest whose post failed. Refreshes never overlap: `bot.jobs.refresh` holds a lock across processes,
and the job itself runs at most one instance at a time. Only one bot process per store runs
the scheduler (`SchedulerLock`); another one answers commands and stands by. Without
SEGBOT_DATA nothing is scheduled: refreshes are then run by hand with `segbot refresh`.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.answers.rendering import Renderer, render
from bot.clock import Clock, utc_now
from bot.jobs.cron import crontab_trigger
from bot.jobs.refresh import RefreshInProgress, refresh
from bot.settings import Settings
from bot.slack.digest_posts import (
    DigestError,
    movers_allowed,
    post_digest,
    post_refresh_failure,
    retry_pending_digests,
)
from bot.slack.home import refresh_homes
from bot.spark import SparkEngine, spark_engine
from segmentation.config import ModelConfig
from segmentation.errors import DataError, SegmentationError
from segmentation.sources import FileSource, TableSource
from storage.errors import StoreError
from storage.records import RunRecord
from storage.store import Store

log = logging.getLogger(__name__)

JOB_ID = "segbot-refresh"
STARTUP_JOB_ID = "segbot-startup"
MISFIRE_GRACE = timedelta(hours=6)  # a refresh up to 6 h late (bot down, machine asleep) runs
SCHEDULER_LOCK_SUFFIX = ".scheduler.lock"
STANDBY_POLL = timedelta(seconds=30)  # how often a bot without the scheduler asks for it



def refresh_trigger(settings: Settings) -> CronTrigger:
    """SEGBOT_REFRESH_CRON in SEGBOT_TIMEZONE (default: Mondays 06:00 UTC)."""
    return crontab_trigger(settings.refresh_cron, settings.tzinfo)


def next_run_times(trigger: CronTrigger, count: int, now: datetime) -> list[datetime]:
    """The next `count` times the refresh will run after `now`."""
    times: list[datetime] = []
    fire = trigger.get_next_fire_time(None, now)
    while fire is not None and len(times) < count:
        times.append(fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return times


def missed_slot(trigger: CronTrigger, last_started: datetime | None, now: datetime,
                grace: timedelta = MISFIRE_GRACE) -> datetime | None:
    """The latest slot in the last `grace` that no refresh started after, if any."""
    slot = None
    fire = trigger.get_next_fire_time(None, now - grace)
    while fire is not None and fire <= now:
        slot = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    if slot is None or (last_started is not None and last_started >= slot):
        return None
    return slot


@dataclass(frozen=True)
class ScheduledRefresh:
    """The job: refresh from SEGBOT_DATA (read afresh each time), then post the digest."""

    settings: Settings
    store: Store
    client: WebClient
    trigger: CronTrigger
    now: Clock = utc_now
    config: ModelConfig = field(default_factory=ModelConfig)
    renderer: Renderer = render  # draws the digest's charts
    spark: SparkEngine | None = None  # SEGBOT_ENGINE=spark: refreshes segment on Spark

    def __call__(self) -> RunRecord | None:
        """Run once; return the published run, or None when it failed or was refused.

        Digests whose post failed earlier go first, so a failure waits one slot at most.
        """
        self.retry_failed_digests()
        try:
            run = refresh(self.store, self._data(), config=self.config,
                          overrides=self.settings.schema, now=self.now, spark=self.spark)
        except RefreshInProgress as error:
            log.warning("scheduled refresh skipped: %s", error)
            return None
        except Exception as error:  # the job's boundary: every failure is reported
            log.exception("scheduled refresh failed")
            self._report_failure(describe_failure(error))
            return None
        log.info("scheduled refresh published run %s", run.id)
        self._post_digest(run)
        self._refresh_homes()
        self._prune()
        return run

    def retry_failed_digests(self) -> None:
        """Post again every digest whose last post failed (never an unconfirmed one)."""
        for outcome in retry_pending_digests(
                self.store, self.client, now=self.now, renderer=self.renderer,
                movers_to=lambda channel: movers_allowed(self.settings, channel)):
            log.info("retried: %s", outcome.detail)

    def _data(self) -> TableSource:
        if self.settings.data_source is None:
            raise DataError("SEGBOT_DATA is not set: there is no customer table to refresh from")
        return self.settings.data_source

    def _report_failure(self, cause: str) -> None:
        channel = self.settings.digest_channel
        if channel is None:
            return
        try:
            serving = self.store.current_run()
        except StoreError:  # the store itself is what failed: say so, without a run
            serving = None
        try:
            post_refresh_failure(self.client, channel, cause, data=self.settings.data_source,
                                 serving=serving, next_try=self._next_slot())
        except (SlackClientError, OSError) as error:
            log.error("could not post the refresh failure notice to %s: %s", channel, error)

    def _next_slot(self) -> datetime | None:
        """The next scheduled time strictly after now (the job may run exactly on its slot)."""
        return self.trigger.get_next_fire_time(None, self.now() + timedelta(seconds=1))

    def _post_digest(self, run: RunRecord) -> None:
        channel = self.settings.digest_channel
        if channel is None:
            log.info("SEGBOT_DIGEST_CHANNEL is not set: no digest posted")
            return
        try:
            outcome = post_digest(self.store, self.client, channel, run_id=run.id, now=self.now,
                                  include_movers=movers_allowed(self.settings, channel),
                                  renderer=self.renderer)
        except DigestError as error:
            log.error("digest of run %s not posted: %s", run.id, error)
            return
        log.info(outcome.detail)

    def _refresh_homes(self) -> None:
        """Everyone who has opened the Home tab sees the new run; failures are logged."""
        outcome = refresh_homes(self.settings, self.store, self.client)
        (log.warning if outcome.failed else log.info)(outcome.detail)

    def _prune(self) -> None:
        """Keep the newest SEGBOT_KEEP_RUNS runs; a failure is logged, the next run retries."""
        if self.settings.keep_runs is None:
            return
        try:
            report = self.store.prune_runs(self.settings.keep_runs)
        except StoreError as error:
            log.error("old runs not deleted (retried after the next refresh): %s", error)
            return
        if report.removed:
            log.info("deleted %d old run(s) (%s), keeping %d (SEGBOT_KEEP_RUNS)",
                     len(report.removed), ", ".join(map(str, report.removed)),
                     len(report.kept))


def describe_failure(error: BaseException) -> str:
    """The cause of a failed refresh as a marketer or an operator can act on it."""
    if isinstance(error, SegmentationError | StoreError):
        return str(error)
    if isinstance(error, OSError) and error.strerror:  # e.g. the refresh lock's folder
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return f"unexpected {type(error).__name__}: {error} (details in the bot's log)"


@dataclass(frozen=True)
class StartupTasks:
    """On start: retry digests whose post failed, then catch up a refresh missed while down."""

    job: ScheduledRefresh

    def __call__(self) -> None:
        job = self.job
        job.retry_failed_digests()
        if job.settings.data_source is None:
            return
        latest = job.store.current_run()
        slot = missed_slot(job.trigger, latest.started_at if latest else None, job.now())
        if slot is not None:
            log.info("catching up the refresh scheduled for %s", slot.isoformat())
            job()


def start_scheduler(settings: Settings, store: Store, client: WebClient, *,
                    scheduler: BaseScheduler | None = None, now: Clock = utc_now,
                    config: ModelConfig | None = None,
                    renderer: Renderer = render) -> BaseScheduler:
    """Schedule the refresh (and the start-up tasks, once) and start the scheduler."""
    scheduler = scheduler or BackgroundScheduler(timezone=settings.tzinfo)
    trigger = refresh_trigger(settings)
    job = ScheduledRefresh(settings, store, client, trigger, now, config or ModelConfig(),
                           renderer, spark_engine(settings))
    if settings.data_source is not None:
        scheduler.add_job(job, trigger, id=JOB_ID, name="refresh segments, post the digest",
                          replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=int(MISFIRE_GRACE.total_seconds()))
        log.info("scheduled refresh from %s; next: %s", settings.data_source.describe(),
                 ", ".join(t.isoformat() for t in next_run_times(trigger, 1, now())))
    else:
        log.info("SEGBOT_DATA is not set: no scheduled refresh (run `segbot refresh`)")
    scheduler.add_job(StartupTasks(job), id=STARTUP_JOB_ID, name="retry digests, catch up",
                      replace_existing=True, max_instances=1)  # no trigger: once, at start
    if not scheduler.running:
        scheduler.start()
    return scheduler


class SchedulerLock:
    """An exclusive `flock` on a file beside the store, held by the one process that schedules.

    The kernel releases it when its holder exits, however it exits; the file itself stays, as
    `bot.jobs.refresh.refresh_lock`'s does.
    """

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + SCHEDULER_LOCK_SUFFIX)
        self._handle: TextIO | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False while another process holds it."""
        if self._handle is not None:
            return True
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._handle = handle
        return True

    def holder(self) -> str:
        """Who holds the lock, as its holder wrote it."""
        try:
            return self.path.read_text(encoding="utf-8").strip() or "holder unknown"
        except OSError:
            return "holder unknown"

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def start_scheduler_once(settings: Settings, store: Store, client: WebClient, *,
                         stop: threading.Event, poll: timedelta = STANDBY_POLL,
                         scheduler: BaseScheduler | None = None, now: Clock = utc_now,
                         config: ModelConfig | None = None,
                         renderer: Renderer = render) -> SchedulerLock:
    """Start the scheduler unless another process on the same store runs one; else stand by.

    A process standing by takes the lock, and starts the scheduler, once the process holding
    it has stopped (until `stop` is set): a deploy that starts the new bot before it stops
    the old one still ends with exactly one scheduler. Keep the returned lock referenced for
    as long as the process runs: the lock is released when it is closed.
    """
    lock = SchedulerLock(store.path)
    start = partial(start_scheduler, settings, store, client, scheduler=scheduler, now=now,
                    config=config, renderer=renderer)
    if lock.acquire():
        start()
        return lock
    log.info("another segbot process (%s) runs the scheduler of %s: this one answers commands "
             "and takes the scheduler over if that process stops", lock.holder(), store.path)

    def stand_by() -> None:
        while not stop.wait(poll.total_seconds()):
            if lock.acquire():
                log.info("the scheduler of %s was free: this process runs it now", store.path)
                start()
                return

    threading.Thread(target=stand_by, name="segbot-scheduler-standby", daemon=True).start()
    return lock


def schedule_text(settings: Settings, count: int, now: datetime) -> str:
    """What `segbot schedule` prints."""
    times = next_run_times(refresh_trigger(settings), count, now)
    lines = [f"Scheduled refresh: '{settings.refresh_cron}' in {settings.timezone} "
             "(SEGBOT_REFRESH_CRON, SEGBOT_TIMEZONE). Next runs:"]
    lines += [f"  {t:%a %Y-%m-%d %H:%M %Z}" + ("" if t.utcoffset() == timedelta(0) else
                                              f"  ({t.astimezone(UTC):%H:%M} UTC)")
              for t in times]
    data = settings.data_source
    if data is None:
        lines.append("SEGBOT_DATA is not set: the bot schedules no refresh until it is.")
    else:
        missing = ("" if not isinstance(data, FileSource) or data.path.exists() else
                   " (not found now: a refresh would fail)")
        lines.append(f"Reads {data.describe()}{missing}, afresh on every run.")
        if settings.schema_file is not None:
            lines.append(f"Columns as {settings.schema_file} says (SEGBOT_SCHEMA, read when the "
                         "bot starts).")
    lines.append(f"Posts the digest to {settings.digest_channel}." if settings.digest_channel
                 else "SEGBOT_DIGEST_CHANNEL is not set: no digest or failure notice is posted.")
    lines.append("The schedule runs inside `segbot serve`, in one bot process per store.")
    return "\n".join(lines)
