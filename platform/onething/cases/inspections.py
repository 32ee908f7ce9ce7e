"""一同核查: one on-site inspection shared by the departments whose matters need one.

The bundle names the matters inspected together. The lead department (牵头部门) sets the
date, time and place; the applicant sees one appointment on the status page. Each inspecting
department then records its own findings, pass or fail with notes, against its own matter:
a department not in the inspection is refused. Every step is in the audit log.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from onething.cases.refusals import Refusal
from onething.catalog.workdays import CHINA_TZ
from onething.storage.models import (
    AuditEntry,
    InspectionFinding,
    JointInspection,
    Submission,
    Task,
    utc_now,
)

NOTES_LENGTH = 2000
PLACE_LENGTH = 200


PROBLEMS = {
    "none": _l("This case has no joint inspection."),
    "not_lead": _l("Only the lead department schedules the joint inspection."),
    "when": _l("Give the inspection's date and time, in the future (Beijing time)."),
    "place": _l("Give the place of the inspection (at most 200 characters)."),
    "recorded": _l("Findings are recorded already: the inspection can no longer move."),
    "not_scheduled": _l("The joint inspection is not scheduled yet."),
    "not_inspecting": _l("Your department is not part of this joint inspection."),
    "outcome": _l("Say whether the premises passed or failed; notes at most 2,000 characters."),
    "twice": _l("Your department's findings are recorded already."),
}


class InspectionRefused(Refusal):
    """A scheduling or finding that does not fit; nothing changed."""

    problems = PROBLEMS


def inspecting_departments(bundle, tasks: list[Task]) -> list[str]:
    """The case's departments that inspect: those of its tasks of the inspected matters."""
    inspected = set(bundle.inspected)
    return list(dict.fromkeys(t.department_code for t in tasks
                              if t.matter_code in inspected and t.status != "stopped"))


def inspection_of(session: Session, submission_id: int) -> JointInspection | None:
    """The case's joint inspection, once scheduled."""
    return session.exec(select(JointInspection).where(
        JointInspection.submission_id == submission_id)).first()


def findings_of(session: Session,
                inspection: JointInspection | None) -> dict[str, InspectionFinding]:
    """Each department's findings, by department."""
    if inspection is None:
        return {}
    return {f.department_code: f for f in session.exec(select(InspectionFinding).where(
        InspectionFinding.inspection_id == inspection.id)).all()}


def parse_when(text: str | None) -> dt.datetime | None:
    """A datetime-local value ("2026-12-03T10:00"), read as Beijing time."""
    try:
        when = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    return when.replace(tzinfo=CHINA_TZ) if when.tzinfo is None else when


def schedule(session: Session, submission: Submission, bundle, department: str, actor: str,
             when: dt.datetime | None, place: str | None) -> JointInspection:
    """Set (or move, before any findings) the joint inspection of a case; commit."""
    tasks = list(session.exec(select(Task).where(Task.submission_id == submission.id)).all())
    departments = inspecting_departments(bundle, tasks)
    if len(departments) == 0:
        raise InspectionRefused("none")
    if department != submission.lead_department:
        raise InspectionRefused("not_lead")
    if when is None or when <= utc_now():
        raise InspectionRefused("when")
    place = (place or "").strip()
    if not place or len(place) > PLACE_LENGTH:
        raise InspectionRefused("place")
    inspection = inspection_of(session, submission.id)
    if inspection is not None and findings_of(session, inspection):
        raise InspectionRefused("recorded")
    before = None if inspection is None else _state(inspection)
    try:
        if inspection is None:
            inspection = JointInspection(submission_id=submission.id, departments=departments,
                                         scheduled_for=when, place=place, scheduled_by=actor)
        else:
            inspection.scheduled_for, inspection.place = when, place
            inspection.departments, inspection.scheduled_by = departments, actor
            inspection.scheduled_at = utc_now()
        session.add(inspection)
        session.flush()
        session.add(AuditEntry(actor=actor, action="inspection_scheduled",
                               subject=f"submission:{submission.id}", before=before,
                               after=_state(inspection)))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return inspection


def record(session: Session, inspection: JointInspection | None, department: str, actor: str,
           passed: bool | None, notes: str | None) -> InspectionFinding:
    """One department's findings at the joint inspection; commit."""
    if inspection is None:
        raise InspectionRefused("not_scheduled")
    if department not in inspection.departments:
        raise InspectionRefused("not_inspecting")
    notes = (notes or "").strip()
    if passed is None or len(notes) > NOTES_LENGTH:
        raise InspectionRefused("outcome")
    if department in findings_of(session, inspection):
        raise InspectionRefused("twice")
    try:
        finding = InspectionFinding(inspection_id=inspection.id, department_code=department,
                                    passed=passed, notes=notes, recorded_by=actor)
        session.add(finding)
        session.add(AuditEntry(actor=actor, action="inspection_findings",
                               subject=f"submission:{inspection.submission_id}", before=None,
                               after={"department": department, "passed": passed,
                                      "notes": notes}))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return finding


def _state(inspection: JointInspection) -> dict:
    return {"scheduled_for": inspection.scheduled_for.isoformat(), "place": inspection.place,
            "departments": list(inspection.departments)}
