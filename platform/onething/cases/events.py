"""Case events for departments' systems, written to the outbox in the case's own transaction.

Delivery is the departments' concern (`onething.departments.webhooks`); recording that
something happened to a task is the case's, so it commits or rolls back with the change.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlmodel import Session, col, select

from onething.storage.models import OutboxEvent, Task, Webhook


def listening(session: Session) -> set[str]:
    """The departments whose systems want events."""
    return set(session.exec(select(Webhook.department_code).where(
        col(Webhook.active).is_(True))).all())


def enqueue(session: Session, event: str, tasks: Iterable[Task],
            departments: set[str] | None = None, extra: dict | None = None) -> None:
    """Add one event per task for departments with a webhook (the caller commits).

    `extra` adds to each payload; like the rest, it names things (ids, matters, field
    paths), never what the applicant entered.
    """
    tasks = list(tasks)
    if not tasks:
        return
    listening_ = listening(session) if departments is None else departments
    for task in tasks:
        if task.department_code in listening_:
            session.add(OutboxEvent(
                delivery_id=secrets.token_hex(16), department_code=task.department_code,
                event=event, payload={"task_id": task.id, "submission_id": task.submission_id,
                                      "matter": task.matter_code, "status": task.status,
                                      **(extra or {})}))
