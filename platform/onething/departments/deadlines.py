"""Deadline reminders: `task.due_soon` and `task.overdue` outbox events, once per open task.

The worker looks every REMINDER_INTERVAL seconds. An event is written only for
departments whose webhook wants events, with a dedupe key ("task.overdue:42") that the
database holds unique: however many workers look at once, a task gets each reminder once.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import String, cast, literal
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from onething.cases import clock
from onething.cases.events import listening
from onething.catalog.workdays import add_working_days, china_today
from onething.departments.inbox import SOON_DAYS
from onething.storage.models import TASK_DONE, OutboxEvent, Task, utc_now

DUE_SOON = "task.due_soon"
OVERDUE = "task.overdue"
CHUNK = 500


def remind_deadlines(session: Session, today: dt.date | None = None) -> int:
    """Write the reminders that are due and not written yet; commit; return how many."""
    today = today or china_today()
    departments = listening(session)
    if not departments:
        return 0
    soon = add_working_days(today, SOON_DAYS).date
    rows = []
    for event, due in ((OVERDUE, col(Task.due_date) < today),
                       (DUE_SOON, (col(Task.due_date) >= today) & (col(Task.due_date) <= soon))):
        # Once per task and due date: a due date counted again (an unlock, a pause) may
        # be reminded of again.
        key = (literal(f"{event}:") + cast(Task.id, String) + literal(":")
               + cast(Task.due_date, String))
        written = select(OutboxEvent.id).where(OutboxEvent.dedupe_key == key).exists()
        tasks = session.exec(select(Task).where(
            col(Task.status).not_in(TASK_DONE), due, col(Task.department_code).in_(departments),
            # Only a running clock: a waiting task's has not started, a paused one's stands.
            clock.running(),
            ~written).order_by(col(Task.id))).all()
        rows += [_row(event, task) for task in tasks]
    if not rows:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    written = 0
    # In slices: SQLite takes a bounded number of parameters per statement.
    for start in range(0, len(rows), CHUNK):
        # Another worker may have written some of them since: the key's unique index
        # drops those.
        written += len(session.execute(
            dialect.insert(OutboxEvent).values(rows[start:start + CHUNK])
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxEvent.id)).all())
    session.commit()
    return written


def _row(event: str, task: Task) -> dict:
    now = utc_now()
    return {"delivery_id": secrets.token_hex(16),
            "dedupe_key": f"{event}:{task.id}:{task.due_date.isoformat()}",
            "department_code": task.department_code, "event": event,
            "payload": {"task_id": task.id, "submission_id": task.submission_id,
                        "matter": task.matter_code, "status": task.status,
                        "due_date": task.due_date.isoformat()},
            "created_at": now, "attempts": 0, "next_attempt_at": now}
