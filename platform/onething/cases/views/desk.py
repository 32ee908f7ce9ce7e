"""The front desk (一窗受理 / 帮办代办): the cases a clerk filed for applicants, to reopen."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from sqlmodel import col, select

from onething.accounts.service import current_account, role_required
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


def drafts_page(whose):
    """A page (?page=) of the drafts `whose` selects, each with its case, newest first: the
    front desk's cases I filed, and a signed-in applicant's 我的办件."""
    try:
        number = max(1, int(request.args.get("page", "1")))
    except ValueError:
        number = 1
    statement = (
        select(Draft.public_id, Draft.created_at, BundleVersion.name,
               Submission.tracking_number, Submission.status, Submission.submitted_at)
        .join(BundleVersion, col(BundleVersion.id) == col(Draft.bundle_version_id))
        .outerjoin(Submission, col(Submission.draft_id) == col(Draft.id))
        .where(whose)
        .order_by(col(Draft.id).desc()))
    return paginate(get_session(), statement, number, PAGE_SIZE)


@bp.get("/")
@role_required("front_desk")
def cases():
    """The drafts and submissions this clerk started, newest first, 50 a page."""
    page = drafts_page(Draft.created_by == current_account().username)
    template = "_desk_cases.html" if request.headers.get("HX-Request") else "desk.html"
    return render_template(template, page=page, case_state=case_state)
