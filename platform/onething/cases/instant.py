"""秒批: a task approved by the system at routing, when its matter's rules all pass on
trust-A data.

A matter that declares `instant_approval` is approved at once when every one of its rules
passes and every value they read is trust A: the registry's licences, the verified
identity, values locked to a trust-A licence. The task is accepted and approved by
`system:instant` through the same decisions staff take, with a certificate number from the
matter's pattern (the 一业一证 pattern mechanism, a running number per matter and year); the
certificate is then released and enters the registry like any other. The audit log keeps
which rules passed on which values, with their source and trust. When a rule fails or
reads a value of lower trust, the task routes to the department as usual, and the audit
log says why. A department turns 秒批 off for its matter (`set_enabled`, audited); off,
its tasks route normally.
"""

from __future__ import annotations

from sqlmodel import Session, select

from onething.cases import rules as case_rules
from onething.cases.decisions import DecisionRefused, decide, owes_material
from onething.cases.licences import _next_seq, format_number
from onething.composer import logic
from onething.storage.models import AuditEntry, MatterSetting, Task, utc_now

ACTOR = "system:instant"


def enabled(session: Session, matter_code: str) -> bool:
    """Whether 秒批 applies to the matter now (it does unless its department turned it off)."""
    setting = session.get(MatterSetting, matter_code)
    return setting is None or setting.instant_approval


def set_enabled(session: Session, matter_code: str, on: bool, actor: str) -> None:
    """Turn 秒批 on or off for a matter, audited; commit."""
    setting = session.get(MatterSetting, matter_code)
    before = {"instant_approval": setting is None or setting.instant_approval}
    if setting is None:
        setting = MatterSetting(matter_code=matter_code, updated_by=actor)
    setting.instant_approval, setting.updated_by, setting.updated_at = on, actor, utc_now()
    session.add(setting)
    session.add(AuditEntry(actor=actor, action="instant_approval_setting",
                           subject=f"matter:{matter_code}", before=before,
                           after={"instant_approval": on}))
    session.commit()


def certificate_number(session: Session, matter, year: int) -> str:
    """The next certificate number of the matter's pattern (not committed)."""
    settings = matter.data["instant_approval"]
    seq = _next_seq(session, f"matter:{matter.code}", year)
    return format_number(settings["certificate_pattern"], year=year,
                         division=settings["division"], seq=seq)


def approve_at_routing(session: Session, submission_id: int, catalog, case: case_rules.Case
                       ) -> list[Task]:
    """Approve each pending task of the submission whose matter's rules all pass on trust-A
    data; log why the others were not. Returns the tasks approved."""
    approved = []
    tasks = session.exec(select(Task).where(Task.submission_id == submission_id)
                         .order_by(Task.id)).all()
    for task in tasks:
        matter = catalog.matters.get(task.matter_code)
        if matter is None or "instant_approval" not in matter.data:
            continue
        if not enabled(session, matter.code):
            session.add(AuditEntry(actor=ACTOR, action="instant_approval_off",
                                   subject=f"task:{task.id}", before={}, after={}))
            session.commit()
            continue
        evaluation = case.evaluation(matter)
        outcomes = logic.evaluate(matter.data.get("rules", []), evaluation.data)
        trace = case_rules.trace(evaluation, outcomes)
        passed = bool(outcomes) and all(o.passed for o in outcomes)
        trusted = case_rules.all_trust_a(evaluation, outcomes)
        # Values the approval must hand to other matters (办结产出) are a person's to enter.
        yields = (task.handover or {}).get("produces")
        owed = owes_material(task)
        if task.status != "pending" or not passed or not trusted or yields or owed:
            reason = ("not_pending" if task.status != "pending" else "rule_failed"
                      if not passed else "not_trust_a" if not trusted else "produces"
                      if yields else "material_owed")
            session.add(AuditEntry(actor=ACTOR, action="instant_approval_declined",
                                   subject=f"task:{task.id}", before={},
                                   after={"reason": reason, "rules": trace}))
            session.commit()
            continue
        try:
            # The number first: drawn in the acceptance's transaction, it is never lost
            # to a task that ends up approved by hand.
            number = certificate_number(session, matter, case.today.year)
            decide(session, task, "accept", ACTOR)
            session.add(AuditEntry(actor=ACTOR, action="instant_approval",
                                   subject=f"task:{task.id}", before={},
                                   after={"certificate_number": number, "rules": trace}))
            decide(session, task, "approve", ACTOR, certificate_number=number)
        except DecisionRefused:
            # Someone decided first (the task is no longer pending): theirs stands.
            session.rollback()
            continue
        approved.append(task)
    return approved
