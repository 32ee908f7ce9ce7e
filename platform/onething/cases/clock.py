"""A task's clock, the way the law counts it: started when workable, paused, due date recounted.

The clock starts when the task becomes workable: at submission, or when what it
waits for is approved (unlock). It stops while a correction (补正) is with the
applicant, from the request to the resubmission, and during a special procedure
(特别程序, 行政许可法 art. 45: hearing, inspection, expert review…), which
staff declare and end. The days a pause lasts (counted from the day after it
began, working days or calendar days as the matter's limit counts) are added to
the limit, and the due date is counted again from the start:

    due = due_date(clock_started_on, promised_days + paused_days, counting, holidays)

Each change of a due date is appended to the audit log (action "due_date") with
the dates before and after and why. The caller commits, except where noted.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, delete
from sqlmodel import Session, col, select

from onething.cases import holidays
from onething.cases.refusals import Refusal
from onething.catalog.workdays import china_today, days_paused, due_date, year_known
from onething.storage.models import TASK_RUNNING, AuditEntry, HolidayDay, HolidayYear, Task

SPECIAL_KINDS = {"hearing": _l("hearing (听证)"), "inspection": _l("inspection (检验检测检疫)"),
                 "expert_review": _l("expert review (专家评审)"), "other": _l("other")}
REASON_LENGTH = 2000

PROBLEMS = {
    "state": _l("A special procedure is declared while an accepted application is "
                "examined, one at a time; nothing was changed."),
    "none_open": _l("No special procedure is under way; nothing was changed."),
    "kind": _l("Pick the kind of special procedure."),
    "reason": _l("Say what the special procedure is for (at most 2,000 characters)."),
    "special_procedure_open": _l("End the special procedure before asking for a correction."),
}


class ClockRefused(Refusal):
    """A change of the clock that does not fit; nothing was changed."""

    problems = PROBLEMS


# Spelled as the index of running clocks says it (models.TASK_RUNNING), so that SQLite
# reads a count of them from that index alone.
_RUNNING = and_(col(Task.status).in_(bindparam("running", TASK_RUNNING, expanding=True,
                                               literal_execute=True)),
                col(Task.paused_since).is_(None))


def running():
    """The tasks whose clock runs, as SQL: being worked on (a waiting task's has not
    started) and not paused (by a correction (补正) or a special procedure). Only they can
    be overdue or due soon."""
    return _RUNNING


def _today(today: dt.date | None) -> dt.date:
    return today or china_today()


def recount(session: Session, task: Task, why: str, actor: str = "system") -> None:
    """Count the task's due date again from its clock; log it if it moved."""
    if task.clock_started_on is None:
        return
    due = due_date(task.clock_started_on, task.promised_days + task.paused_days,
                   task.counting, holidays.overrides(session))
    if (due.date, due.estimated) == (task.due_date, task.due_estimated):
        return
    before = {"due_date": task.due_date.isoformat(), "status": task.status}
    task.due_date, task.due_estimated = due.date, due.estimated
    session.add(task)
    session.add(AuditEntry(actor=actor, action="due_date", subject=f"task:{task.id}",
                           before=before, after={"due_date": due.date.isoformat(),
                                                 "status": task.status, "why": why}))


def start(session: Session, task: Task, today: dt.date | None = None) -> None:
    """The task became workable (unlocked): its clock starts today."""
    task.clock_started_on, task.paused_days, task.paused_since = _today(today), 0, None
    recount(session, task, "unlock")


def pause(session: Session, task: Task, today: dt.date | None = None) -> None:
    """A pause begins today (a correction asked for): the due date waits for its end."""
    if task.paused_since is None:
        task.paused_since = _today(today)
        session.add(task)


def resume(session: Session, task: Task, why: str, actor: str = "system",
           today: dt.date | None = None) -> int:
    """The pause ends today: its days come off the clock; return how many."""
    if task.paused_since is None:
        return 0
    days = days_paused(task.paused_since, _today(today), task.counting,
                       holidays.overrides(session))
    task.paused_days += days
    task.paused_since = None
    session.add(task)
    recount(session, task, why, actor)
    return days


def check_supplement(task: Task) -> None:
    """A correction cannot be asked for during a special procedure: both would stop the clock."""
    if task.special_procedure:
        raise ClockRefused("special_procedure_open")


def _state(task: Task) -> dict:
    return {"status": task.status, "due_date": task.due_date.isoformat(),
            "special_procedure": task.special_procedure}


def begin_special_procedure(session: Session, task: Task, kind: str, reason: str, actor: str,
                            today: dt.date | None = None) -> None:
    """Declare a special procedure on the task: its clock stops until it ends; commit."""
    reason = (reason or "").strip()
    # A hearing, an expert review, a test (行政许可法 art. 45) belongs to the examination
    # of an accepted application, never before it is accepted.
    if task.status != "accepted" or task.special_procedure or task.paused_since:
        raise ClockRefused("state")
    if kind not in SPECIAL_KINDS:
        raise ClockRefused("kind")
    if not reason or len(reason) > REASON_LENGTH:
        raise ClockRefused("reason")
    try:
        before = _state(task)
        day = _today(today)
        task.special_procedure = {"kind": kind, "reason": reason, "since": day.isoformat()}
        pause(session, task, day)
        session.add(AuditEntry(actor=actor, action="special_procedure", subject=f"task:{task.id}",
                               before=before, after=_state(task)))
        session.commit()
    except BaseException:
        session.rollback()
        raise


def end_special_procedure(session: Session, task: Task, actor: str,
                          today: dt.date | None = None) -> int:
    """End the special procedure under way; its days come off the clock; commit; return them."""
    if not task.special_procedure:
        raise ClockRefused("none_open")
    try:
        before = _state(task)
        ended = task.special_procedure
        task.special_procedure = None
        days = resume(session, task, f"special_procedure:{ended['kind']}", actor, today)
        session.add(AuditEntry(actor=actor, action="special_procedure_end",
                               subject=f"task:{task.id}", before=before,
                               after={**_state(task), "days_excluded": days}))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return days


def calendar_unknown(session: Session, task: Task) -> bool:
    """Whether the due date falls in a year nobody entered and chinese_calendar does not know."""
    return not year_known(task.due_date.year, holidays.overrides(session))


# --- a year's holiday notice entered: the due dates it moves ---------------------------------


def enter_notice(session: Session, notice: holidays.Notice, actor: str) -> None:
    """Store a year's notice, replacing what was entered for that year before, and count
    again the due dates of the open tasks it can move (audited); commit."""
    try:
        old = session.get(HolidayYear, notice.year)
        before = holidays.year_summary(session, notice.year) if old else None
        session.execute(delete(HolidayDay).where(col(HolidayDay.year) == notice.year))
        if old is None:
            old = HolidayYear(year=notice.year, entered_by=actor)
        old.entered_by, old.entered_at = actor, holidays.entry_time(session)
        session.add(old)
        session.flush()
        session.add_all([HolidayDay(day=day, year=notice.year, working=False, name=name)
                         for day, name in sorted(notice.holidays.items())])
        session.add_all([HolidayDay(day=day, year=notice.year, working=True)
                         for day in sorted(notice.workdays)])
        session.add(AuditEntry(actor=actor, action="holiday_calendar",
                               subject=f"holidays:{notice.year}", before=before,
                               after={"holidays": len(notice.holidays),
                                      "workdays": len(notice.workdays)}))
        session.flush()
        _recount_open_tasks(session, notice.year, actor)
        session.commit()
    except BaseException:
        session.rollback()
        raise


# A task's clock runs, or waits for a correction, in these states: its due date is still
# to come, and the calendar decides it.
OPEN_STATES = ("pending", "accepted", "supplement")


def _recount_open_tasks(session: Session, year: int, actor: str) -> None:
    """Count again the due dates the entered year can move: open tasks whose clock started
    by the year's end and whose due date is not before it (each change audited)."""
    tasks = session.exec(select(Task).where(
        col(Task.status).in_(OPEN_STATES), col(Task.clock_started_on).is_not(None),
        col(Task.clock_started_on) <= dt.date(year, 12, 31),
        col(Task.due_date) >= dt.date(year, 1, 1))).all()
    for task in tasks:
        recount(session, task, "holiday_calendar", actor)
