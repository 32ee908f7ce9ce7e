"""一证准营: one comprehensive licence (行业综合许可证) for a 一业一证 case, and revoked permits.

When the last matter of a one_industry_one_licence case is approved, the licence is issued in
the same transaction: its number from the bundle's per-industry pattern, the holder's name
and the industry, valid for the bundle's years. It lists the case's permits (each an approved
task, which keeps its own certificate number) and is verified on a public page that shows
only the holder's name, the validity and the permits. A department may revoke its own permit,
with a reason: the permit stays recorded with its task, the revocation is audited, and the
licence reads partly revoked (or revoked, once no permit stands).

The licence enters the electronic-licence registry (电子证照库) with trust A when it is
issued, as every certificate issued here does (type `industry-licence`, held by the
case's credit code); a revoked permit revokes it there, since it is no longer valid in full.
"""

from __future__ import annotations

import datetime as dt
import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from onething.cases import events
from onething.cases.refusals import Refusal
from onething.catalog.workdays import china_today
from onething.registry import service as registry
from onething.storage.db import lock_case
from onething.storage.models import (
    AuditEntry,
    IndustryLicence,
    LicenceSequence,
    PermitRevocation,
    Submission,
    Task,
    utc_now,
)

REASON_LENGTH = 2000
# Results that are no permit of the licence: a verification of a licence held already.
NOT_PERMITS = ("other", "none")


PROBLEMS = {
    "reason": _l("Revoking a permit needs a reason the holder can act on."),
    "too_long": _l("A reason is at most 2,000 characters."),
    "not_approved": _l("Only an approved permit can be revoked."),
    "revoked": _l("This permit is revoked already."),
}


class RevocationRefused(Refusal):
    """A revocation that does not fit: no reason, a task not approved, revoked already."""

    problems = PROBLEMS


def format_number(pattern: str, *, year: int, division: str, seq: int) -> str:
    """The pattern filled: {year}, {division} and {seq:N} (N digits, zero-padded)."""
    def part(match: re.Match) -> str:
        name = match.group(1)
        if name == "year":
            return f"{year:04d}"
        if name == "division":
            return division
        return f"{seq:0{int(name.split(':')[1])}d}"
    return re.sub(r"\{(year|division|seq:[1-9])\}", part, pattern)


def _next_seq(session: Session, bundle_code: str, year: int) -> int:
    # A counter row per industry (or matter) and year, drawn in the case's transaction by
    # one statement: the first number of a year inserts the row, every later one bumps it.
    # Two cases approved at once take turns on the row; an update-then-insert let both
    # find no row for a new year and both insert (PostgreSQL refused the second).
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    table = LicenceSequence.__table__
    statement = insert(table).values(bundle_code=bundle_code, year=year, last=1)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.bundle_code, table.c.year],
        set_={"last": table.c.last + 1}).returning(table.c.last)
    return session.execute(statement).scalar_one()


def issue(session: Session, submission: Submission, bundle) -> IndustryLicence | None:
    """Issue the case's licence, if its bundle is 一业一证 and it has none yet (no commit)."""
    licence = bundle.licence
    if bundle.data.get("kind") != "one_industry_one_licence" or licence is None:
        return None
    found = session.exec(select(IndustryLicence).where(
        IndustryLicence.submission_id == submission.id)).first()
    if found is not None:
        return found
    today = china_today()
    number = format_number(licence["number_pattern"], year=today.year,
                           division=licence["division"],
                           seq=_next_seq(session, bundle.code, today.year))
    issuer = bundle.catalog.departments.get(licence["issuer"])
    try:
        valid_until = today.replace(year=today.year + licence["validity_years"])
    except ValueError:  # 29 February
        valid_until = today.replace(year=today.year + licence["validity_years"], day=28)
    issued = IndustryLicence(
        number=number, submission_id=submission.id, bundle_code=bundle.code,
        name=licence["name"], industry=licence["industry"],
        issuer=issuer.data["name"] if issuer else licence["issuer"],
        holder=str(submission.data.get("entity_name") or "")[:200],
        valid_until=valid_until - dt.timedelta(days=1))
    session.add(issued)
    session.flush()
    session.add(AuditEntry(actor="system", action="licence_issued",
                           subject=f"submission:{submission.id}", before=None,
                           after={"licence": number}))
    _register(session, submission, issued)
    return issued


def _hans(text) -> str:
    # The registry keeps a licence as issued, in the hall's language (zh-Hans).
    return str(text.get("zh-Hans", "") if isinstance(text, dict) else text or "")


# The registry's licence type of a comprehensive licence (catalog/licences.py).
LICENCE_TYPE = "industry-licence"


def _register(session: Session, submission: Submission, issued: IndustryLicence) -> None:
    # Into the registry with trust A, as every certificate issued here (issue 20): the
    # holder's next case finds it. Its permits are the case's approved certificates.
    numbers = [task.certificate_number for task in session.exec(
        select(Task).where(Task.submission_id == submission.id, Task.status == "approved")
        .order_by(col(Task.id))).all() if task.certificate_number]
    entered = registry.record_issued(
        session, type_code=LICENCE_TYPE, number=issued.number, data=submission.data or {},
        issuer=_hans(issued.issuer), task_id=None, file=None, today=china_today(),
        expires_on=issued.valid_until,
        items={"industry": _hans(issued.industry), "permits": numbers})
    if entered is not None:
        session.flush()
        session.add(AuditEntry(actor="system", action="licence_registered",
                               subject=f"submission:{submission.id}", before={},
                               after={"licence": entered.id, "type": LICENCE_TYPE,
                                      "number": entered.number}))


def permits(session: Session, licence: IndustryLicence, catalog) -> list[dict]:
    """The licence's permits: matter, department, certificate number, revoked or not."""
    tasks = session.exec(select(Task).where(Task.submission_id == licence.submission_id,
                                            Task.status == "approved")
                         .order_by(col(Task.id))).all()
    revoked = {r.task_id: r for r in session.exec(select(PermitRevocation).where(
        col(PermitRevocation.task_id).in_([t.id for t in tasks]))).all()} if tasks else {}
    found = []
    for task in tasks:
        matter = catalog.matters.get(task.matter_code)
        if matter is not None and matter.data["result"]["type"] in NOT_PERMITS:
            continue
        found.append({"task": task, "matter": matter, "department": task.department_code,
                      "number": task.certificate_number,
                      "name": matter.data["result"]["name"] if matter else task.matter_code,
                      "issued_on": task.decided_at, "valid_until": licence.valid_until,
                      "revocation": revoked.get(task.id)})
    return found


def state(licence: IndustryLicence, listed: list[dict], today: dt.date | None = None) -> str:
    """valid, partly_revoked, revoked or expired."""
    if (today or china_today()) > licence.valid_until:
        return "expired"
    standing = [p for p in listed if p["revocation"] is None]
    if not standing:
        return "revoked"
    return "valid" if len(standing) == len(listed) else "partly_revoked"


STATES = {"valid": _l("Valid"),
          "partly_revoked": _l("No longer valid in full: a permit was revoked"),
          "revoked": _l("Revoked"), "expired": _l("Expired")}


def licence_of(session: Session, submission_id: int) -> IndustryLicence | None:
    """The case's licence, if one was issued."""
    return session.exec(select(IndustryLicence).where(
        IndustryLicence.submission_id == submission_id)).first()


def revoke(session: Session, task: Task, actor: str, reason: str | None) -> PermitRevocation:
    """Revoke a department's approved permit, with a reason; audited; commit."""
    reason = (reason or "").strip()
    if not reason:
        raise RevocationRefused("reason")
    if len(reason) > REASON_LENGTH:
        raise RevocationRefused("too_long")
    if task.status != "approved":
        raise RevocationRefused("not_approved")
    try:
        # Revocations and decisions of one case take turns from here to the commit (the
        # order decisions lock in): two departments revoking at once, or a revocation and
        # an approval, each read what the other committed. Then compare and set: the task
        # is still approved, and this marks it changed (departments' systems syncing by
        # updated_at list it again, and a webhook says so).
        lock_case(session, task.submission_id)
        changed = session.execute(update(Task).where(
            col(Task.id) == task.id, col(Task.status) == "approved").values(updated_at=utc_now()))
        if changed.rowcount != 1:
            raise RevocationRefused("not_approved")
        if session.exec(select(PermitRevocation.id).where(
                PermitRevocation.task_id == task.id)).first() is not None:
            raise RevocationRefused("revoked")
        revocation = PermitRevocation(task_id=task.id, reason=reason, revoked_by=actor,
                                      revoked_at=utc_now())
        session.add(revocation)
        # A revoked permit is no longer data the government holds for the holder: the
        # registry stops offering it to other cases.
        registry.revoke_issued(session, task.id)
        # The case's comprehensive licence is no longer valid in full: no longer shared.
        industry = licence_of(session, task.submission_id)
        if industry is not None:
            registry.revoke_licence(session, LICENCE_TYPE, industry.number)
        events.enqueue(session, "task.permit_revoked", [task])
        state_before = {"status": task.status, "certificate_number": task.certificate_number}
        session.add(AuditEntry(actor=actor, action="revoke", subject=f"task:{task.id}",
                               before=state_before,
                               after={**state_before, "revoked": True, "reason": reason}))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return revocation
