"""Decisions on tasks: accept (受理), approve with a certificate, reject with a reason.

A task moves waiting → pending → accepted → approved, or to rejected from
pending or accepted. Approving unlocks the tasks that waited for it once all
they wait for is approved; rejecting stops every task that waited for it,
directly or not, saying which matter was refused. The submission's status
follows its tasks: approved when all are, rejected when one is.

A decision that does not fit the task's state is refused with the reason and
changes nothing (the API answers 409). Every change, including the ones that
follow from it (unlocked, stopped), is appended to the audit log in the same
transaction as the change itself.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col, select

from onething import webhooks
from onething.models import AuditEntry, Submission, Task, utc_now

ACTIONS = ("accept", "approve", "reject")
# From which states each decision may be taken.
ALLOWED = {"accept": {"pending"}, "approve": {"accepted"}, "reject": {"pending", "accepted"}}
FINAL = {"approved", "rejected", "stopped"}


class DecisionRefused(Exception):
    """A decision that does not fit: the task's state, or a missing certificate or reason."""

    def __init__(self, code: str, task: Task | None = None):
        self.code = code
        self.task = task
        state = f" (task is {task.status})" if task is not None else ""
        super().__init__(f"{code}{state}")


def snapshot(task: Task) -> dict:
    """What the audit log keeps of a task's state."""
    return {"status": task.status, "certificate_number": task.certificate_number,
            "reason": task.reason}


def _log(session: Session, actor: str, action: str, task: Task, before: dict) -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=f"task:{task.id}",
                           before=before, after=snapshot(task)))


def decide(session: Session, task: Task, action: str, actor: str, *,
           certificate_number: str | None = None, reason: str | None = None) -> Task:
    """Take one decision on a task, with everything that follows from it; commit."""
    if action not in ACTIONS:
        raise DecisionRefused("unknown_action")
    if task.status not in ALLOWED[action]:
        raise DecisionRefused("not_decidable", task)
    if action == "approve" and not (certificate_number or "").strip():
        raise DecisionRefused("certificate_number")
    if action == "reject" and not (reason or "").strip():
        raise DecisionRefused("reason")
    try:
        before = snapshot(task)
        now = utc_now()
        values = {"accept": {"status": "accepted"},
                  "approve": {"status": "approved", "decided_at": now,
                              "certificate_number": (certificate_number or "").strip()},
                  "reject": {"status": "rejected", "decided_at": now,
                             "reason": (reason or "").strip()}}[action]
        # Compare and set: of two people deciding the same task at once, one wins and
        # the other is refused, instead of both "accepting" it.
        changed = session.execute(update(Task).where(
            col(Task.id) == task.id, col(Task.status) == before["status"]).values(**values))
        if changed.rowcount != 1:
            session.rollback()
            session.refresh(task)
            raise DecisionRefused("not_decidable", task)
        session.refresh(task)
        _log(session, actor, action, task, before)
        siblings = session.exec(select(Task).where(
            Task.submission_id == task.submission_id)).all()
        changed = [task]
        if action == "approve":
            changed += _unlock(session, siblings)
        elif action == "reject":
            changed += _stop(session, siblings, task)
        _aggregate(session, task.submission_id, siblings)
        webhooks.enqueue(session, "task.status_changed", changed)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return task


def _unlock(session: Session, tasks: list[Task]) -> list[Task]:
    approved = {t.matter_code for t in tasks if t.status == "approved"}
    unlocked = []
    for waiting in tasks:
        if waiting.status == "waiting" and set(waiting.waits_for) <= approved:
            before = snapshot(waiting)
            waiting.status = "pending"
            session.add(waiting)
            _log(session, "system", "unlock", waiting, before)
            unlocked.append(waiting)
    return unlocked


def _stop(session: Session, tasks: list[Task], rejected: Task) -> list[Task]:
    # Everything that waits for the rejected matter, directly or through another task.
    blocked = {rejected.matter_code}
    changed = True
    while changed:
        changed = False
        for task in tasks:
            if task.matter_code not in blocked and blocked & set(task.waits_for):
                blocked.add(task.matter_code)
                changed = True
    stopped = []
    for task in tasks:
        if task.matter_code in blocked and task is not rejected and task.status not in FINAL:
            before = snapshot(task)
            task.status = "stopped"
            task.reason = f"rejected:{rejected.matter_code}"
            task.decided_at = utc_now()
            session.add(task)
            _log(session, "system", "stop", task, before)
            stopped.append(task)
    return stopped


def _aggregate(session: Session, submission_id: int, tasks: list[Task]) -> None:
    submission = session.get(Submission, submission_id)
    statuses = {t.status for t in tasks}
    if statuses == {"approved"}:
        status = "approved"
    elif "rejected" in statuses:
        status = "rejected"
    else:
        status = "in_progress"
    if submission.status != status:
        before = {"status": submission.status}
        submission.status = status
        session.add(submission)
        session.add(AuditEntry(actor="system", action="status", subject=f"submission:"
                               f"{submission.id}", before=before, after={"status": status}))


def audit_of(session: Session, task: Task) -> list[AuditEntry]:
    """The audit log of a task, oldest first."""
    return list(session.exec(select(AuditEntry).where(AuditEntry.subject == f"task:{task.id}")
                             .order_by(AuditEntry.id)).all())
