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
from sqlmodel import Session

from onething.cases import holidays
from onething.catalog.workdays import china_today, days_paused, due_date, year_known
from onething.storage.models import AuditEntry, Task

SPECIAL_KINDS = {"hearing": _l("hearing (听证)"), "inspection": _l("inspection (检验检测检疫)"),
                 "expert_review": _l("expert review (专家评审)"), "other": _l("other")}
# The states in which the task's department is working on it: its clock runs.
RUNNING = ("pending", "accepted")
REASON_LENGTH = 2000

PROBLEMS = {
    "state": _l("A special procedure can be declared only while the task is in hand, and "
                "one at a time; nothing was changed."),
    "none_open": _l("No special procedure is under way; nothing was changed."),
    "kind": _l("Pick the kind of special procedure."),
    "reason": _l("Say what the special procedure is for (at most 2,000 characters)."),
    "special_procedure_open": _l("End the special procedure before asking for a correction."),
}


class ClockRefused(Exception):
    """A change of the clock that does not fit; nothing was changed."""

    def __init__(self, code: str):
        self.code = code
        super().__init__(code)

    def message(self) -> str:
        """Why, localized."""
        return str(PROBLEMS[self.code])


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
    if task.status not in RUNNING or task.special_procedure or task.paused_since:
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
