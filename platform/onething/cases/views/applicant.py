"""Applicants' sign-in (统一身份认证) and 我的办件: their drafts and cases on any device.

Optional per deployment (APPLICANT_OIDC_ISSUER and APPLICANT_OIDC_CLIENT_ID): without
them no sign-in is offered, these pages are not found, and applying stays anonymous as it
always is. The identity's verified name, ID number and mobile fill the applicant's fields
of every draft the applicant owns, which the form shows read-only and every save
restores, whatever a post says.
"""

from __future__ import annotations

import copy

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from sqlmodel import col, select

from onething.accounts.applicants import (
    PENDING_KEY,
    applicant_subject,
    current_applicant,
    record_identity,
    sign_in_applicant,
    sign_out_applicant,
)
from onething.accounts.oidc import OIDCError, enabled, provider
from onething.accounts.service import safe_next
from onething.cases.forms import find_entry
from onething.cases.views import DRAFTS, _pairs, composition_of, public_url
from onething.cases.views.desk import case_state, drafts_page
from onething.cases.workflow import find_draft, save_draft
from onething.storage.models import Applicant, Draft, Submission
from onething.web.extensions import get_session

bp = Blueprint("applicant", __name__, url_prefix="/applicant", template_folder="../templates")

# The one form's fields the identity platform verifies, and which claim fills each.
VERIFIED_FIELDS = {"applicant_name": "name", "applicant_id_number": "id_number",
                   "applicant_mobile": "mobile"}
# Why a sign-in failed, said to the applicant; and the HTTP status of each.
FAILURES = {
    "state": (_l("This sign-in does not belong to this browser, or it has expired. "
                 "Please sign in again."), 400),
    "denied": (_l("The sign-in was cancelled at the identity platform. You are not "
                  "signed in."), 400),
    "unreachable": (_l("The identity platform cannot be reached right now. Please try "
                       "again later, or apply without signing in."), 502),
    "refused": (_l("The identity platform refused this sign-in. Please sign in again."), 502),
    "invalid_response": (_l("The identity platform's answer could not be verified, so you "
                            "are not signed in. Please try again later, or apply without "
                            "signing in."), 502),
    "invalid_token": (_l("The identity platform's answer could not be verified, so you are "
                         "not signed in. Please try again later, or apply without signing "
                         "in."), 502),
}


def verified_values(draft: Draft, layout: dict) -> dict:
    """The verified values of the draft's owner, for the fields of this form that take them."""
    if not draft.applicant:
        return {}
    applicant = get_session().exec(select(Applicant).where(
        Applicant.subject == draft.applicant)).first()
    if applicant is None:
        return {}
    found = {}
    for path, claim in VERIFIED_FIELDS.items():
        value = getattr(applicant, claim)
        if value and find_entry(layout, path) is not None:
            found[path] = value
    return found


def show_verified(values: dict) -> None:
    """Have the form show these fields as verified and read-only, in this request."""
    g.onething_verified = values


@bp.app_template_global()
def verified_field(path: str) -> bool:
    """Whether the form shows this field as verified by the identity platform."""
    return path in (g.get("onething_verified") or {})


@bp.app_template_global()
def applicant_signin() -> dict:
    """What the page header offers an applicant: sign-in, or who is signed in."""
    if not enabled(current_app.config):
        return {"enabled": False, "applicant": None}
    return {"enabled": True, "applicant": current_applicant()}


def claim(draft: Draft, subject: str, layout: dict | None = None) -> None:
    """Make a draft the applicant's, its verified fields filled in; commit."""
    draft.applicant = subject
    get_session().add(draft)
    get_session().commit()
    if layout is None:
        layout = composition_of(draft).layout
    verified = verified_values(draft, layout)
    if verified and draft.submitted_at is None:
        save_draft(get_session(), draft, data=copy.deepcopy(verified))
        get_session().commit()


def claim_this_browsers_drafts(subject: str, started_from: str | None) -> int:
    """Give the signed-in applicant the unsubmitted, unowned draft this browser holds that
    the sign-in started from (its page is `started_from`), and no other.

    A hall's kiosk or a lent phone may hold another person's anonymous drafts: signing in
    must not make them the signed-in person's, nor write that person's identity into them.
    """
    claimed = 0
    for public_id, token in _pairs(DRAFTS):
        if not started_from or not started_from.startswith(f"/d/{public_id}/"):
            continue
        draft = find_draft(get_session(), public_id, token)
        # Not a clerk's (it is on the clerk's record), nor anybody else's already.
        if draft is None or draft.applicant or draft.created_by or draft.submitted_at:
            continue
        claim(draft, subject)
        claimed += 1
    return claimed


def applicant_submission(tracking_number: str) -> Submission | None:
    """The submission, if the signed-in applicant owns its draft."""
    subject = applicant_subject()
    if subject is None:
        return None
    return get_session().exec(select(Submission).join(
        Draft, col(Draft.id) == col(Submission.draft_id)).where(
        Submission.tracking_number == tracking_number.strip().upper(),
        Draft.applicant == subject)).first()


def _require_enabled() -> None:
    if not enabled(current_app.config):
        abort(404)


def _failed(reason: str):
    message, status = FAILURES.get(reason, FAILURES["invalid_response"])
    return render_template("applicant_signin_error.html", message=message), status


@bp.get("/signin")
def signin():
    """Send the browser to the identity platform (PKCE, state and nonce kept here)."""
    _require_enabled()
    try:
        url, pending = provider(current_app.config).begin(
            public_url("applicant.callback"))
    except OIDCError as error:
        current_app.logger.warning("applicant sign-in: %s", error)
        return _failed(error.reason)
    pending["next"] = safe_next(request.args.get("next"))
    session[PENDING_KEY] = pending
    return redirect(url)


@bp.get("/callback")
def callback():
    """Back from the identity platform: verify, sign in, claim this browser's drafts."""
    _require_enabled()
    # Used once, whatever happens: a replayed callback finds nothing to finish.
    pending = session.pop(PENDING_KEY, None)
    try:
        identity = provider(current_app.config).finish(
            pending if isinstance(pending, dict) else {}, request.args.get("state"),
            request.args.get("code"), request.args.get("error"))
    except OIDCError as error:
        current_app.logger.warning("applicant sign-in failed: %s", error)
        return _failed(error.reason)
    applicant = record_identity(get_session(), identity)
    sign_in_applicant(applicant)
    target = safe_next((pending or {}).get("next"))
    claim_this_browsers_drafts(applicant.subject, target)
    return redirect(target or url_for("applicant.cases"))


@bp.post("/signout")
def signout():
    """Sign out, forgetting this browser's drafts and receipts, and go home."""
    sign_out_applicant()
    return redirect(url_for("catalog.index"))


@bp.get("/cases")
def cases():
    """我的办件: the applicant's drafts and submitted cases, newest first, 50 a page."""
    _require_enabled()
    subject = applicant_subject()
    if subject is None:
        return redirect(url_for("applicant.signin", next=url_for("applicant.cases")))
    page = drafts_page(Draft.applicant == subject)
    from onething.cases.views.benefits import my_offers
    return render_template("my_cases.html", page=page, case_state=case_state,
                           offers=my_offers())
