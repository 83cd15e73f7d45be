"""Crontab lines read as cron reads them, turned into the APScheduler triggers that run them.

The settings check SEGBOT_REFRESH_CRON and the scheduler builds its trigger with the same
`crontab_trigger`, so a line accepted at start-up is the line that runs, and vice versa.
APScheduler is imported on first use: `segbot refresh` and the read commands never need it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab's order: 0 = Sunday
CRONTAB_FIELDS = "minute hour day month weekday"


def crontab_trigger(expression: str, timezone: tzinfo) -> CronTrigger:
    """A trigger for a standard crontab line, where weekday 0 or 7 is Sunday and 1 Monday.

    APScheduler 3's `CronTrigger.from_crontab` counts weekdays from Monday = 0, so "* * * * 1"
    would run on Tuesdays; numeric weekdays are turned into names first. Raises ValueError
    saying what is wrong with the line.
    """
    from apscheduler.triggers.cron import CronTrigger

    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"it has {len(fields)} field(s), not 5")
    if fields[2] != "*" and fields[4] != "*":
        # cron runs on either (the 1st, and every Monday); APScheduler only on both
        raise ValueError("it sets both a day of the month and a weekday, which cron reads as "
                         "either and this scheduler as both: set one of them to *")
    fields[4] = crontab_weekdays(fields[4])
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=timezone)
    except (ValueError, TypeError) as error:  # APScheduler's own message names the field
        raise ValueError(str(error)) from None
    # A line can be well formed and name no real time ("0 6 31 2 *": 31 February); a crontab
    # line repeats every year or leap year, so one firing from any fixed date proves it runs.
    if trigger.get_next_fire_time(None, datetime(2000, 1, 1, tzinfo=timezone)) is None:
        raise ValueError("it names no date that exists (such as 31 February): it would never run")
    return trigger


def crontab_weekdays(field: str) -> str:
    """A crontab day-of-week field with every number written as a day name."""
    names: list[str] = []
    for item in field.split(","):
        base, _, step = item.partition("/")
        if not step and not any(char.isdigit() for char in base):
            names.append(item)  # "*", "mon", "mon-fri": APScheduler reads names as cron does
            continue
        first, _, last = ("0-6" if base == "*" else base).partition("-")
        start = _weekday(first)
        end = _weekday(last) if last else (max(start, 6) if step else start)  # "5/2": Fri on
        if end < start:
            raise ValueError(f"weekday range {base!r} runs backwards")
        names += [DAY_NAMES[day % 7] for day in range(start, end + 1, _step(step))]
    return ",".join(dict.fromkeys(names))


def _weekday(token: str) -> int:
    token = token.strip().lower()
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token in DAY_NAMES:
        return DAY_NAMES.index(token)
    raise ValueError(f"{token!r} is not a weekday (0-7, 0 and 7 = Sunday, or sun-sat)")


def _step(raw: str) -> int:
    if not raw:
        return 1
    if not raw.isdigit() or int(raw) == 0:
        raise ValueError(f"weekday step /{raw} is not a whole number of days of 1 or more")
    return int(raw)
