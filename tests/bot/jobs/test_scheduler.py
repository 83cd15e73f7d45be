"""The scheduled refresh: driven by calling its job with an injected clock, never by waiting."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from bot import answers
from bot.answers import Attachment
from bot.cli import main
from bot.jobs.chart_processes import ChartProcesses
from bot.jobs.cron import crontab_trigger
from bot.jobs.refresh import refresh_lock
from bot.jobs.scheduler import (
    JOB_ID,
    STARTUP_JOB_ID,
    SchedulerLock,
    missed_slot,
    next_run_times,
    refresh_trigger,
    schedule_text,
    start_scheduler,
    start_scheduler_once,
)
from bot.settings import Settings, load_settings
from bot.slack.replies import build_web_client
from segmentation.model import ModelConfig
from segmentation.synthetic import generate_customers, write_customers
from storage.deliveries import DeliveryStatus
from storage.store import Store
from tests.bot.conftest import ALICE, BOB, PNG_MAGIC
from tests.bot.fake_slack import FakeSlack

CHANNEL = "C0DIGEST"
MONDAY_0600 = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
FAST = ModelConfig(k_max=5, n_init=3)


class Clock:
    """The time the code under test sees; tests move it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


class RecordingChartProcesses(ChartProcesses):
    """Real chart processes that also note which attachments were drawn together."""

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.batches: list[list[str]] = []

    def render_all(self, attachments: Sequence[Attachment]) -> list[bytes]:
        self.batches.append([attachment.filename for attachment in attachments])
        return super().render_all(attachments)


class CrashingStore(Store):
    """A store whose publish crashes the way an unexpected bug would."""

    def publish_run(self, *args: object, **kwargs: object) -> int:
        raise RuntimeError("disk on fire")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_customers(generate_customers(600, seed=3), tmp_path / "customers.csv")


def settings_for(fake: FakeSlack, data: Path, **env: str) -> Settings:
    """The digest channel is approved for customer files (the movers CSV) unless `env` says."""
    return load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_SLACK_API_URL": fake.api_url,
                          "SEGBOT_DATA": str(data), "SEGBOT_DIGEST_CHANNEL": CHANNEL,
                          "SEGBOT_ALLOWED_CHANNELS": CHANNEL, **env}, require_slack=False)


def start(settings: Settings, store: Store, scheduler: BackgroundScheduler,
          clock: Clock) -> tuple:
    """Start the bot's scheduler; return its refresh job and start-up job, to call by hand."""
    start_scheduler(settings, store, build_web_client(settings), scheduler=scheduler, now=clock,
                    config=FAST)
    return scheduler.get_job(JOB_ID).func, scheduler.get_job(STARTUP_JOB_ID).func


def posted_texts(fake: FakeSlack) -> list[str]:
    return [c.params["text"] for c in fake.named("api", "chat.postMessage")
            if c.failed_with is None]


def test_the_refresh_is_scheduled_on_mondays_at_six(fake: FakeSlack, data: Path,
                                                     tmp_path: Path, scheduler) -> None:
    settings = settings_for(fake, data)
    store = Store(tmp_path / "segbot.db")
    start(settings, store, scheduler, Clock(MONDAY_0600))
    start(settings, store, scheduler, Clock(MONDAY_0600))  # as a second start would

    [job] = [j for j in scheduler.get_jobs() if j.id == JOB_ID]
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 6 * 3600)
    assert job.trigger.timezone == ZoneInfo("UTC")
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert job.trigger.get_next_fire_time(None, wednesday) == MONDAY_0600


def test_without_segbot_data_nothing_is_scheduled_but_digests_are_retried(
        fake: FakeSlack, tmp_path: Path, scheduler) -> None:
    settings = load_settings({"SLACK_BOT_TOKEN": "xoxb-test", "SEGBOT_DIGEST_CHANNEL": CHANNEL,
                              "SEGBOT_SLACK_API_URL": fake.api_url}, require_slack=False)
    store = Store(tmp_path / "segbot.db")

    start_scheduler(settings, store, build_web_client(settings), scheduler=scheduler,
                    now=Clock(MONDAY_0600 + timedelta(hours=1)))
    scheduler.get_job(STARTUP_JOB_ID).func()

    assert scheduler.get_job(JOB_ID) is None
    assert store.current_run() is None and fake.named("api") == []


def test_a_cron_and_zone_of_ones_own(fake: FakeSlack, data: Path) -> None:
    settings = settings_for(fake, data, SEGBOT_REFRESH_CRON="30 7 * * 1-5",
                            SEGBOT_TIMEZONE="Europe/Paris")
    friday_evening = datetime(2026, 3, 27, 18, 0, tzinfo=UTC)

    fire = refresh_trigger(settings).get_next_fire_time(None, friday_evening)

    # Monday 30 March: Paris is on summer time since Sunday, so 07:30 there is 05:30 UTC.
    assert fire.astimezone(UTC) == datetime(2026, 3, 30, 5, 30, tzinfo=UTC)


@pytest.mark.slow  # full refreshes, week after week
def test_a_digest_that_failed_is_posted_at_the_next_scheduled_slot(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    job, _ = start(settings_for(fake, data), store, scheduler, clock)
    fake.fail("chat.postMessage", "not_in_channel")  # the bot had not been invited yet

    job()
    assert posted_texts(fake) == []
    assert store.get_delivery(1, CHANNEL).status == DeliveryStatus.FAILED
    clock.moment += timedelta(days=7)
    job()  # next Monday, without a restart

    assert posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026",
                                  "Segments digest · Mon 16 Mar 2026"]
    statuses = [store.get_delivery(run, CHANNEL).status for run in (1, 2)]
    assert statuses == [DeliveryStatus.POSTED] * 2


@pytest.mark.slow  # full refreshes, week after week
def test_each_run_reads_the_file_afresh_then_posts_the_digest(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    job, _ = start(settings_for(fake, data), store, scheduler, clock)

    first = job()
    write_customers(generate_customers(700, seed=4), data)  # next week's extract
    clock.moment += timedelta(days=7)
    second = job()

    assert (first.id, first.rows_in, second.id, second.rows_in) == (1, 600, 2, 700)
    assert posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026",
                                  "Segments digest · Mon 16 Mar 2026"]
    first_files, second_files = fake.named("api", "files.completeUploadExternal")
    assert first_files.params["files"].count('"id"') == 1  # sizes only: nothing to compare
    assert second_files.params["files"].count('"id"') == 3  # migration, sizes, movers


@pytest.mark.slow  # full refreshes, week after week
def test_segbot_keep_runs_deletes_the_oldest_run_after_each_weekly_refresh(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    job, _ = start(settings_for(fake, data, SEGBOT_KEEP_RUNS="2"), store, scheduler, clock)

    for _ in range(3):
        job()
        clock.moment += timedelta(days=7)

    assert [run.id for run in store.list_runs()] == [3, 2]
    assert len(posted_texts(fake)) == 3  # every week's digest went out before the prune


@pytest.mark.slow  # real chart processes
def test_the_digests_charts_are_drawn_by_the_bots_chart_processes(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    settings = settings_for(fake, data)
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    charts = RecordingChartProcesses(2)
    try:
        start_scheduler(settings, store, build_web_client(settings), scheduler=scheduler,
                        now=clock, config=FAST, renderer=charts)
        job = scheduler.get_job(JOB_ID).func
        job()
        write_customers(generate_customers(700, seed=4), data)  # next week's extract
        clock.moment += timedelta(days=7)
        job()
    finally:
        charts.close()

    assert charts.batches == [["sizes-run1.png"], [
        "migration-run1-to-run2.png", "sizes-run2.png", "movers-run2.csv"]]
    uploads = [call.body for call in fake.named("upload")]
    assert [body[:8] == PNG_MAGIC for body in uploads] == [True, True, True, False]
    assert uploads[3].startswith(b'"customer_id",')


@pytest.mark.slow  # a full refresh, then a failed one
@pytest.mark.parametrize("break_it, cause", [
    (lambda data: data.unlink(), "no such file: "),
    (lambda data: data.write_text("ID\n1\n"), "only 1 customer row(s)"),
])
def test_a_failed_refresh_says_why_keeps_the_last_run_and_tries_again(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler, break_it, cause: str) -> None:
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    job, _ = start(settings_for(fake, data), store, scheduler, clock)
    job()
    good = data.read_bytes()
    break_it(data)
    clock.moment += timedelta(days=7)

    assert job() is None

    notice = posted_texts(fake)[-1]
    assert notice.startswith(f":warning: The scheduled refresh from `{data}` failed: ")
    assert cause in notice
    assert "Answers still come from run 1 of 2026-03-09 06:00 UTC. The next scheduled " \
           "refresh, Mon 23 Mar 06:00 UTC, will try again." in notice
    overview = answers.answer(store, answers.Request(answers.RequestKind.OVERVIEW))
    assert not overview.is_error and overview.title == "Customer segments — run 1"

    data.write_bytes(good)
    clock.moment += timedelta(days=7)
    assert job().id == 2


def test_a_crash_is_reported_too(fake: FakeSlack, data: Path, tmp_path: Path,
                                 scheduler) -> None:
    job, _ = start(settings_for(fake, data), CrashingStore(tmp_path / "segbot.db"), scheduler,
                   Clock(MONDAY_0600))

    assert job() is None

    [notice] = posted_texts(fake)
    assert "failed: unexpected RuntimeError: disk on fire (details in the bot's log)" in notice
    assert "There are no segments yet." in notice


def test_a_restart_posts_nothing_twice(fake: FakeSlack, data: Path, tmp_path: Path) -> None:
    clock = Clock(MONDAY_0600)
    settings = settings_for(fake, data)
    before, after = BackgroundScheduler(), BackgroundScheduler()
    for scheduler in (before, after):
        scheduler.start(paused=True)
    try:
        job, _ = start(settings, Store(tmp_path / "segbot.db"), before, clock)
        job()
        clock.moment += timedelta(minutes=30)  # restarted within the misfire grace time

        _, on_start = start(settings, Store(tmp_path / "segbot.db"), after, clock)
        on_start()
    finally:
        before.shutdown(wait=False)
        after.shutdown(wait=False)

    assert posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026"]
    assert Store(tmp_path / "segbot.db").current_run().id == 1  # no second refresh either


def test_a_digest_that_failed_to_post_is_posted_on_the_next_start(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    clock = Clock(MONDAY_0600)
    fake.fail("chat.postMessage", "channel_not_found")
    job, on_start = start(settings_for(fake, data), store, scheduler, clock)
    job()
    assert posted_texts(fake) == []

    on_start()
    on_start()

    assert posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026"]


def test_a_refresh_missed_while_the_bot_was_down_runs_on_start(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    _, on_start = start(settings_for(fake, data), store, scheduler,
                        Clock(MONDAY_0600 + timedelta(hours=2)))

    on_start()

    assert store.current_run().id == 1
    assert posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026"]


@pytest.mark.parametrize("cron, runs_on", [
    ("0 6 * * 1", ["Mon"]), ("0 6 * * 0", ["Sun"]), ("0 6 * * 7", ["Sun"]),
    ("0 6 * * 1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]), ("0 6 * * 5-7", ["Sun", "Fri", "Sat"]),
    ("0 6 * * */3", ["Sun", "Wed", "Sat"]), ("0 6 * * mon,3", ["Mon", "Wed"]),
    ("0 6 * * sat-sun", ["Sun", "Sat"]),
])
def test_weekdays_count_from_sunday_as_in_crontab(cron: str, runs_on: list[str]) -> None:
    trigger = crontab_trigger(cron, ZoneInfo("UTC"))
    sunday = datetime(2026, 3, 8, tzinfo=UTC)

    days = {f"{t:%a}" for t in next_run_times(trigger, 7, sunday) if t < sunday + timedelta(7)}

    assert sorted(days, key=["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].index) == \
        sorted(runs_on, key=["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].index)


@pytest.mark.parametrize("cron, days", [("0 6 * * 7", ["Sun"]),
                                        ("0 6 * * 5-7", ["Fri", "Sat", "Sun"])])
def test_sunday_written_7_starts_and_is_scheduled_on_sundays(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler, cron: str,
        days: list[str]) -> None:
    settings = settings_for(fake, data, SEGBOT_REFRESH_CRON=cron)  # accepted at start-up
    start(settings, Store(tmp_path / "segbot.db"), scheduler, Clock(MONDAY_0600))

    trigger = scheduler.get_job(JOB_ID).trigger
    week = next_run_times(trigger, len(days), MONDAY_0600)
    assert [f"{t:%a %H:%M}" for t in week] == [f"{day} 06:00" for day in days]


def test_only_a_recent_slot_without_a_run_is_caught_up(fake: FakeSlack, data: Path) -> None:
    trigger = refresh_trigger(settings_for(fake, data))
    last_week = MONDAY_0600 - timedelta(days=7)

    assert missed_slot(trigger, last_week, MONDAY_0600 + timedelta(hours=2)) == MONDAY_0600
    assert missed_slot(trigger, None, MONDAY_0600 + timedelta(hours=2)) == MONDAY_0600
    assert missed_slot(trigger, last_week, MONDAY_0600 + timedelta(hours=7)) is None
    assert missed_slot(trigger, MONDAY_0600 + timedelta(seconds=1),
                       MONDAY_0600 + timedelta(hours=2)) is None


def test_a_scheduled_refresh_during_a_manual_one_is_skipped(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler) -> None:
    store = Store(tmp_path / "segbot.db")
    job, _ = start(settings_for(fake, data), store, scheduler, Clock(MONDAY_0600))

    with refresh_lock(store.path):
        assert job() is None

    assert store.current_run() is None
    assert fake.named("api") == []


def test_segbot_schedule_shows_the_next_runs_with_their_zone(
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = load_settings({"SEGBOT_TIMEZONE": "Europe/Paris"}, require_slack=False)

    text = schedule_text(settings, 2, datetime(2026, 3, 25, tzinfo=UTC))

    assert text.splitlines()[:3] == [
        "Scheduled refresh: '0 6 * * mon' in Europe/Paris (SEGBOT_REFRESH_CRON, "
        "SEGBOT_TIMEZONE). Next runs:",
        "  Mon 2026-03-30 06:00 CEST  (04:00 UTC)",
        "  Mon 2026-04-06 06:00 CEST  (04:00 UTC)"]
    assert "SEGBOT_DATA is not set" in text
    assert main(["schedule", "--count", "3"], environ={}) == 0
    runs = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert len(runs) == 3
    assert all(re.fullmatch(r"  Mon \d{4}-\d\d-\d\d 06:00 UTC", line) for line in runs)


def test_a_second_bot_on_the_same_store_schedules_nothing_until_the_first_stops(
        fake: FakeSlack, data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(fake, data)
    store = Store(tmp_path / "segbot.db")
    first, second = BackgroundScheduler(), BackgroundScheduler()
    stop = threading.Event()
    for scheduler in (first, second):
        scheduler.start(paused=True)
    try:
        held = start_scheduler_once(settings, store, build_web_client(settings), stop=stop,
                                    scheduler=first, poll=timedelta(seconds=0.05))
        with caplog.at_level(logging.INFO, logger="bot.jobs.scheduler"):
            standby = start_scheduler_once(settings, store, build_web_client(settings),
                                           stop=stop, scheduler=second,
                                           poll=timedelta(seconds=0.05))
            time.sleep(0.2)  # several polls: the lock is still held
            assert second.get_jobs() == [] and first.get_job(JOB_ID) is not None
            [line] = [r.getMessage() for r in caplog.records if "another" in r.getMessage()]
            assert line.startswith(f"another segbot process (pid {os.getpid()}) runs the "
                                   f"scheduler of {store.path}: this one answers commands")

            held.release()  # the first bot stops
            deadline = time.monotonic() + 5
            while second.get_job(JOB_ID) is None and time.monotonic() < deadline:
                time.sleep(0.01)
        assert second.get_job(JOB_ID) is not None
        assert "this process runs it now" in caplog.text
        assert not SchedulerLock(store.path).acquire()  # the second bot holds it now
    finally:
        stop.set()
        standby.release()
        first.shutdown(wait=False)
        second.shutdown(wait=False)


@pytest.mark.slow  # a full refresh
def test_a_published_run_reaches_the_home_of_everyone_who_opened_it(
        fake: FakeSlack, data: Path, tmp_path: Path, scheduler,
        caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "segbot.db")
    store.record_home_opened(ALICE, "D0ALICE", at=MONDAY_0600 - timedelta(days=1))
    store.record_home_opened(BOB, "D0BOB", at=MONDAY_0600 - timedelta(days=2))
    job, _ = start(settings_for(fake, data), store, scheduler, Clock(MONDAY_0600))
    fake.fail("views.publish", "user_not_found")  # Alice has left the workspace

    with caplog.at_level(logging.INFO, logger="bot.jobs.scheduler"):
        run = job()

    assert run is not None and posted_texts(fake) == ["Segments digest · Mon 09 Mar 2026"]
    [home] = fake.homes(BOB)
    assert home["blocks"][0]["text"]["text"] == f"Customer segments — run {run.id}"
    assert fake.homes(ALICE) == []
    assert [viewer.user_id for viewer in store.home_viewers()] == [BOB]
    assert ("Home tab published to 1 of 2 people; 1 no longer in Slack, dropped (U0ALICE)"
            in caplog.text)
