"""The statistics' daily summary: what cases/statistics.py sums, kept per China day and group.

Six months of a city's hall are some 400,000 tasks; the figures of a range are sums over
its days' rows here instead (a few thousand a month), so a page answers in milliseconds
on SQLite as on PostgreSQL. Four tables, one row per China day and group:

- stats_task_day: tasks by the day they were created (their case's submission), bundle,
  matter, department and whole days taken (NOT_TIMED when undecided): received,
  completed, refused, in progress, on time, promised days and corrected. The days-taken
  buckets keep the 90th percentile exact: statistics.py runs the same nearest-rank
  window over the buckets' running counts as it did over the tasks.
- stats_rating_day: ratings by the day given, bundle, matter ("" for a whole case),
  department and level.
- stats_rectification_day: rectifications by the day opened: opened, closed, and the
  working days from opening to closing of the closed ones, counted on the hall's
  calendar as a task's days taken are (from the day after it opened to the day it
  closed, working days only). Counted here in Python, where the calendar is: a few
  rows a day (bad ratings only).
- stats_case_day: submissions by the day submitted and bundle, with their realised
  savings; department "" counts every case, a department's rows the cases having a task
  of that department (the department filter's).

**Refreshed incrementally.** `refresh` re-summarises only the days whose rows changed
since the last refresh: tasks and ratings and rectifications by their updated_at (every
UPDATE sets it), submissions by submitted_at (never changed), and any row whose id is
beyond the greatest seen (inserted with an older timestamp: a bulk load, the demo's
seeded cases). A task decided today but created in March changes March's day (and its
case's submission day, for the department's cases). A day is summarised again whole,
deleted and inserted from the source rows, so summarising it twice never counts twice.

A row's updated_at is set before its transaction commits: a refresh may run between
the two and not see it. So each refresh also looks LAG back before its last start, and
remembers which rows, at which updated_at, it read from then on: a row that appears
there later, or with another updated_at (a slow commit, or a server clock a little
behind), makes its day summarised again; one it read already, unchanged, does not
(nor, however often, one stamped in the future by a clock ahead).

**One refresh at a time.** The refresh's transaction first updates the watermark row
(stats_summary_state): on PostgreSQL that row lock makes a second refresh wait and then
read the watermark the first one left; on SQLite it takes the database's one write
lock. Before locking, a read looks for changes without writing: when nothing changed,
reading the figures writes nothing. `onething worker` refreshes periodically, so a read
rarely has work to do.

An empty watermark (a new or just migrated database, `forget`) summarises every day
at the next refresh; so does a change of the holiday calendar for the rectifications.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import (
    Date,
    DateTime,
    Engine,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlmodel import Session

from onething.cases import holidays
from onething.catalog.workdays import CHINA_TZ, WORKING_DAYS, days_paused
from onething.storage.models import (
    NOT_TIMED,
    TASK_DONE,
    BundleVersion,
    Rating,
    Rectification,
    StatsCaseDay,
    StatsRatingDay,
    StatsRatingMonth,
    StatsRectificationDay,
    StatsSummaryState,
    StatsTaskDay,
    StatsTaskMonth,
    Submission,
    Task,
    utc_now,
)

LOG = logging.getLogger("onething.statistics")
# How far back before its last start a refresh looks for rows committed late.
LAG = dt.timedelta(seconds=60)
# More separate day ranges than this are summarised as one range, first day to last.
MAX_RANGES = 31
SAVED = ("saved_forms", "saved_fields", "saved_materials", "saved_visits", "saved_days")
SUMMARIES = (StatsTaskDay, StatsRatingDay, StatsRectificationDay, StatsCaseDay)
KEYS = ("bundle_code", "matter_code", "department_code")
TASK_COUNTS = ("received", "completed", "refused", "in_progress", "on_time", "promised_sum",
               "corrected")
# The day tables summed by month, as a whole month in a range reads them: (days, months,
# the bucket's own key, the counts).
ROLLUPS = ((StatsTaskDay, StatsTaskMonth, "days_taken", TASK_COUNTS),
           (StatsRatingDay, StatsRatingMonth, "level", ("ratings",)))
STATE_ID = 1

_task = Task.__table__.c
_rating = Rating.__table__.c
_fix = Rectification.__table__.c
_submission = Submission.__table__.c
_version = BundleVersion.__table__.c
_state = StatsSummaryState.__table__


def china_day(moment: dt.datetime) -> dt.date:
    """The China date of a stored (UTC) moment."""
    return moment.astimezone(CHINA_TZ).date()


def _day_of(column, dialect: str):
    # The China date of a UTC timestamp column, in SQL.
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Shanghai", column), Date)
    return func.date(column, "+8 hours")


def _bounds(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_TZ).astimezone(dt.UTC)


def _ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days as (first, last) ranges; too many become one."""
    ranges: list[list[dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day - ranges[-1][1] == dt.timedelta(days=1):
            ranges[-1][1] = day
        else:
            ranges.append([day, day])
    if len(ranges) > MAX_RANGES:
        return [(ranges[0][0], ranges[-1][1])]
    return [(first, last) for first, last in ranges]


def _within(column, ranges: list[tuple[dt.date, dt.date]] | None):
    # None: every day.
    if ranges is None:
        return literal(True)
    return or_(*[and_(column >= _bounds(first), column < _bounds(last + dt.timedelta(days=1)))
                 for first, last in ranges])


def _covers(day_column, ranges: list[tuple[dt.date, dt.date]] | None):
    if ranges is None:
        return literal(True)
    return or_(*[day_column.between(first, last) for first, last in ranges])


def calendar_mark(session: Session) -> str:
    """A digest of the working-day calendar the rectifications' days are counted on."""
    import chinese_calendar

    found = holidays.overrides(session)
    text = repr((getattr(chinese_calendar, "__version__", ""), sorted(found.years),
                 sorted(found.days.items())))
    return hashlib.sha256(text.encode()).hexdigest()


# --- finding what changed ----------------------------------------------------------------------


def _sources() -> dict:
    """Per source table: a select of (id, updated_at, two moments whose days it changes),
    its id column and its change time."""
    task = (select(_task.id, _task.updated_at, _task.created_at, _submission.submitted_at)
            .join_from(Task.__table__, Submission.__table__,
                       _submission.id == _task.submission_id))
    return {
        "task": (task, _task.id, _task.updated_at),
        "rating": (select(_rating.id, _rating.updated_at, _rating.created_at,
                          _rating.created_at), _rating.id, _rating.updated_at),
        "rectification": (select(_fix.id, _fix.updated_at, _fix.opened_at, _fix.opened_at),
                          _fix.id, _fix.updated_at),
        "submission": (select(_submission.id, _submission.submitted_at,
                              _submission.submitted_at, _submission.submitted_at),
                       _submission.id, _submission.submitted_at),
    }


def _changes(connection: Connection, state, now: dt.datetime
             ) -> tuple[set[dt.date], dict]:
    """The days to summarise again, and the marks to keep for the next refresh."""
    since = state.refreshed_at - LAG
    known = state.marks or {}
    # One statement (a read that finds nothing changed makes one round trip): per table,
    # the rows changed since `since` and those beyond the greatest id seen.
    parts = []
    for name, (query, id_column, changed) in _sources().items():
        labelled = query.add_columns(literal(name).label("source"))
        parts += [labelled.where(changed >= since),
                  labelled.where(id_column > known.get(name, [0, []])[0])]
    found: dict[str, dict] = defaultdict(dict)
    for key, updated, first, second, source in connection.execute(union_all(*parts)):
        found[source][key] = (updated, first, second)
    days: set[dt.date] = set()
    marks = {}
    for name in _sources():
        greatest, windowed = known.get(name, [0, []])
        windowed = {tuple(seen) for seen in windowed}
        rows = found[name]
        window = []
        for key, (updated, *moments) in rows.items():
            seen = [key, updated.isoformat()]
            # Unchanged since the last refresh read it (it summarised it after): nothing new.
            if key > greatest or tuple(seen) not in windowed:
                days.update(china_day(moment) for moment in moments if moment is not None)
            if updated >= now - LAG:
                window.append(seen)
        marks[name] = [max([greatest, *rows]), sorted(window)]
    return days, marks


def _full_marks(connection: Connection, now: dt.datetime) -> dict:
    marks = {}
    for name, (query, id_column, changed) in _sources().items():
        greatest = connection.execute(select(func.max(id_column))).scalar() or 0
        window = [[row[0], row[1].isoformat()]
                  for row in connection.execute(query.where(changed >= now - LAG))]
        marks[name] = [greatest, sorted(window)]
    return marks


# --- summarising days ---------------------------------------------------------------------------


def _summarise(connection: Connection, ranges: list[tuple[dt.date, dt.date]] | None,
               calendar) -> None:
    """Delete and insert the summaries of the days in ranges (None: every day)."""
    dialect = connection.dialect.name
    for model in SUMMARIES:
        table = model.__table__
        connection.execute(delete(table).where(_covers(table.c.day, ranges)))
    _summarise_tasks(connection, ranges, dialect)
    _summarise_ratings(connection, ranges, dialect)
    _summarise_rectifications(connection, ranges, calendar)
    _summarise_cases(connection, ranges, dialect)
    _roll_up(connection, None if ranges is None else _months(ranges))


def _months(ranges: list[tuple[dt.date, dt.date]]) -> list[dt.date]:
    months = set()
    for first, last in ranges:
        month = first.replace(day=1)
        while month <= last:
            months.add(month)
            month = (month + dt.timedelta(days=32)).replace(day=1)
    return sorted(months)


def month_end(month: dt.date) -> dt.date:
    """The last day of the month starting on `month`."""
    return (month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def _month_of(column, dialect: str):
    if dialect == "postgresql":
        return cast(func.date_trunc("month", cast(column, DateTime)), Date)
    return func.date(column, "start of month")


def _roll_up(connection: Connection, months: list[dt.date] | None) -> None:
    """Sum the months' days again into the month tables (None: every month)."""
    for day_model, month_model, bucket, counts in ROLLUPS:
        days, monthly = day_model.__table__, month_model.__table__
        names = (*KEYS, bucket)
        if months is None:
            connection.execute(delete(monthly))
            where = literal(True)
        else:
            connection.execute(delete(monthly).where(monthly.c.month.in_(months)))
            where = _covers(days.c.day, [(month, month_end(month)) for month in months])
        rows = select(_month_of(days.c.day, connection.dialect.name).label("month"),
                      *[days.c[name] for name in (*names, *counts)]).where(where).subquery().c
        keys = (rows.month, *[rows[name] for name in names])
        connection.execute(insert(monthly).from_select(
            ("month", *names, *counts),
            select(*keys, *[func.sum(rows[name]) for name in counts]).group_by(*keys)))


def _count_if(condition):
    return func.sum(case((condition, 1), else_=0))


def _summarise_tasks(connection: Connection, ranges, dialect: str) -> None:
    # The keys are worked out in an inner select and grouped by name: PostgreSQL matches
    # GROUP BY expressions by their text, which bound parameters would make differ.
    rows = select(_day_of(_task.created_at, dialect).label("day"), _task.bundle_code,
                  _task.matter_code, _task.department_code,
                  func.coalesce(_task.days_taken, NOT_TIMED).label("days_taken"),
                  _task.status, _task.on_time, _task.promised_days, _task.supplements
                  ).where(_within(_task.created_at, ranges)).subquery().c
    keys = (rows.day, rows.bundle_code, rows.matter_code, rows.department_code, rows.days_taken)
    grouped = select(
        *keys, func.count(), _count_if(rows.status == "approved"),
        _count_if(rows.status == "rejected"), _count_if(rows.status.not_in(TASK_DONE)),
        _count_if(rows.on_time.is_(True)), func.sum(rows.promised_days),
        _count_if(rows.supplements > 0)).group_by(*keys)
    columns = ("day", "bundle_code", "matter_code", "department_code", "days_taken",
               "received", "completed", "refused", "in_progress", "on_time", "promised_sum",
               "corrected")
    connection.execute(insert(StatsTaskDay.__table__).from_select(columns, grouped))


def _summarise_ratings(connection: Connection, ranges, dialect: str) -> None:
    rows = select(_day_of(_rating.created_at, dialect).label("day"), _rating.bundle_code,
                  func.coalesce(_rating.matter_code, "").label("matter_code"),
                  _rating.department_code, _rating.level
                  ).where(_within(_rating.created_at, ranges)).subquery().c
    keys = (rows.day, rows.bundle_code, rows.matter_code, rows.department_code, rows.level)
    connection.execute(insert(StatsRatingDay.__table__).from_select(
        ("day", "bundle_code", "matter_code", "department_code", "level", "ratings"),
        select(*keys, func.count()).group_by(*keys)))


def _summarise_rectifications(connection: Connection, ranges, calendar) -> None:
    # The working days need the calendar, which is Python's: bad ratings only, a few a day.
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for opened_at, closed_at, status, bundle, matter, department in connection.execute(
            select(_fix.opened_at, _fix.closed_at, _fix.status, _fix.bundle_code,
                   _fix.matter_code, _fix.department_code
                   ).where(_within(_fix.opened_at, ranges))):
        opened = china_day(opened_at)
        found = sums[(opened, bundle, matter or "", department)]
        found[0] += 1
        if status == "closed":
            found[1] += 1
            if closed_at is not None:
                found[2] += days_paused(opened, china_day(closed_at), WORKING_DAYS, calendar)
    if sums:
        connection.execute(insert(StatsRectificationDay.__table__), [
            {"day": day, "bundle_code": bundle, "matter_code": matter,
             "department_code": department, "opened": opened, "closed": closed,
             "closed_days": days}
            for (day, bundle, matter, department), (opened, closed, days) in sums.items()])


def _summarise_cases(connection: Connection, ranges, dialect: str) -> None:
    columns = ("day", "bundle_code", "department_code", "cases", *SAVED)
    joined = Submission.__table__.join(BundleVersion.__table__,
                                       _version.id == _submission.bundle_version_id)
    where = _within(_submission.submitted_at, ranges)
    every = select(_day_of(_submission.submitted_at, dialect).label("day"),
                   _version.bundle_code, *[_submission[name] for name in SAVED]
                   ).select_from(joined).where(where).subquery().c
    keys = (every.day, every.bundle_code)
    connection.execute(insert(StatsCaseDay.__table__).from_select(columns, select(
        *keys, literal("").label("department_code"), func.count(),
        *[func.coalesce(func.sum(every[name]), 0) for name in SAVED]).group_by(*keys)))
    # A department's cases: those having a task of it, each once however many it has.
    pairs = (select(_submission.id, _day_of(_submission.submitted_at, dialect).label("day"),
                    _version.bundle_code, _task.department_code,
                    *[_submission[name] for name in SAVED])
             .select_from(joined.join(Task.__table__, _task.submission_id == _submission.id))
             .where(where).distinct().subquery().c)
    keys = (pairs.day, pairs.bundle_code, pairs.department_code)
    connection.execute(insert(StatsCaseDay.__table__).from_select(columns, select(
        *keys, func.count(),
        *[func.coalesce(func.sum(pairs[name]), 0) for name in SAVED]).group_by(*keys)))


# --- the refresh --------------------------------------------------------------------------------


def refresh(engine: Engine, *, everything: bool = False,
            full_every: dt.timedelta | None = None) -> int:
    """Summarise again the days changed since the last refresh; how many days (-1: all).

    Every day is summarised when `everything` is asked, and when `full_every` is given
    and no refresh summarised every day within it (the worker's backstop: the time is
    kept with the watermark, so restarts and several workers do it once per period).
    On its own connection and transaction, committed before it returns, so that the
    figures read next (on a new transaction) see it.
    """
    if not everything:
        with engine.connect() as connection:
            state = connection.execute(select(_state).where(_state.c.id == STATE_ID)).first()
            if state is not None and state.refreshed_at is not None \
                    and not _full_due(state, utc_now(), full_every):
                with Session(engine) as session:
                    unchanged = state.calendar == calendar_mark(session)
                if unchanged and not _changes(connection, state, utc_now())[0]:
                    return 0
    with Session(engine) as session:
        calendar = holidays.overrides(session)
        mark = calendar_mark(session)
    with engine.begin() as connection:
        # The lock: PostgreSQL's row lock on the watermark, SQLite's write lock.
        locked = connection.execute(sql_update(_state).where(_state.c.id == STATE_ID)
                                    .values(id=STATE_ID)).rowcount
        if not locked:
            connection.execute(insert(_state).values(id=STATE_ID, refreshed_at=None, marks={},
                                                     calendar=""))
        state = connection.execute(select(_state).where(_state.c.id == STATE_ID)).one()
        now = utc_now()
        # Decided under the lock: a worker that waited on another's full pass skips its own.
        full = everything or state.refreshed_at is None or _full_due(state, now, full_every)
        if full:
            marks = _full_marks(connection, now)
            _summarise(connection, None, calendar)
            summarised = -1
        else:
            days, marks = _changes(connection, state, now)
            if mark != state.calendar:
                # Another calendar: every rectification's working days again (the changed
                # days' are then summarised again with the rest of their day).
                connection.execute(delete(StatsRectificationDay.__table__))
                _summarise_rectifications(connection, None, calendar)
            if days:
                _summarise(connection, _ranges(days), calendar)
            summarised = len(days)
        connection.execute(sql_update(_state).where(_state.c.id == STATE_ID).values(
            refreshed_at=now, marks=marks, calendar=mark,
            **({"summarised_all_at": now} if full else {})))
    if summarised:
        LOG.info("statistics summary: %s", "every day" if summarised < 0
                 else f"{summarised} days summarised again")
    return summarised


def _full_due(state, now: dt.datetime, full_every: dt.timedelta | None) -> bool:
    """Whether the periodic pass over every day is due: none yet, or none within full_every."""
    return full_every is not None and (state.summarised_all_at is None
                                       or state.summarised_all_at <= now - full_every)


def forget(engine: Engine) -> None:
    """Empty the watermark: the next refresh summarises every day (after a bulk load)."""
    with engine.begin() as connection:
        connection.execute(sql_update(_state).where(_state.c.id == STATE_ID).values(
            refreshed_at=None))
