"""Ratings (好差评, 国办发〔2019〕51号, GB/T 39734 and 39735) and the follow-up of bad ones (整改).

The applicant rates each matter once its department has decided (一事一评: a rating of
the task) and the whole case once it has ended (一次一评: the window service of the
case), on five levels, 5 非常满意 to 1 非常不满意, with optional tags and a comment. One
rating per task and one per case: giving it again within CHANGE_DAYS of the first
changes it, and every version is kept (rating_change). A front-desk clerk can record a
rating given in person; it is then the clerk's, channel "window".

The two lowest levels are bad ratings (差评). Each opens a rectification for the rated
department, due RECTIFICATION_DAYS working days later on the hall's calendar: staff
record what they verified (核实), what they fixed (整改) and their reply to the
applicant, who reads it on the status page; then the call-back (回访) with its result;
then they close it. A rating changed to a better level leaves its open rectification
open (what was said is still answered); one changed to a bad level again after its
rectification closed opens another. A rating of the whole case is the window's: its
department is the case's lead department (牵头部门, whose window accepted it,
一窗受理), or, for a case without one, the department of its first task, as a bundle
without a lead department is led by its first matter's.

Every step is in the audit log (subjects `rating:<id>` and `rectification:<id>`) and
is an event for the department's system, in the same transaction. Events carry ids,
the matter and the level, never the comment or the applicant's data. The caller
passes the settings; functions here commit.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.cases import holidays
from onething.cases.events import listening
from onething.cases.refusals import Refusal
from onething.catalog.workdays import CHINA_TZ, add_working_days, china_today
from onething.storage.models import (
    BAD_RATING,
    MAX_ROW_ID,
    AuditEntry,
    OutboxEvent,
    Rating,
    RatingChange,
    Rectification,
    Submission,
    Task,
    utc_now,
)

# Best first, as the applicant reads them.
LEVELS = {5: _l("Very satisfied (非常满意)"), 4: _l("Satisfied (满意)"),
          3: _l("Basically satisfied (基本满意)"), 2: _l("Dissatisfied (不满意)"),
          1: _l("Very dissatisfied (非常不满意)")}
TAGS = {"attitude": _l("Attitude (态度)"), "efficiency": _l("Efficiency (效率)"),
        "materials": _l("Materials asked for (材料要求)"), "system": _l("The online system (系统)")}
CALLBACK_RESULTS = {"satisfied": _l("Satisfied with the answer"),
                    "basically_satisfied": _l("Basically satisfied with the answer"),
                    "unsatisfied": _l("Still dissatisfied"),
                    "unreachable": _l("Could not be reached")}
RECTIFICATION_STATES = {"open": _l("Open: to verify and answer"),
                        "replied": _l("Answered, to call back and close"),
                        "closed": _l("Closed")}
# A task its department has decided; "stopped" was never worked on.
RATABLE_TASK = ("approved", "rejected", "closed")
CASE_ENDED = ("approved", "partly_approved", "rejected")
# Days, from the first rating, within which it can be changed.
CHANGE_DAYS = 7
COMMENT_LENGTH = 500
TEXT_LENGTH = 2000

PROBLEMS = {
    "level": (_l("Choose one of the five levels, from very satisfied to very dissatisfied."),
              422),
    "tags": (_l("Choose tags from the list only."), 422),
    "comment": (_l("The comment can be at most 500 characters."), 422),
    "target": (_l("Nothing of this case can be rated so."), 404),
    "not_decided": (_l("This matter can be rated once its department has decided it."), 409),
    "case_open": (_l("The whole case can be rated once it has ended."), 409),
    "too_late": (_l("A rating can be changed within 7 days of giving it; this one can no "
                    "longer be changed."), 409),
    "reply": (_l("Say what was verified, what was done about it, and the reply to the "
                 "applicant."), 422),
    "too_long": (_l("Each text can be at most 2,000 characters."), 422),
    "callback_result": (_l("Choose the result of the call-back."), 422),
    "not_replied": (_l("Answer the applicant before recording the call-back."), 409),
    "close_early": (_l("A rectification is closed once the applicant has been answered and "
                       "called back."), 409),
    "closed": (_l("This rectification is closed; nothing was changed."), 409),
}


class RatingRefused(Refusal):
    """A rating or a step of a rectification that does not fit; nothing was changed."""

    problems = PROBLEMS

    @property
    def status(self) -> int:
        """The HTTP status to answer with."""
        return PROBLEMS[self.code][1]


def is_bad(level: int) -> bool:
    """A bad rating (差评): the two lowest levels."""
    return level <= BAD_RATING


def case_department(session: Session, submission: Submission) -> str:
    """The department answering for the case's window service: its lead, else its first task's."""
    if submission.lead_department:
        return submission.lead_department
    return session.exec(select(Task.department_code).where(
        Task.submission_id == submission.id).order_by(col(Task.id))).first() or ""


def ratings_of(session: Session, submission: Submission) -> dict[str, Rating]:
    """The case's ratings by target ("case", "task:<id>")."""
    return {r.target: r for r in session.exec(select(Rating).where(
        Rating.submission_id == submission.id)).all()}


def rectifications_of(session: Session, submission: Submission) -> dict[int, list[Rectification]]:
    """The case's rectifications by rating id, oldest first."""
    found: dict[int, list[Rectification]] = {}
    for row in session.exec(select(Rectification).where(
            Rectification.submission_id == submission.id).order_by(col(Rectification.id))):
        found.setdefault(row.rating_id, []).append(row)
    return found


def changeable_until(rating: Rating) -> dt.datetime:
    """The moment after which a rating can no longer be changed."""
    return rating.created_at + dt.timedelta(days=CHANGE_DAYS)


def _target(session: Session, submission: Submission, key: str) -> Task | None:
    """The task a target names (None for the case); refused if it names nothing of the case."""
    if key == "case":
        if submission.status not in CASE_ENDED:
            raise RatingRefused("case_open")
        return None
    match = re.fullmatch(r"task:(\d{1,10})", key or "")
    if match is None or int(match[1]) > MAX_ROW_ID:
        raise RatingRefused("target")
    task = session.get(Task, int(match[1]))
    if task is None or task.submission_id != submission.id:
        raise RatingRefused("target")
    if task.status not in RATABLE_TASK:
        raise RatingRefused("not_decided")
    return task


def _values(level: str | int | None, tags: list[str], comment: str | None):
    text = str(level) if level is not None else ""
    if not re.fullmatch(r"[1-5]", text):
        raise RatingRefused("level")
    if any(tag not in TAGS for tag in tags):
        raise RatingRefused("tags")
    comment = (comment or "").strip()
    if len(comment) > COMMENT_LENGTH:
        raise RatingRefused("comment")
    # The tags in the list's order, each once.
    return int(text), [tag for tag in TAGS if tag in tags], comment or None


def _state(rating: Rating) -> dict:
    return {"level": rating.level, "tags": list(rating.tags), "comment": rating.comment,
            "channel": rating.channel, "recorded_by": rating.recorded_by}


def _emit(session: Session, event: str, department: str, payload: dict) -> None:
    """An event for the department's system, if it listens (the caller commits)."""
    if department in listening(session):
        session.add(OutboxEvent(delivery_id=secrets.token_hex(16), department_code=department,
                                event=event, payload=payload))


def _rating_payload(rating: Rating) -> dict:
    return {"rating_id": rating.id, "submission_id": rating.submission_id,
            "task_id": rating.task_id, "matter": rating.matter_code,
            "scope": "case" if rating.task_id is None else "task", "level": rating.level,
            "bad": is_bad(rating.level)}


def _rectification_payload(row: Rectification, rating: Rating) -> dict:
    return {"rectification_id": row.id, "rating_id": row.rating_id,
            "submission_id": row.submission_id, "task_id": rating.task_id,
            "matter": row.matter_code, "level": row.level, "status": row.status,
            "due_date": row.due_date.isoformat(), "callback_result": row.callback_result}


def rate(session: Session, submission: Submission, target: str, level: str | int | None,
         tags: list[str] | None = None, comment: str | None = None, *,
         clerk: str | None = None, rectification_days: int = 5,
         now: dt.datetime | None = None) -> Rating:
    """Give or change the rating of a task or of the case; a bad one opens a rectification.

    `clerk` records a rating given in person at the window. Commits.
    """
    task = _target(session, submission, target)
    level, tags, comment = _values(level, list(tags or []), comment)
    now = now or utc_now()
    for attempt in (1, 2):
        rating = session.exec(select(Rating).where(Rating.submission_id == submission.id,
                                                   Rating.target == target)).first()
        try:
            rating = _save(session, submission, target, task, rating, level, tags, comment,
                           clerk, rectification_days, now)
            session.commit()
            return rating
        except IntegrityError:
            # Two first ratings at once, or two bad ones each opening a rectification (the
            # database keeps one open per rating): the other was stored first; this one
            # changes it, and finds its rectification open.
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _save(session, submission, target, task, rating, level, tags, comment, clerk, days, now):
    channel = "window" if clerk else "online"
    if rating is None:
        department = task.department_code if task else case_department(session, submission)
        rating = Rating(submission_id=submission.id, target=target,
                        task_id=task.id if task else None, department_code=department,
                        matter_code=task.matter_code if task else None,
                        bundle_code=task.bundle_code if task else _bundle_code(session,
                                                                               submission),
                        level=level, tags=tags, comment=comment, channel=channel,
                        recorded_by=clerk, created_at=now, updated_at=now)
        session.add(rating)
        session.flush()
        before, action, event = None, "rate", "rating.created"
    else:
        if now > changeable_until(rating):
            raise RatingRefused("too_late")
        before, action, event = _state(rating), "rate_change", "rating.changed"
        rating.level, rating.tags, rating.comment = level, tags, comment
        rating.channel, rating.recorded_by, rating.updated_at = channel, clerk, now
        session.add(rating)
    session.add(RatingChange(rating_id=rating.id, level=level, tags=tags, comment=comment,
                             channel=channel, recorded_by=clerk, at=now))
    session.add(AuditEntry(actor=clerk or "applicant", action=action,
                           subject=f"rating:{rating.id}", before=before, after=_state(rating)))
    _emit(session, event, rating.department_code, _rating_payload(rating))
    if is_bad(level) and not session.exec(select(Rectification.id).where(
            Rectification.rating_id == rating.id, Rectification.status != "closed")).first():
        _open(session, rating, days, now)
    return rating


def _bundle_code(session: Session, submission: Submission) -> str:
    return session.exec(select(Task.bundle_code).where(
        Task.submission_id == submission.id)).first() or ""


def _open(session: Session, rating: Rating, days: int, now: dt.datetime) -> Rectification:
    opened_on = now.astimezone(CHINA_TZ).date()
    due = add_working_days(opened_on, days, holidays.overrides(session))
    row = Rectification(rating_id=rating.id, submission_id=rating.submission_id,
                        department_code=rating.department_code,
                        matter_code=rating.matter_code, bundle_code=rating.bundle_code,
                        level=rating.level, opened_at=now, due_date=due.date,
                        due_estimated=due.estimated)
    session.add(row)
    session.flush()
    session.add(AuditEntry(actor="system", action="rectification_open",
                           subject=f"rectification:{row.id}", before=None,
                           after={"rating": rating.id, "department": row.department_code,
                                  "level": row.level, "due_date": row.due_date.isoformat()}))
    _emit(session, "rectification.opened", row.department_code,
          _rectification_payload(row, rating))
    return row


def _rect_state(row: Rectification) -> dict:
    return {"status": row.status, "verified": row.verified, "fix": row.fix, "reply": row.reply,
            "callback_result": row.callback_result, "callback_note": row.callback_note}


def _step(session: Session, row: Rectification, actor: str, action: str, event: str,
          before: dict) -> Rectification:
    session.add(row)
    session.add(AuditEntry(actor=actor, action=action, subject=f"rectification:{row.id}",
                           before=before, after=_rect_state(row)))
    _emit(session, event, row.department_code,
          _rectification_payload(row, session.get(Rating, row.rating_id)))
    session.commit()
    return row


def _text(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > TEXT_LENGTH:
        raise RatingRefused("too_long")
    return value


def respond(session: Session, row: Rectification, verified: str | None, fix: str | None,
            reply: str | None, actor: str) -> Rectification:
    """Record what was verified, the fix and the reply the applicant reads; again until closed."""
    if row.status == "closed":
        raise RatingRefused("closed")
    texts = [_text(verified), _text(fix), _text(reply)]
    if not all(texts):
        raise RatingRefused("reply")
    before = _rect_state(row)
    row.verified, row.fix, row.reply = texts
    row.status, row.replied_at, row.replied_by = "replied", utc_now(), actor
    return _step(session, row, actor, "rectification_reply", "rectification.replied", before)


def call_back(session: Session, row: Rectification, result: str | None, note: str | None,
              actor: str) -> Rectification:
    """Record the call-back (回访) to the applicant and its result."""
    if row.status == "closed":
        raise RatingRefused("closed")
    if result not in CALLBACK_RESULTS:
        raise RatingRefused("callback_result")
    note = _text(note)
    if row.status != "replied":
        raise RatingRefused("not_replied")
    before = _rect_state(row)
    row.callback_result, row.callback_note = result, note or None
    row.called_back_at, row.called_back_by = utc_now(), actor
    return _step(session, row, actor, "rectification_callback", "rectification.called_back",
                 before)


def close(session: Session, row: Rectification, actor: str) -> Rectification:
    """Close a rectification the applicant has been answered on and called back about."""
    if row.status == "closed":
        raise RatingRefused("closed")
    if not (row.reply and row.callback_result):
        raise RatingRefused("close_early")
    before = _rect_state(row)
    row.status, row.closed_at, row.closed_by = "closed", utc_now(), actor
    return _step(session, row, actor, "rectification_close", "rectification.closed", before)


def overdue(session: Session, department: str, today: dt.date | None = None) -> int:
    """How many of a department's rectifications are not closed and past their due date."""
    return session.exec(select(func.count()).select_from(Rectification).where(
        Rectification.department_code == department,
        col(Rectification.status).in_(("open", "replied")),
        col(Rectification.due_date) < (today or china_today()))).one()
