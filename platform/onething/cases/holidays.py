"""The holiday calendar administrators keep: next year's State Council notice, entered.

chinese_calendar learns each year's holidays (节假日安排) only in a release after
the State Council publishes them; until then a hall enters the notice itself, as

    {"year": 2027,
     "holidays": [{"date": "2027-01-01", "name": "元旦"}, ...],
     "workdays": ["2027-02-07", ...]}

`holidays` are the days off (rest days inside a holiday included); `workdays` the
weekend days worked instead (调休). A year entered replaces the package's answer for
every day of it: the days named, and Monday–Friday for the others. Entering a year
again replaces it whole. A notice with any problem is refused with every problem
and where it is, and nothing is stored.

Due dates are counted with these (`overrides`); entering a year counts the open
tasks' due dates again at once. They are read once per process and read
again when the stored calendar changed: a version (years entered, latest entry)
costs one small query.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import Session, col, select

from onething.catalog.workdays import Holidays
from onething.storage.models import HolidayDay, HolidayYear

# Years a notice may be for: the calendar's sensible range, not a legal limit.
FIRST_YEAR, LAST_YEAR = 2000, 2100
NAME_LENGTH = 100
# What the console shows as the format.
EXAMPLE = ('{"year": 2027,\n "holidays": [{"date": "2027-01-01", "name": "元旦"}],\n'
           ' "workdays": ["2027-02-07"]}')

PROBLEMS = {
    "json": _l("This is not JSON (line %(line)s, column %(column)s)."),
    "object": _l("The notice is a JSON object with year, holidays and workdays."),
    "unsafe": _l("This JSON cannot be taken: a key given twice, nesting too deep, a "
                 "number too long, or a NUL character or half a surrogate pair in a text."),
    "unknown_key": _l("Unknown key %(key)s: a notice has year, holidays and workdays only."),
    "year": _l("The year is a whole number from 2000 to 2100."),
    "list": _l("This is a list."),
    "holiday": _l("A holiday is an object with a date and a name."),
    "date": _l("Not a date: write it as YYYY-MM-DD."),
    "other_year": _l("This date is not in %(year)s."),
    "twice": _l("This date is listed twice."),
    "both": _l("This date is both a holiday and a working day."),
    "name": _l("A holiday's name is 1 to 100 characters."),
    "empty": _l("The notice names no holiday."),
}


@dataclass(frozen=True)
class Problem:
    """One problem of a notice: where it is (e.g. holidays[2].date), what, and its values."""

    where: str
    code: str
    params: tuple[tuple[str, object], ...] = ()

    def message(self) -> str:
        """The problem in the reader's language."""
        return str(PROBLEMS[self.code] % dict(self.params) if self.params
                   else PROBLEMS[self.code])

    def __str__(self) -> str:
        return f"{self.where}: {self.message()}"


class NoticeRefused(Exception):
    """A notice with problems: none of it was stored."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class Notice:
    """A year's notice, checked: its holidays (date -> name) and its 调休 working days."""

    year: int
    holidays: dict[dt.date, str]
    workdays: tuple[dt.date, ...]


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_notice(text: str) -> Notice:
    """Read and check a notice; raise NoticeRefused with every problem found."""
    from onething.catalog.loader import parse_json

    try:
        # Read as definitions are: no NUL (PostgreSQL refuses it), no lone surrogate, no
        # key twice, bounded nesting.
        document = parse_json(text)
    except json.JSONDecodeError as error:
        raise NoticeRefused([Problem("$", "json", (("line", error.lineno),
                                                   ("column", error.colno)))]) from None
    except (ValueError, RecursionError):
        raise NoticeRefused([Problem("$", "unsafe")]) from None
    if not isinstance(document, dict):
        raise NoticeRefused([Problem("$", "object")])
    problems = [Problem(key, "unknown_key", (("key", key),))
                for key in document if key not in ("year", "holidays", "workdays")]
    year = document.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise NoticeRefused([*problems, Problem("year", "year")])

    def day_of(value, where: str) -> dt.date | None:
        try:
            # YYYY-MM-DD only: fromisoformat also reads week dates (2027-W01-1).
            day = dt.date.fromisoformat(value) if isinstance(value, str) and _DAY.fullmatch(
                value) else None
        except ValueError:
            day = None
        if day is None:
            problems.append(Problem(where, "date"))
        elif day.year != year:
            problems.append(Problem(where, "other_year", (("year", year),)))
            return None
        return day

    holidays: dict[dt.date, str] = {}
    workdays: list[dt.date] = []
    listed = {"holidays": document.get("holidays", []), "workdays": document.get("workdays", [])}
    for key, items in listed.items():
        if not isinstance(items, list):
            problems.append(Problem(key, "list"))
            listed[key] = []
    for index, item in enumerate(listed["holidays"]):
        where = f"holidays[{index}]"
        if not isinstance(item, dict) or set(item) - {"date", "name"}:
            problems.append(Problem(where, "holiday"))
            continue
        name = item.get("name")
        if not isinstance(name, str) or not 0 < len(name.strip()) <= NAME_LENGTH:
            problems.append(Problem(f"{where}.name", "name"))
        day = day_of(item.get("date"), f"{where}.date")
        if day is None:
            continue
        if day in holidays:
            problems.append(Problem(f"{where}.date", "twice"))
        holidays[day] = (name or "").strip()
    for index, value in enumerate(listed["workdays"]):
        where = f"workdays[{index}]"
        day = day_of(value, where)
        if day is None:
            continue
        if day in holidays:
            problems.append(Problem(where, "both"))
        elif day in workdays:
            problems.append(Problem(where, "twice"))
        workdays.append(day)
    if not holidays and not problems:
        problems.append(Problem("holidays", "empty"))
    if problems:
        raise NoticeRefused(problems)
    return Notice(year, holidays, tuple(workdays))


# The statutory festivals (全体公民放假的节日, 《全国年节及纪念日放假办法》) every year's
# notice gives days off for, and the words a notice's holiday names use for each (2025's
# notice names one run "国庆节、中秋节"; some say 五一 for 劳动节).
FESTIVALS = {
    "new_year": (_l("New Year's Day (元旦)"), ("元旦",)),
    "spring_festival": (_l("Spring Festival (春节)"), ("春节",)),
    "qingming": (_l("Qingming (清明节)"), ("清明",)),
    "labour_day": (_l("Labour Day (劳动节)"), ("劳动", "五一")),
    "dragon_boat": (_l("Dragon Boat Festival (端午节)"), ("端午",)),
    "mid_autumn": (_l("Mid-Autumn Festival (中秋节)"), ("中秋",)),
    "national_day": (_l("National Day (国庆节)"), ("国庆",)),
}


@dataclass(frozen=True)
class NoticeReview:
    """What entering a notice would do, for a confirmation before it is stored.

    `entered` is the year as entered now (None if it was not), `missing` the statutory
    festivals the notice names no day of; the days listed are those the entry would
    add or take away.
    """

    year: int
    entered: HolidayYear | None
    missing: tuple[str, ...]
    holidays_added: tuple[tuple[dt.date, str], ...] = ()
    holidays_removed: tuple[tuple[dt.date, str], ...] = ()
    workdays_added: tuple[dt.date, ...] = ()
    workdays_removed: tuple[dt.date, ...] = ()

    @property
    def needs_confirmation(self) -> bool:
        """Whether it replaces an entered year or looks incomplete: ask before storing."""
        return self.entered is not None or bool(self.missing)

    def removed_runs(self) -> list[tuple[dt.date, dt.date, str]]:
        """The days off taken away, as runs of consecutive days of one name."""
        return _runs(self.holidays_removed)

    def added_runs(self) -> list[tuple[dt.date, dt.date, str]]:
        """The days off added, as runs of consecutive days of one name."""
        return _runs(self.holidays_added)

    def festival_names(self) -> list[str]:
        """The missing festivals' names, in the reader's language."""
        return [str(FESTIVALS[key][0]) for key in self.missing]

    def messages(self) -> list[str]:
        """Why a confirmation is asked, in the reader's language."""
        texts = []
        if self.entered is not None:
            texts.append(str(_l(
                "%(year)s is already entered. Entering this notice replaces it whole: due "
                "dates count with the new days from then on.", year=self.year)))
        if self.missing:
            texts.append(str(_l(
                "This notice names no day off for %(festivals)s. A year's notice has all "
                "seven statutory festivals: those days would count as working days.",
                festivals="、".join(self.festival_names()))))
        return texts


def _runs(days) -> list[tuple[dt.date, dt.date, str]]:
    """(first, last, name) for each run of consecutive days with the same name."""
    runs: list[list] = []
    for day, name in days:
        if runs and runs[-1][2] == name and runs[-1][1] + dt.timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day, name])
    return [tuple(run) for run in runs]


def review_notice(session: Session, notice: Notice) -> NoticeReview:
    """What entering `notice` would replace and what it lacks (nothing is stored)."""
    names = " ".join(notice.holidays.values())
    missing = tuple(key for key, (_name, words) in FESTIVALS.items()
                    if not any(word in names for word in words))
    entered = session.get(HolidayYear, notice.year)
    if entered is None:
        return NoticeReview(notice.year, None, missing)
    days = days_of(session, notice.year)
    old_holidays = {d.day: d.name or "" for d in days if not d.working}
    old_workdays = {d.day for d in days if d.working}
    return NoticeReview(
        notice.year, entered, missing,
        tuple(sorted((day, name) for day, name in notice.holidays.items()
                     if old_holidays.get(day) != name)),
        tuple(sorted((day, name) for day, name in old_holidays.items()
                     if notice.holidays.get(day) != name)),
        tuple(sorted(set(notice.workdays) - old_workdays)),
        tuple(sorted(old_workdays - set(notice.workdays))))


def entry_time(session: Session) -> dt.datetime:
    # The calendar's version is its latest entry: it must move forward even when two
    # entries fall in the same clock tick.
    from onething.storage.models import utc_now

    latest = session.exec(select(func.max(HolidayYear.entered_at))).one()
    now = utc_now()
    if latest is not None:
        latest = latest if latest.tzinfo else latest.replace(tzinfo=dt.UTC)
        if now <= latest:
            now = latest + dt.timedelta(microseconds=1)
    return now


def year_summary(session: Session, year: int) -> dict:
    days = session.exec(select(HolidayDay).where(HolidayDay.year == year)).all()
    return {"holidays": sum(not d.working for d in days), "workdays": sum(d.working for d in days)}


def entered_years(session: Session) -> list[HolidayYear]:
    """The years entered, newest first."""
    return list(session.exec(select(HolidayYear).order_by(col(HolidayYear.year).desc())).all())


def days_of(session: Session, year: int) -> list[HolidayDay]:
    """The days a year's entered notice names, in order."""
    return list(session.exec(select(HolidayDay).where(HolidayDay.year == year)
                             .order_by(col(HolidayDay.day))).all())


def notice_of(session: Session, year: int) -> dict | None:
    """A year's entered notice in the import format, or None if it was not entered."""
    if session.get(HolidayYear, year) is None:
        return None
    days = days_of(session, year)
    return {"year": year,
            "holidays": [{"date": d.day.isoformat(), "name": d.name} for d in days
                         if not d.working],
            "workdays": [d.day.isoformat() for d in days if d.working]}


_cache: dict[object, tuple[object, Holidays]] = {}
_cache_lock = threading.Lock()


# The stored calendar's version: how many years are entered, and the latest entry. A hot
# path reads these as columns of a query it makes anyway and passes them to `overrides`.
VERSION_COLUMNS = (
    select(func.count()).select_from(HolidayYear).scalar_subquery().label("holiday_years"),
    select(func.max(HolidayYear.entered_at)).scalar_subquery().label("holidays_entered_at"),
)


def overrides(session: Session, version: tuple | None = None) -> Holidays:
    """The entered years as overrides for workdays.py, read again only when they changed
    (`version`, when the caller read VERSION_COLUMNS already, saves a query)."""
    if version is None:
        version = tuple(session.exec(select(*VERSION_COLUMNS)).one())
    # The URL itself, not its text: rendering it cost as much as the query it keys.
    key = session.get_bind().url
    cached = _cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    rows = session.exec(select(HolidayDay.day, HolidayDay.working)).all()
    years = session.exec(select(HolidayYear.year)).all()
    loaded = Holidays(frozenset(years), {day: working for day, working in rows})
    with _cache_lock:
        _cache[key] = (version, loaded)
    return loaded
