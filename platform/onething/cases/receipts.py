"""What the review, the receipt and the application PDF say about a case: each material's
state, what is still owed and by when, and what happens next."""

from __future__ import annotations

import datetime as dt

from onething.storage.models import TASK_DONE

# The fields departments call or text the applicant on, in the order they are asked for.
CONTACT_FIELDS = ("contact_mobile", "applicant_mobile", "mobile")


def material_states(composition, data: dict, entries: dict) -> list[dict]:
    """Each needed material with its state: uploaded, deferred (容缺), commitment (signed),
    shared (电子证照), generated (from the one form), or what it still lacks (missing,
    unsigned) on a draft."""
    from onething.cases.commitments import signature

    signed = signature(composition, data, entries)
    rows = []
    for material in composition.materials_for(data):
        entry = entries.get(material.id)
        entry = entry if isinstance(entry, dict) else {}
        state = entry.get("state")
        # What the draft recorded wins: a shared material the registry lacked was uploaded
        # (or deferred, or committed to), and one issued in this very case is 本次同步办理.
        if material.generated:
            state = "generated"  # drawn from the one form, whatever a draft recorded
        elif state == "in_case":
            pass
        elif state == "shared" or (not material.upload and state not in (
                "uploaded", "deferred", "commitment", "missing", "expired", "unavailable",
                "private")):
            state = "shared"
        elif material.letter and state != "uploaded":
            state = "commitment" if signed else "unsigned"
        elif state == "commitment":
            state = "commitment" if signed or entry.get("signer") else "unsigned"
        elif state is None:
            state = {"deferrable": "deferred", "optional": "optional"}.get(
                material.necessity, "missing")
        rows.append({"material": material, "state": state, "entry": entry})
    return rows


def owed(composition, materials: dict, tasks) -> list[dict]:
    """The deferred (容缺) materials of a submission, each with the date it is due by: the
    earliest due date of the approvals that need it, which are decided only with it."""
    due_by = {}
    for task in tasks:
        due_by.setdefault(task.matter_code, []).append(task.due_date)
    rows = []
    for material in composition.materials:
        entry = materials.get(material.id)
        if isinstance(entry, dict) and entry.get("state") == "deferred":
            dates = [d for code in material.matters for d in due_by.get(code, [])]
            rows.append({"material": material, "due": min(dates) if dates else None,
                         "departments": material.departments})
    return rows


def next_steps(composition, tasks) -> list[dict]:
    """Each step of the routing plan still ahead: who, whether it starts now or after
    which matters, the promised time limit, and the task's due date when routed. A step
    decided already (or stopped, or closed) is behind, shown under the progress only."""
    by_matter = {task.matter_code: task for task in tasks}
    return [{"step": step, "task": by_matter.get(step.matter),
             "due": by_matter[step.matter].due_date if step.matter in by_matter else None}
            for step in composition.plan.steps
            if step.matter not in by_matter or by_matter[step.matter].status not in TASK_DONE]


def contact_number(data: dict) -> str | None:
    """The mobile the departments contact the applicant on, its middle digits hidden (the
    receipt is printed and shown around)."""
    found = next((data.get(key) for key in CONTACT_FIELDS if isinstance(data.get(key), str)),
                 None)
    if found is None:
        person = data.get("legal_representative")
        found = person.get("mobile") if isinstance(person, dict) else None
    if not isinstance(found, str) or len(found) < 7:
        return found
    return found[:3] + "*" * (len(found) - 7) + found[-4:]


def signed_time(value: str | None) -> dt.datetime | None:
    """A signature's stored time (ISO 8601, UTC), read back for display."""
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
