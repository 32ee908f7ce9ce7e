"""Decisions on tasks: accept (受理), approve with a certificate, reject with a reason.

A task moves waiting → pending → accepted → approved, or to rejected from
pending or accepted. Approving unlocks the tasks that waited for it once all
they wait for is approved; rejecting stops every task that waited for it,
directly or not, saying which matter was refused, and tells the departments
working in parallel that the case cannot complete: they may still decide, or
close their task with a reason. The submission's status follows its tasks:
approved when all are; "ending" while a refusal leaves tasks open; once nothing
is open, "partly_approved" if some matter was approved (its certificates are then
released), else "rejected".

A correction (补正) reaches every task whose slice holds the corrected field, not
only the one that asked: one case, one truth. The others are told, before and after.

A decision that does not fit the task's state is refused with the reason and
changes nothing (the API answers 409). Every change, including the ones that
follow from it (unlocked, stopped), is appended to the audit log in the same
transaction as the change itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlmodel import Session, col, select

from onething.cases import clock, events, holidays
from onething.cases.forms import fields_of, get_path, set_path
from onething.cases.refusals import Refusal
from onething.catalog.typed import half_width
from onething.catalog.workdays import china_today, days_paused
from onething.composer.compose import compose_submitted
from onething.publishing.versions import bundle_of, get_version
from onething.registry.service import other_holder, record_issued
from onething.storage.db import lock_case
from onething.storage.models import TASK_DONE, AuditEntry, Submission, Task, utc_now

ACTIONS = ("accept", "approve", "reject", "supplement", "close")
# From which states each decision may be taken. Closing is only for a case that cannot
# complete any more (another matter refused): see `refused_matters`.
ALLOWED = {"accept": {"pending"}, "approve": {"accepted"}, "reject": {"pending", "accepted"},
           "supplement": {"pending", "accepted"},
           "close": {"waiting", "pending", "accepted", "supplement"}}
FINAL = set(TASK_DONE)
# The submission's statuses once nothing is open any more.
CASE_ENDED = ("approved", "partly_approved", "rejected")
# The longest certificate number and reason the task table holds.
CERTIFICATE_LENGTH = 100
REASON_LENGTH = 2000


class DecisionRefused(Refusal):
    """A decision that does not fit: the task's state, or a missing certificate or reason."""

    def __init__(self, code: str, task: Task | None = None):
        super().__init__(code)
        self.task = task
        if task is not None:
            self.args = (f"{code} (task is {task.status})",)


def snapshot(task: Task) -> dict:
    """What the audit log keeps of a task's state."""
    state = {"status": task.status, "certificate_number": task.certificate_number,
             "reason": task.reason, "supplement": task.supplement}
    if task.handover:
        # Values handed over (办结产出): what this approval gave, or what it received.
        state["handover"] = task.handover.get("values") or {
            key: task.slice_data.get(key) for key in task.handover.get("receives", [])
            if key in task.slice_data}
    return state


def _log(session: Session, actor: str, action: str, task: Task, before: dict) -> None:
    session.add(AuditEntry(actor=actor, action=action, subject=f"task:{task.id}",
                           before=before, after=snapshot(task)))


def owes_material(task: Task) -> bool:
    """Whether the applicant still owes a material of the task's slice accepted as
    missing (容缺): the task is not approved until it is handed in."""
    return any(isinstance(m, dict) and m.get("state") == "deferred"
               for m in task.slice_materials or [])


def correctable_fields(session: Session, task: Task, composition=None) -> list[str]:
    """The paths a correction (补正) of this task may name: the one form's fields, whole, as
    the applicant's correction page asks them again, that the task's slice holds.

    A value another matter handed over is not the applicant's to correct, nor is a part
    of a field (a row of a group, a part of an address): the page asks whole fields.
    """
    if composition is None:
        submission = session.get(Submission, task.submission_id)
        # As workflow.submission_composition composes it (which imports this module).
        composition = compose_submitted(bundle_of(get_version(
            session, submission.bundle_version_id)), submission.answers)
    handed = set((task.handover or {}).get("receives", []))
    return [entry["path"] for entry in fields_of(composition.layout)
            if get_path(task.slice_data, entry["path"]) is not None
            and entry["path"] not in handed]


def decide(session: Session, task: Task, action: str, actor: str, *,
           certificate_number: str | None = None, reason: str | None = None,
           fields: list[str] | None = None, materials: list[str] | None = None,
           certificate_file: dict | None = None, produced: dict | None = None,
           record: Callable[[Task], None] | None = None,
           seen: str | None = None) -> Task:
    """Take one decision on a task, with everything that follows from it; commit.

    `seen`, if given, is the task's `updated_at` (ISO) when the clerk's page was drawn: a
    task changed since (a colleague's decision, a correction come back, another matter
    refused) refuses the decision, taken on what it no longer is. `record`, if given, is
    called with the decided task just before the commit, to add what must be stored with
    the decision or not at all (the API's answer to its key).

    A supplement (补正) names fields (paths of the task's slice) and materials
    (ids of its slice) for the applicant to correct; anything else is refused.
    Approving a task whose matter yields values (办结产出) takes them (`produced`,
    checked by the caller) and hands them to the tasks that receive them.
    """
    if action not in ACTIONS:
        raise DecisionRefused("unknown_action")
    if certificate_number:
        # As staff type it: full-width letters and digits (an IME left on) are the same
        # number, and the registry and the QR code must find it as printed.
        certificate_number = half_width(certificate_number)
    if seen is not None and seen != task.updated_at.isoformat():
        raise DecisionRefused("changed", task)
    if task.status not in ALLOWED[action]:
        raise DecisionRefused("not_decidable", task)
    if action in ("approve", "reject", "close") and task.special_procedure:
        # Its days are not counted yet: a decision first, and the clock would stand still
        # on a task that has ended.
        raise DecisionRefused("special_procedure_decision", task)
    if action == "supplement":
        fields, materials = list(fields or []), list(materials or [])
        if not (fields or materials) or (set(materials) - reuploadable(task)) or (
                fields and set(fields) - set(correctable_fields(session, task))):
            raise DecisionRefused("supplement_items")
        if task.special_procedure:
            raise DecisionRefused("special_procedure_open")
    if action == "approve" and not (certificate_number or "").strip():
        raise DecisionRefused("certificate_number")
    # The columns' lengths, checked here so both databases refuse alike (SQLite would
    # store a megabyte; PostgreSQL would fail deep in the transaction).
    if len((certificate_number or "").strip()) > CERTIFICATE_LENGTH:
        raise DecisionRefused("certificate_too_long")
    if len((reason or "").strip()) > REASON_LENGTH:
        raise DecisionRefused("reason_too_long")
    yields = (task.handover or {}).get("produces", [])
    if action == "approve" and yields and not all(
            (produced or {}).get(key) not in (None, "") for key in yields):
        raise DecisionRefused("produced")
    if action == "approve" and owes_material(task):
        # 容缺受理 accepts a case without a material, never approves it without: the
        # applicant hands it in first (their receipt says so), or the matter ends.
        raise DecisionRefused("material_owed")
    code = (produced or {}).get("entity_uscc") if action == "approve" else None
    if isinstance(code, str) and other_holder(session, code,
                                              (task.slice_data or {}).get("entity_name")):
        # The business being registered is given a code the registry holds for another:
        # a typo that would hand one company's licences to the next.
        raise DecisionRefused("code_taken")
    if action in ("reject", "close", "supplement") and not (reason or "").strip():
        # A refusal the applicant can act on; a correction said once, whole (一次性告知).
        raise DecisionRefused({"reject": "reason", "close": "close_reason",
                               "supplement": "supplement_note"}[action])
    # Decisions on one case take turns from here to their commit: two departments closing
    # the last two open tasks at once would each see the other's still open, and the
    # case would never end.
    lock_case(session, task.submission_id)
    siblings = session.exec(select(Task).where(
        Task.submission_id == task.submission_id)).all()
    if action == "close" and not refused_matters(siblings):
        # A case that can still complete is decided, not closed.
        session.rollback()
        raise DecisionRefused("close_not_refused", task)
    handed = ({"handover": {**task.handover, "values": {key: produced[key] for key in yields}}}
              if action == "approve" and yields else {})
    try:
        before = snapshot(task)
        now = utc_now()
        taken = _taken(session, task)
        values = {"supplement": {"status": "supplement", "supplement": {
                      "fields": fields, "materials": materials, "note": (reason or "").strip(),
                      "from": before["status"]}, "supplements": col(Task.supplements) + 1},
                  "accept": {"status": "accepted"},
                  "approve": {"status": "approved", "decided_at": now,
                              "certificate_number": (certificate_number or "").strip(),
                              "certificate_file": certificate_file,
                              **taken, **handed},
                  "reject": {"status": "rejected", "decided_at": now,
                             "reason": (reason or "").strip(),
                             # 不予受理 before acceptance, 不予许可 after examination.
                             "not_accepted": before["status"] == "pending", **taken},
                  "close": {"status": "closed", "decided_at": now, "supplement": None,
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
        if action == "supplement":
            clock.pause(session, task)  # until the resubmission
        changed = [task]
        told: list[Task] = []
        if action == "approve":
            if yields:
                _hand_over(session, task, siblings)
            _register_certificate(session, task)
            changed += _unlock(session, siblings)
        elif action == "reject":
            changed += _stop(session, siblings, task)
            told = _tell_refused(session, siblings, task)
        _aggregate(session, task.submission_id, siblings)
        if action == "approve":
            _issue_licence(session, task.submission_id)
        events.enqueue(session, "task.status_changed", changed)
        events.enqueue(session, "task.case_refused", told,
                       extra={"refused_matter": task.matter_code})
        if record is not None:
            record(task)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return task


def _taken(session: Session, task: Task) -> dict:
    # For the statistics: the days the clock ran to today's decision, pauses excluded,
    # counted as the limit counts, and whether today is within the due date.
    if task.clock_started_on is None:
        return {}
    today = china_today()
    days = days_paused(task.clock_started_on, today, task.counting,
                       holidays.overrides(session)) - task.paused_days
    return {"days_taken": max(days, 0), "on_time": today <= task.due_date}


def _issue_licence(session: Session, submission_id: int) -> None:
    # 一证准营: the last approval of a 一业一证 case issues its licence, in the same
    # transaction (a licence never exists for a case that is not approved).
    from onething.cases import licences
    from onething.publishing.versions import bundle_of, get_version

    submission = session.get(Submission, submission_id)
    if submission.status != "approved":
        return
    licences.issue(session, submission, bundle_of(get_version(session,
                                                              submission.bundle_version_id)))


def _unlock(session: Session, tasks: list[Task]) -> list[Task]:
    # A matter is approved when every task of it is: a joint matter (联合办理) needs each
    # of its departments' approval.
    approved = ({t.matter_code for t in tasks if t.status == "approved"}
                - {t.matter_code for t in tasks if t.status != "approved"})
    unlocked = []
    for waiting in tasks:
        if waiting.status == "waiting" and set(waiting.waits_for) <= approved:
            before = snapshot(waiting)
            waiting.status = "pending"
            session.add(waiting)
            _log(session, "system", "unlock", waiting, before)
            clock.start(session, waiting)
            unlocked.append(waiting)
    return unlocked


def _hand_over(session: Session, task: Task, tasks: list[Task]) -> None:
    # The values join the submission's data and the slices of the tasks that receive them,
    # before those tasks open.
    values = task.handover["values"]
    submission = session.get(Submission, task.submission_id)
    data = copy.deepcopy(submission.data)
    data.update(values)
    submission.data = data
    session.add(submission)
    for other in tasks:
        receives = set((other.handover or {}).get("receives", [])) & set(values)
        # A task decided already keeps the slice it was decided on.
        if other is task or not receives or other.status in FINAL:
            continue
        before = snapshot(other)
        other.slice_data = {**other.slice_data, **{key: values[key] for key in receives}}
        session.add(other)
        _log(session, "system", "hand_over", other, before)


def _register_certificate(session: Session, task: Task) -> None:
    # A certificate issued here enters the licence registry (电子证照库) with trust A in the
    # approval's transaction, so the next case of its holder finds it at once.
    submission = session.get(Submission, task.submission_id)
    version = get_version(session, submission.bundle_version_id)
    catalog = bundle_of(version).catalog if version is not None else None
    matter = catalog.matters.get(task.matter_code) if catalog is not None else None
    code = (matter.data.get("result") or {}).get("licence_code") if matter else None
    if not code:
        return
    department = catalog.departments.get(task.department_code)
    issuer = (department.data.get("name") or {}).get("zh-Hans") if department else None
    licence = record_issued(
        session, type_code=code, number=task.certificate_number, data=submission.data,
        issuer=issuer or task.department_code, task_id=task.id,
        file=(task.certificate_file or {}).get("file"), today=china_today())
    if licence is not None:
        session.flush()
        session.add(AuditEntry(actor="system", action="licence_registered",
                               subject=f"task:{task.id}",
                               before={}, after={"licence": licence.id, "type": code,
                                                 "number": licence.number}))


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
            task.supplement = None  # nothing left to correct for
            session.add(task)
            _log(session, "system", "stop", task, before)
            stopped.append(task)
    return stopped


def refused_matters(tasks: list[Task]) -> list[str]:
    """The matters of a case refused so far: with one, the case cannot complete."""
    return list(dict.fromkeys(t.matter_code for t in tasks if t.status == "rejected"))


def refused_elsewhere(session: Session, task: Task) -> list[str]:
    """The matters of the task's case another task of it refused (names only, never another
    slice): with one, the case cannot complete, and an open task may be closed."""
    return sorted(set(session.exec(select(Task.matter_code).where(
        Task.submission_id == task.submission_id, Task.status == "rejected",
        Task.id != task.id)).all()))


def reuploadable(task: Task) -> set[str]:
    """The materials a correction may ask for again: only a file the applicant handed in,
    not a form drawn from the one form, a licence from shared data, nor a commitment."""
    return {m["id"] for m in task.slice_materials if m.get("state") == "uploaded"}


def _tell_refused(session: Session, tasks: list[Task], rejected: Task) -> list[Task]:
    # The departments still working in parallel: the case will not complete, whatever they
    # decide. Their task stays theirs to finish or close; the audit entry is their notice.
    told = []
    for task in tasks:
        if task is rejected or task.status in FINAL:
            continue
        state = snapshot(task)
        session.add(AuditEntry(actor="system", action="case_refused", subject=f"task:{task.id}",
                               before=state, after={**state, "refused": rejected.matter_code}))
        # A change of the task's: a department's system syncing by updated_at sees it
        # (the API shows the case's refused matters), and may close the task.
        task.updated_at = utc_now()
        told.append(task)
    return told


def case_status(tasks: list[Task]) -> str:
    """What a submission's tasks make of it (see the module's docstring)."""
    statuses = {t.status for t in tasks}
    if statuses == {"approved"}:
        return "approved"
    if "rejected" not in statuses:
        return "in_progress"
    if statuses - FINAL:
        return "ending"
    return "partly_approved" if "approved" in statuses else "rejected"


def _aggregate(session: Session, submission_id: int, tasks: list[Task]) -> None:
    submission = session.get(Submission, submission_id)
    status = case_status(tasks)
    if submission.status != status:
        before = {"status": submission.status}
        submission.status = status
        session.add(submission)
        session.add(AuditEntry(actor="system", action="status", subject=f"submission:"
                               f"{submission.id}", before=before, after={"status": status}))


def resubmit(session: Session, task: Task, submission: Submission, data: dict,
             materials: dict, actor: str, slices: dict | None = None) -> Task:
    """The applicant's corrections: update the submission and every slice holding them; commit.

    Only what the request named may change (the caller checks the values). The
    task goes back to where it was when the correction was asked for. Every other
    task whose slice holds a corrected field gets the new value too, decided or not
    (a decision is not reopened: its department is told, before and after, in the
    audit log and a `task.corrected` event). `slices` maps (matter, department) to
    each step's Slice, which converts units and picks columns as at submission; without
    one a slice takes the value as it is.
    """
    request = task.supplement
    if task.status != "supplement" or not request:
        raise DecisionRefused("not_decidable", task)
    try:
        # As in decide: corrections of two tasks of one case at once would otherwise each
        # write the submission's data without the other's.
        lock_case(session, submission.id)
        session.refresh(submission)
        session.refresh(task)
        if task.status != "supplement" or task.supplement != request:
            raise DecisionRefused("not_decidable", task)
        before = snapshot(task)
        merged = copy.deepcopy(submission.data)
        old_values = {path: get_path(submission.data, path) for path in request["fields"]}
        for path in request["fields"]:
            set_path(merged, path, get_path(data, path))
        submission.data = merged
        submission.materials = {**submission.materials,
                                **{mid: materials[mid] for mid in request["materials"]}}
        corrected = {path: get_path(merged, path) for path in request["fields"]}
        if any(old_values[path] != corrected[path] for path in corrected):
            session.add(AuditEntry(actor=actor, action="correct",
                                   subject=f"submission:{submission.id}",
                                   before={"fields": old_values}, after={"fields": corrected}))
        told = []
        siblings = session.exec(select(Task).where(
            Task.submission_id == task.submission_id)).all()
        for other in siblings:
            change = _correct_slice(other, merged, request["fields"],
                                    (slices or {}).get((other.matter_code, other.department_code)))
            if other is task:
                # The department that asked sees what came back: each value before and
                # after, and the files handed in again.
                if change or request["materials"]:
                    state = snapshot(task)
                    session.add(AuditEntry(
                        actor=actor, action="correct", subject=f"task:{task.id}",
                        before={**state, "fields": {p: old for p, (old, _) in change.items()}},
                        after={**state, "fields": {p: new for p, (_, new) in change.items()},
                               "requested_by": task.matter_code,
                               "materials": list(request["materials"])}))
                continue
            # A file handed in again reaches every slice holding that material, as a
            # corrected value does: one case, one set of materials.
            handed = _replace_files(other, request["materials"], materials)
            if not (change or handed):
                continue
            state = snapshot(other)
            session.add(other)
            session.add(AuditEntry(
                actor="system", action="correct", subject=f"task:{other.id}",
                before={**state, "fields": {path: old for path, (old, _) in change.items()}},
                after={**state, "fields": {path: new for path, (_, new) in change.items()},
                       "requested_by": task.matter_code,
                       **({"materials": handed} if handed else {})}))
            told.append((other, sorted(change), handed))
        _replace_files(task, request["materials"], materials)
        task.status, task.supplement = request["from"], None
        session.add_all([submission, task])
        _log(session, actor, "resubmit", task, before)
        clock.resume(session, task, "resubmit", actor)
        events.enqueue(session, "task.status_changed", [task])
        for other, paths, handed in told:
            events.enqueue(session, "task.corrected", [other],
                           extra={"fields": paths, "materials": handed})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return task


def supply_deferred(session: Session, submission: Submission, material_id: str,
                    entry: dict, actor: str) -> list[Task]:
    """Hand in a material accepted as owed (容缺受理): it reaches every open task that
    needs it, audited, with an event; commit. Refused (DecisionRefused) when the material
    is not owed, or no task that needs it is still open."""
    lock_case(session, submission.id)
    session.refresh(submission)
    owed = (submission.materials or {}).get(material_id)
    if not isinstance(owed, dict) or owed.get("state") != "deferred":
        session.rollback()
        raise DecisionRefused("not_owed")
    tasks = session.exec(select(Task).where(Task.submission_id == submission.id)).all()
    needing = [t for t in tasks if t.status not in FINAL
               and any(m.get("id") == material_id for m in t.slice_materials)]
    if not needing:
        session.rollback()
        raise DecisionRefused("not_owed")
    try:
        materials = copy.deepcopy(submission.materials)
        materials[material_id] = entry
        submission.materials = materials
        session.add(submission)
        for task in needing:
            before = snapshot(task)
            task.slice_materials = [{"id": material_id, **entry} if m.get("id") == material_id
                                    else m for m in task.slice_materials]
            session.add(task)
            session.add(AuditEntry(actor=actor, action="supply_deferred",
                                   subject=f"task:{task.id}", before=before,
                                   after={**snapshot(task), "material": material_id}))
        session.flush()
        events.enqueue(session, "task.material_supplied", needing,
                       extra={"material": material_id})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return needing


def _replace_files(task: Task, ids: list[str], materials: dict) -> list[str]:
    """Put the files handed in again in the task's slice, in place; the ids it holds."""
    held = [m["id"] for m in task.slice_materials if m["id"] in ids]
    if held:
        task.slice_materials = [{"id": m["id"], **materials[m["id"]]} if m["id"] in ids else m
                                for m in task.slice_materials]
    return held


def _correct_slice(task: Task, data: dict, paths: list[str], step_slice=None) -> dict:
    # The corrected values this task's slice holds, set in place: {path: (old, new)} of those
    # that changed. A slice holds a path if it holds the path's field (or a group above it).
    received = set((task.handover or {}).get("receives", []))
    projected = step_slice.project(data) if step_slice is not None else data
    slice_data = copy.deepcopy(task.slice_data)
    change = {}
    for path in paths:
        old = get_path(slice_data, path)
        if old is None or path.split(".")[0] in received:
            continue
        new = get_path(projected, path)
        if new != old:
            set_path(slice_data, path, new)
            change[path] = (old, new)
    if change:
        task.slice_data = slice_data
    return change


def audit_of(session: Session, task: Task) -> list[AuditEntry]:
    """The audit log of a task, oldest first."""
    return list(session.exec(select(AuditEntry).where(AuditEntry.subject == f"task:{task.id}")
                             .order_by(AuditEntry.id)).all())


DECISION_PROBLEMS = {
    "not_owed": _l("This material is not owed any more: it was handed in already, or every "
                   "department that needed it has decided."),
    "not_decidable": _l("This task cannot take that decision in its present state; nothing "
                        "was changed."),
    "changed": _l("This task changed since this page was opened, so nothing was decided: "
                  "reload the page to read it as it is now, then decide."),
    "certificate_number": _l("Approving needs the certificate number."),
    "produced": _l("Check the values this matter hands over to the others, below."),
    "reason": _l("Refusing needs a reason the applicant can act on."),
    "close_reason": _l("Closing needs a reason: say why this case cannot complete."),
    "supplement_note": _l("Say what to correct and how, so that the applicant can put "
                          "everything right at once (一次性告知)."),
    "material_owed": _l("The applicant still owes a material accepted as missing "
                        "(容缺受理), marked below: approve once it is handed in, or refuse "
                        "if it does not come in time. Nothing was changed."),
    "code_taken": _l("This unified social credit code is already held by another business "
                     "in the licence registry: check it against the registration. Nothing "
                     "was changed."),
    "certificate_too_long": _l("The certificate number is at most 100 characters."),
    "reason_too_long": _l("A reason or a note is at most 2,000 characters: shorten it. "
                          "Nothing was changed, and what you typed is kept below."),
    "unknown_action": _l("Unknown decision."),
    "supplement_items": _l("A correction names at least one field or material of this task, "
                           "and only those."),
    "special_procedure_open": clock.PROBLEMS["special_procedure_open"],
    "special_procedure_decision": _l("End the special procedure before deciding."),
    "close_not_refused": _l("Only a case that cannot complete (another matter was refused) "
                            "can be closed; decide this task instead."),
}


DecisionRefused.problems = DECISION_PROBLEMS


def decision_problem(refused) -> str:
    """Why a decision was refused, localized."""
    return str(DECISION_PROBLEMS.get(refused.code, refused.code))
