"""The front desk (一窗受理 / 帮办代办): the cases a clerk filed for applicants, to reopen."""

from __future__ import annotations

import re
import unicodedata

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_
from sqlmodel import col, select

from onething.accounts.service import current_account, role_required
from onething.cases.parties import NAME_FIELDS, party_of
from onething.cases.workflow import typed_tracking_number
from onething.storage.db import paginate
from onething.storage.models import BundleVersion, Draft, Submission
from onething.web.extensions import get_session

bp = Blueprint("desk", __name__, url_prefix="/desk", template_folder="../templates")

# Cases listed at a time.
PAGE_SIZE = 50
CASE_STATES = {
    "draft": _l("Draft, not submitted"),
    "routed": _l("Submitted, with the departments"),
    "in_progress": _l("In progress"),
    "approved": _l("Approved"),
    "ending": _l("A matter was refused; the others are being finished"),
    "partly_approved": _l("Partly approved"),
    "rejected": _l("Refused"),
}


def case_state(status: str | None) -> str:
    """A filed case's state, localized: a draft, or its submission's status."""
    return str(CASE_STATES.get(status or "draft", status))


def drafts_page(whose, query: str = ""):
    """A page (?page=) of the drafts `whose` selects, each with its case and its values,
    newest first: the front desk's cases I filed, and a signed-in applicant's 我的办件.
    A query keeps those whose applicant's name or tracking number holds it."""
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        number = 1
    statement = (
        select(Draft.public_id, Draft.created_at, BundleVersion.name,
               Submission.tracking_number, Submission.status, Submission.submitted_at,
               Draft.data)
        .join(BundleVersion, col(BundleVersion.id) == col(Draft.bundle_version_id))
        .outerjoin(Submission, col(Submission.draft_id) == col(Draft.id))
        .where(whose)
        .order_by(col(Draft.id).desc()))
    query = query.strip()
    if query:
        # The names as the form stores them (entity or person); a clerk's own cases are a
        # few thousand at most, so no index is needed for the substring.
        data = Draft.__table__.c.data
        matches = [data[key].as_string().contains(query, autoescape=True)
                   for key in NAME_FIELDS]
        # A whole number as people type one, or a part of one as printed (the date, the six
        # characters after the dash), but not a dash or two letters, which every number holds.
        part = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query)).upper()
        matches += [col(Submission.tracking_number).contains(typed, autoescape=True)
                    for typed in {typed_tracking_number(query), part}
                    if len(re.sub(r"[^0-9A-Z]", "", typed)) >= 4]
        statement = statement.where(or_(*matches))
    return paginate(get_session(), statement, number, PAGE_SIZE)


def applicant_name(data: dict | None) -> str:
    """Whom a case is for, as its form names them (the entity's, else the person's name)."""
    return party_of(data)["party_name"] or ""


@bp.get("/")
@role_required("front_desk")
def cases():
    """The drafts and submissions this clerk started, newest first, 50 a page; ?q= finds
    one by the applicant's name or its tracking number."""
    query = request.args.get("q", "")
    page = drafts_page(Draft.created_by == current_account().username, query)
    template = "_desk_cases.html" if request.headers.get("HX-Request") else "desk.html"
    return render_template(template, page=page, case_state=case_state, query=query,
                           applicant_name=applicant_name)
