"""Who a case is for (申请人), as each department's own slice shows it: the inbox's column.

A task keeps the name and credit code its slice holds, so the inbox shows and searches
them from the task table, and a department whose slice holds no name sees none.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import event

from onething.storage.models import Task

# The library fields that name the party, the entity before the person applying for it.
NAME_FIELDS = ("entity_name", "applicant_name")
CODE_FIELDS = ("entity_uscc",)
NAME_LENGTH = 200
# A unified social credit code (统一社会信用代码, GB 32100): 18 of these characters.
CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")


def _text(slice_data: dict, fields: tuple[str, ...]) -> str | None:
    for field in fields:
        value = slice_data.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def party_of(slice_data: dict | None) -> dict:
    """The party's name and credit code in a slice (None where the slice holds none)."""
    slice_data = slice_data or {}
    name = _text(slice_data, NAME_FIELDS)
    code = _text(slice_data, CODE_FIELDS)
    return {"party_name": name[:NAME_LENGTH] if name else None,
            "party_code": credit_code(code) if code else None}


def credit_code(typed: str) -> str | None:
    """A credit code as typed (full-width, lower case, spaces), normalized; None if not one."""
    code = re.sub(r"[\s-]+", "", unicodedata.normalize("NFKC", typed)).upper()
    return code if CREDIT_CODE.fullmatch(code) else None


@event.listens_for(Task.slice_data, "set")
def _follow_slice(task: Task, value, _old, _initiator):
    # Values handed over and corrections replace the slice: the party follows it. (Routing
    # writes new tasks with the submit path's own INSERT, party included: SQLModel's
    # constructor does not fire attribute events.)
    for name, party in party_of(value).items():
        setattr(task, name, party)
