"""Working days (工作日) and calendar days (自然日): due dates with China's holiday calendar.

Most limits count working days (行政许可法 art. 82); some laws count calendar
days (环境影响评价法 art. 22), which 民法典 arts. 201 and 203 count from the day
after the start, moving a last day that is a holiday or rest day to the next
working day. A matter's time limit says which (`counting`).

chinese_calendar knows the State Council's holiday arrangements (调休 included)
only for the years published so far; a date beyond them raises
NotImplementedError. Such a date falls back to Monday–Friday and the due date
is flagged as estimated, so nothing crashes when a limit runs into next
year. Overrides let an administrator correct the calendar before the package
catches up: a plain mapping (date -> working day or not), or a `Holidays`
holding whole years entered from the State Council's notice, whose other days
are Monday–Friday working days, known rather than estimated. This package
never reads them from the database: callers pass them in.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field

import chinese_calendar

WORKING_DAYS = "working_days"
CALENDAR_DAYS = "calendar_days"
COUNTINGS = (WORKING_DAYS, CALENDAR_DAYS)

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
class Holidays(Mapping):
    """Whole years of the State Council's notice: holidays and 调休 working days.

    A mapping of the days it names (date -> working day or not); a day of a year
    it holds that it does not name is a working day from Monday to Friday.
    """

    years: frozenset[int] = frozenset()
    days: Mapping[dt.date, bool] = field(default_factory=dict)

    def __getitem__(self, day: dt.date) -> bool:
        if day in self.days:
            return self.days[day]
        if day.year in self.years:
            return day.weekday() < 5
        raise KeyError(day)

    def __contains__(self, day: object) -> bool:
        return day in self.days or (isinstance(day, dt.date) and day.year in self.years)

    def __iter__(self):
        return iter(self.days)

    def __len__(self) -> int:
        return len(self.days)


def year_known(year: int, overrides: Mapping[dt.date, bool] | None = None) -> bool:
    """Whether a year's holidays are known: entered by an administrator or published."""
    if isinstance(overrides, Holidays) and year in overrides.years:
        return True
    return not _calendar_day(dt.date(year, 6, 1))[1]


def days_paused(start: dt.date, end: dt.date, counting: str = WORKING_DAYS,
                overrides: Mapping[dt.date, bool] | None = None) -> int:
    """How many days a pause from `start` to `end` takes off the clock.

    As a period's count does (民法典 art. 201), it runs from the day after `start`:
    the days after it up to `end` itself, the working ones only for a working-day limit.
    """
    if end <= start:
        return 0
    if counting == CALENDAR_DAYS:
        return (end - start).days
    return sum(is_working_day(start + dt.timedelta(days=n), overrides)[0]
               for n in range(1, (end - start).days + 1))


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


def add_calendar_days(start: dt.date, days: int,
                      overrides: Mapping[dt.date, bool] | None = None) -> DueDate:
    """The last day of a period of `days` calendar days from `start` (民法典 arts. 201, 203).

    The day of `start` is not counted (art. 201); a last day that is a statutory holiday
    or rest day moves to the next working day (art. 203). A period of 0 days ends on
    `start`, moved the same way, as a matter handled on the spot.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    day = start + dt.timedelta(days=days)
    working, estimated = is_working_day(day, overrides)
    while not working:
        day += dt.timedelta(days=1)
        working, guess = is_working_day(day, overrides)
        estimated |= guess
    return DueDate(day, estimated)


def due_date(start: dt.date, days: int, counting: str = WORKING_DAYS,
             overrides: Mapping[dt.date, bool] | None = None) -> DueDate:
    """The due date of a limit of `days` from `start`, counted as the matter's limit says."""
    if counting == CALENDAR_DAYS:
        return add_calendar_days(start, days, overrides)
    if counting == WORKING_DAYS:
        return add_working_days(start, days, overrides)
    raise ValueError(f"unknown counting {counting!r}")


def working_equivalent(days: int, counting: str = WORKING_DAYS) -> int:
    """About how many working days a limit takes, for plans that have no start date.

    Calendar days count as 5 working days in 7, rounded up: the weekend is in every
    week, while holidays depend on the date and the year, and a plan's figures must not
    (generated/ is checked in and `onething build --check` compares it). Leaving the
    holidays out leans towards more working days, not fewer, so a critical path and the
    45-day limit of joint handling are not made to look shorter. A case's due dates
    never use this: they are counted on the calendar from the day it is submitted.
    """
    if counting == CALENDAR_DAYS:
        return -(-days * 5 // 7)
    return days
