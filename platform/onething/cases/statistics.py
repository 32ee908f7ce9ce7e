"""The hall's numbers (好差评 and 政务公开): cases, time taken, corrections, ratings, savings.

Every figure is an SQL aggregate computed by the database (SQLite and PostgreSQL
alike), grouped by one dimension at a time (`BY`: month, bundle, matter or
department) over a date range, optionally one bundle and one department. The sums are
read from the daily summary (cases/summary.py: one row per China day and group,
refreshed first with the days changed since), not from the tasks themselves: six
months are a few tens of thousands of summary rows, not 400,000 tasks.

- Tasks (办件, one per department and matter) received in the range, by the day their
  case was submitted: completed (approved), refused (rejected), in progress (not yet
  decided). Of those decided (approved or rejected) since migration 0026, the share
  decided by their due date (on-time rate), the average and 90th percentile of the
  days their clock ran (pauses excluded, counted as each limit counts; `days_taken`,
  written by the decision) against the average promised, and the share of tasks whose
  department asked for a correction (补正 rate).
- Ratings given in the range: the share at 满意 or above (satisfaction rate) and the
  number of bad ratings (差评, the two lowest levels). Ratings of a whole case belong
  to no matter: by matter they are grouped under "".
- Rectifications opened in the range: the share closed, and the average working days
  from opening to closing (they are due in working days: counted on the hall's
  calendar as a task's days taken are).
- Cases (submissions) in the range, by month and bundle only: the savings their
  applicants actually realised, summed from what each submission stored when it was
  submitted (forms, fields, materials, visits and serial days saved for the answers
  given), not read from the definitions. A department's are those of the cases having
  a task of it.

The 90th percentile is the nearest-rank one, portable to both databases: SQLite has no
percentile_cont. The summary keeps the tasks by their whole days taken (a few dozen
buckets a group), and window functions over the buckets grouped by the group give each
bucket its running count; the percentile is the least number of days whose running
count reaches 0.9·n (the value at rank ⌈0.9·n⌉). It is always a value some task
actually took, never an interpolation. The total's percentile runs the same window
over every group.

Months are China's (UTC+8, no daylight saving), as the summary's days are. No figure
names a person: the public page shows exactly these aggregates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, literal, or_, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlmodel import Session, col

from onething.cases import summary
from onething.cases.refusals import Refusal
from onething.cases.summary import KEYS, TASK_COUNTS
from onething.catalog.workdays import CHINA_TZ, china_today
from onething.storage.models import (
    BAD_RATING,
    PublishedService,
    StatsCaseDay,
    StatsRatingDay,
    StatsRatingMonth,
    StatsRectificationDay,
    StatsTaskDay,
    StatsTaskMonth,
)

BY = ("month", "bundle", "matter", "department")
# 满意 and above.
SATISFIED = 4
SAVED = ("forms", "fields", "materials", "visits", "days")
# The longest range a request may ask for, and the default one (the last six months).
MAX_DAYS = 3 * 366
DEFAULT_MONTHS = 6
CODE_LENGTH = 100

PROBLEMS = {
    "date": _l("Enter dates as YYYY-MM-DD, for example 2026-01-31."),
    "order": _l("The start date must be on or before the end date."),
    "span": _l("Choose a range of at most three years."),
    "month": _l("Enter the month as YYYY-MM, for example 2026-01."),
    "by": _l("Group by month, bundle, matter or department."),
    "bundle": _l("That is not a service code."),
}


class FiltersRefused(Refusal):
    """Filters that do not parse; the page answers 400 and says why."""

    problems = PROBLEMS


@dataclass(frozen=True)
class Filters:
    """China dates, both included; a bundle; a department (department staff: their own)."""

    start: dt.date
    end: dt.date
    bundle: str | None = None
    department: str | None = None

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The range as UTC instants: from the start's midnight to the day after the end."""
        low = dt.datetime.combine(self.start, dt.time(), CHINA_TZ)
        high = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), CHINA_TZ)
        return low.astimezone(dt.UTC), high.astimezone(dt.UTC)


def month_range(month: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a YYYY-MM month."""
    try:
        year, number = month.split("-")
        if len(year) != 4 or len(number) != 2:
            raise ValueError
        first = dt.date(int(year), int(number), 1)
    except ValueError as error:
        raise FiltersRefused("month") from error
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def _date(text: str) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise FiltersRefused("date") from error


def default_range(today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The last six months, this one included."""
    today = today or china_today()
    first = today.replace(day=1)
    for _ in range(DEFAULT_MONTHS - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    return first, today


def parse_filters(args, department: str | None = None, default_by: str = "month"
                  ) -> tuple[Filters, str]:
    """Filters and the grouping from query parameters (from, to, month, bundle, by)."""
    by = args.get("by") or default_by
    if by not in BY:
        raise FiltersRefused("by")
    start, end = default_range()
    if args.get("month"):
        start, end = month_range(args["month"].strip())
    if args.get("from"):
        start = _date(args["from"].strip())
    if args.get("to"):
        end = _date(args["to"].strip())
    if start > end:
        raise FiltersRefused("order")
    if (end - start).days > MAX_DAYS:
        raise FiltersRefused("span")
    bundle = (args.get("bundle") or "").strip() or None
    if bundle is not None and (len(bundle) > CODE_LENGTH
                               or not bundle.replace("-", "").replace("_", "").isalnum()):
        raise FiltersRefused("bundle")
    return Filters(start, end, bundle, department), by


# --- the figures ------------------------------------------------------------------------------


@dataclass
class Row:
    """One group's figures (or the total's): sums and counts from SQL, rates from them."""

    key: str
    received: int = 0
    completed: int = 0
    refused: int = 0
    in_progress: int = 0
    timed: int = 0
    on_time: int = 0
    days_sum: int = 0
    promised_sum: int = 0
    p90_days: int | None = None
    corrected: int = 0
    ratings: int = 0
    satisfied: int = 0
    bad: int = 0
    rectifications: int = 0
    rectified: int = 0
    rectify_days_sum: int = 0
    cases: int = 0
    saved: dict = field(default_factory=lambda: dict.fromkeys(SAVED, 0))

    @staticmethod
    def _share(part: float, whole: float) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def on_time_rate(self) -> float | None:
        """Decided by the due date, in per cent of the tasks decided."""
        return self._share(self.on_time, self.timed)

    @property
    def average_days(self) -> float | None:
        """The days the decided tasks' clocks ran, on average."""
        return round(self.days_sum / self.timed, 1) if self.timed else None

    @property
    def average_promised(self) -> float | None:
        """What the decided tasks promised, on average."""
        return round(self.promised_sum / self.timed, 1) if self.timed else None

    @property
    def correction_rate(self) -> float | None:
        """Tasks with a correction (补正), in per cent of those received."""
        return self._share(self.corrected, self.received)

    @property
    def satisfaction_rate(self) -> float | None:
        """Ratings at 满意 or above, in per cent."""
        return self._share(self.satisfied, self.ratings)

    @property
    def rectification_rate(self) -> float | None:
        """Rectifications closed, in per cent of those opened."""
        return self._share(self.rectified, self.rectifications)

    @property
    def rectification_days(self) -> float | None:
        """Working days from opening to closing, on average."""
        return round(self.rectify_days_sum / self.rectified, 1) if self.rectified else None

    def as_dict(self) -> dict:
        """Plain JSON data: the counts and the rates."""
        return {"key": self.key, "received": self.received, "completed": self.completed,
                "refused": self.refused, "in_progress": self.in_progress,
                "decided_timed": self.timed, "on_time": self.on_time,
                "on_time_rate": self.on_time_rate, "average_days": self.average_days,
                "p90_days": self.p90_days, "average_promised_days": self.average_promised,
                "corrected": self.corrected, "correction_rate": self.correction_rate,
                "ratings": self.ratings, "satisfied": self.satisfied,
                "satisfaction_rate": self.satisfaction_rate, "bad_ratings": self.bad,
                "rectifications": self.rectifications, "rectified": self.rectified,
                "rectification_rate": self.rectification_rate,
                "rectification_days": self.rectification_days,
                "cases": self.cases, "saved": dict(self.saved)}


@dataclass
class Report:
    """The groups, in order, and their total."""

    filters: Filters
    by: str
    rows: list[Row]
    total: Row
    names: dict[str, object]

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {"from": self.filters.start.isoformat(), "to": self.filters.end.isoformat(),
                "bundle": self.filters.bundle, "department": self.filters.department,
                "by": self.by, "total": self.total.as_dict(),
                "rows": [row.as_dict() for row in self.rows]}


def _month(day, filters: Filters) -> ColumnElement:
    # The month of a summary row's China day, as a CASE over the range's month boundaries:
    # comparisons of the day column, the same SQL in both databases.
    first = filters.start.replace(day=1)
    months, bounds = [], []
    while first <= filters.end:
        following = (first + dt.timedelta(days=32)).replace(day=1)
        months.append(f"{first:%Y-%m}")
        bounds.append(following)
        first = following
    if len(months) == 1:
        return literal(months[0])
    return case(*[(day < bound, literal(month))
                  for month, bound in zip(months[:-1], bounds[:-1], strict=True)],
                else_=literal(months[-1]))


def _sum_if(condition, value) -> ColumnElement:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _key(by: str, table, filters: Filters) -> ColumnElement:
    # A table's columns, or a subquery's.
    table = getattr(table, "c", table)
    if by == "month":
        return _month(table.day, filters)
    return table[{"bundle": "bundle_code", "matter": "matter_code",
                    "department": "department_code"}[by]]


def _where(table, filters: Filters, department: bool = True, dates: bool = True) -> list:
    where = [table.c.day >= filters.start, table.c.day <= filters.end] if dates else []
    if filters.bundle:
        where.append(table.c.bundle_code == filters.bundle)
    if department and filters.department:
        where.append(table.c.department_code == filters.department)
    return where


def _source(day_model, month_model, columns: tuple[str, ...], filters: Filters):
    """The summary's rows of the range: whole months from the month table, the other days
    from the day table, each as (day, *columns) (a month's row has its first day)."""
    days, months = day_model.__table__, month_model.__table__
    first = filters.start if filters.start.day == 1 else (
        filters.start + dt.timedelta(days=32)).replace(day=1)
    last = (filters.end + dt.timedelta(days=1)).replace(day=1) - dt.timedelta(days=1)
    if last < first:  # no whole month: every day from the day table
        return select(days.c.day, *[days.c[name] for name in columns]).where(
            *_where(days, filters)).subquery()
    whole = select(months.c.month.label("day"), *[months.c[name] for name in columns]).where(
        months.c.month >= first, months.c.month <= last.replace(day=1),
        *_where(months, filters, dates=False))
    rest = select(days.c.day, *[days.c[name] for name in columns]).where(
        or_(and_(days.c.day >= filters.start, days.c.day < first),
            and_(days.c.day > last, days.c.day <= filters.end)),
        *_where(days, filters, dates=False))
    return union_all(whole, rest).subquery()


def compute(session: Session, filters: Filters, by: str = "month") -> Report:
    """Every figure, grouped by `by`, each group and the total, from the daily summary.

    The summary is refreshed first (the days changed since the last refresh), on a
    connection of its own; the figures are read on a new one, which sees it.
    """
    if by not in BY:
        raise FiltersRefused("by")
    engine = session.get_bind()
    summary.refresh(engine)
    with engine.connect() as connection:
        return _compute(connection, session, filters, by)


def _compute(connection: Connection, session: Session, filters: Filters, by: str) -> Report:
    rows: dict[str, Row] = {}

    def row(key) -> Row:
        return rows.setdefault(key or "", Row(key or ""))

    task = _source(StatsTaskDay, StatsTaskMonth, ("days_taken", *KEYS, *TASK_COUNTS),
                   filters).c
    # The group's key is worked out once per row in an inner select; the groupings and
    # windows then name its column (PostgreSQL matches GROUP BY expressions by their text,
    # which bound parameters would make differ).
    keyed = select(_key(by, task, filters).label("key"),
                   case((task.days_taken >= 0, task.days_taken)).label("days"),
                   *[task[name] for name in TASK_COUNTS]).subquery().c
    key, days = keyed.key, keyed.days
    # Grouped by the group and the days taken (the summary's buckets, a few dozen values):
    # each group's counts are the sums of its buckets, and the percentiles come from the
    # buckets' running counts (window functions over the grouped rows).
    timed = _sum_if(days.is_not(None), keyed.received)
    buckets = select(
        key, days.label("days"), func.sum(keyed.received).label("received"),
        func.sum(keyed.completed).label("completed"), func.sum(keyed.refused).label("refused"),
        func.sum(keyed.in_progress).label("in_progress"), timed.label("timed"),
        func.sum(keyed.on_time).label("on_time"),
        _sum_if(days.is_not(None), days * keyed.received).label("days_sum"),
        _sum_if(days.is_not(None), keyed.promised_sum).label("promised_sum"),
        func.sum(keyed.corrected).label("corrected"),
        func.sum(timed).over(partition_by=key, order_by=days).label("running"),
        func.sum(timed).over(partition_by=key).label("group_timed"),
        func.sum(timed).over(order_by=days).label("running_all"),
        func.sum(timed).over().label("all_timed"),
    ).group_by(key, days).subquery()
    g = buckets.c
    # Nearest rank: the least days whose running count reaches 0.9·n (10·running ≥ 9·n).
    p90 = func.min(case((and_(g.days.is_not(None), g.timed > 0,
                              g.running * 10 >= g.group_timed * 9), g.days)))
    p90_all = func.min(case((and_(g.days.is_not(None), g.timed > 0,
                                  g.running_all * 10 >= g.all_timed * 9), g.days)))
    total_p90 = None
    for found in connection.execute(select(
            g.key, func.sum(g.received), func.sum(g.completed), func.sum(g.refused),
            func.sum(g.in_progress), func.sum(g.timed), func.sum(g.on_time),
            func.sum(g.days_sum), func.sum(g.promised_sum), func.sum(g.corrected), p90,
            p90_all).group_by(g.key)):
        target = row(found[0])
        (target.received, target.completed, target.refused, target.in_progress,
         target.timed, target.on_time, target.days_sum, target.promised_sum,
         target.corrected) = (int(value or 0) for value in found[1:10])
        target.p90_days = found[10]
        if found[11] is not None and (total_p90 is None or found[11] < total_p90):
            total_p90 = found[11]

    rating = _source(StatsRatingDay, StatsRatingMonth, ("level", "ratings", *KEYS), filters).c
    rated = select(_key(by, rating, filters).label("key"), rating.level, rating.ratings
                   ).subquery().c
    for found_key, count, satisfied, bad in connection.execute(select(
            rated.key, func.sum(rated.ratings), _sum_if(rated.level >= SATISFIED, rated.ratings),
            _sum_if(rated.level <= BAD_RATING, rated.ratings)).group_by(rated.key)):
        target = row(found_key)
        target.ratings, target.satisfied, target.bad = int(count), int(satisfied), int(bad)

    fix_table = StatsRectificationDay.__table__
    fixed = select(_key(by, fix_table, filters).label("key"), fix_table.c.opened,
                   fix_table.c.closed, fix_table.c.closed_days
                   ).where(*_where(fix_table, filters)).subquery().c
    for found_key, count, done, days_sum in connection.execute(select(
            fixed.key, func.sum(fixed.opened), func.sum(fixed.closed),
            func.sum(fixed.closed_days)).group_by(fixed.key)):
        target = row(found_key)
        target.rectifications, target.rectified = int(count), int(done)
        target.rectify_days_sum = int(days_sum or 0)

    if by in ("month", "bundle"):
        case_table = StatsCaseDay.__table__
        cases = select(_key(by, case_table, filters).label("key"),
                       *[case_table.c[f"saved_{name}"] for name in SAVED], case_table.c.cases
                       ).where(*_case_where(filters)).subquery().c
        for found in connection.execute(select(cases.key, func.sum(cases.cases), *[
                func.sum(cases[f"saved_{name}"]) for name in SAVED]).group_by(cases.key)):
            target = row(found[0])
            target.cases = int(found[1])
            target.saved = {name: int(value) for name, value in zip(SAVED, found[2:],
                                                                     strict=True)}

    ordered = [rows[key] for key in sorted(rows)]
    total = Row("")
    for item in ordered:
        for name in ("received", "completed", "refused", "in_progress", "timed", "on_time",
                     "days_sum", "promised_sum", "corrected", "ratings", "satisfied", "bad",
                     "rectifications", "rectified", "rectify_days_sum", "cases"):
            setattr(total, name, getattr(total, name) + getattr(item, name))
        for name in SAVED:
            total.saved[name] += item.saved[name]
    total.p90_days = total_p90
    if by not in ("month", "bundle"):
        # The cases' savings are not the matter's or the department's: read them once.
        total.cases, total.saved = _cases_total(connection, filters)
    return Report(filters, by, ordered, total, names(session, by, {r.key for r in ordered}))


def _case_where(filters: Filters) -> list:
    # "" rows count every case; a department's, the cases having a task of it.
    table = StatsCaseDay.__table__
    return [*_where(table, filters, department=False),
            table.c.department_code == (filters.department or "")]


def _cases_total(connection: Connection, filters: Filters) -> tuple[int, dict]:
    table = StatsCaseDay.__table__
    found = connection.execute(select(func.coalesce(func.sum(table.c.cases), 0), *[
        func.coalesce(func.sum(table.c[f"saved_{name}"]), 0) for name in SAVED]
    ).where(*_case_where(filters))).one()
    return int(found[0]), {name: int(value) for name, value in zip(SAVED, found[1:],
                                                                    strict=True)}


def names(session: Session, by: str, keys: set[str]) -> dict[str, object]:
    """The published names of the groups' bundles, matters or departments (a month is itself)."""
    keys = {key for key in keys if key}
    if by == "month" or not keys:
        return {}
    service = PublishedService
    if by == "department":
        return dict(session.execute(
            select(col(service.department_code), col(service.department_name))
            .where(col(service.department_code).in_(sorted(keys)))
            .where(col(service.kind) == "matter")).all())
    return dict(session.execute(select(col(service.code), col(service.name)).where(
        col(service.code).in_(sorted(keys)))).all())


def bundles(session: Session) -> list[tuple[str, object]]:
    """The published bundles, for the filter's choices."""
    return list(session.execute(select(col(PublishedService.code), col(PublishedService.name))
                                .where(col(PublishedService.kind) == "bundle")
                                .order_by(col(PublishedService.code))).all())
