"""Working days (工作日): due dates under 行政许可法 art. 82, with China's holiday calendar.

chinese_calendar knows the State Council's holiday arrangements (调休 included)
only for the years published so far; a date beyond them raises
NotImplementedError. Such a date falls back to Monday–Friday and the due date
is flagged as estimated, so nothing crashes when a limit runs into next
year. Overrides (date -> working day or not) let an administrator correct
the calendar before the package catches up.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass

import chinese_calendar

# Halls work in China Standard Time (UTC+8 all year), whatever zone the server's clock is in.
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")


def china_today() -> dt.date:
    """Today's date in China Standard Time."""
    return dt.datetime.now(CHINA_TZ).date()


def china_time(moment: dt.datetime, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """An aware moment (as every stored one is) as the clock on a hall's wall shows it."""
    if moment.tzinfo is None:
        # astimezone would read it in the server's zone: a wrong time, shown as right.
        raise ValueError("a naive datetime has no moment to show")
    return moment.astimezone(CHINA_TZ).strftime(pattern)


@dataclass(frozen=True)
class DueDate:
    """A due date, and whether part of the count fell outside the known calendar."""

    date: dt.date
    estimated: bool


def is_working_day(day: dt.date, overrides: Mapping[dt.date, bool] | None = None
                   ) -> tuple[bool, bool]:
    """Tell whether a day is a working day, and whether that is only estimated."""
    if overrides and day in overrides:
        return overrides[day], False
    return _calendar_day(day)


# chinese_calendar checks each date against min()/max() of its whole holiday table,
# which made due dates the slowest part of routing a submission; a day's answer
# never changes within one installed calendar, so it is remembered.
@functools.lru_cache(maxsize=4096)
def _calendar_day(day: dt.date) -> tuple[bool, bool]:
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: dt.date, days: int,
                     overrides: Mapping[dt.date, bool] | None = None) -> DueDate:
    """The date `days` working days after `start`, counting from the next working day.

    A matter handled on the spot (0 days) is due the same day if that is a working
    day, else on the next working day.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    estimated = False
    day = start
    working, guess = is_working_day(day, overrides)
    estimated |= guess
    if days == 0 and working:
        return DueDate(day, estimated)
    counted = 0
    target = max(days, 1)
    while counted < target:
        day += dt.timedelta(days=1)
        working, guess = is_working_day(day, overrides)
        estimated |= guess
        if working:
            counted += 1
    return DueDate(day, estimated)
