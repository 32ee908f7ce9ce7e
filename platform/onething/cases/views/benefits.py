"""免申即享: the holder's page, reached by a signed link, to confirm a benefit or object."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from onething.accounts.applicants import applicant_subject, current_applicant
from onething.cases import benefits
from onething.cases.views import SUBMISSIONS, remember
from onething.publishing.versions import bundle_of, latest_version
from onething.storage.models import Submission
from onething.web.extensions import get_session
from onething.web.i18n import localized

bp = Blueprint("benefits", __name__, url_prefix="/benefits", template_folder="../templates")

PROBLEMS = {
    "reason": _l("Please say why you object, so the department can look into it."),
    "too_long": _l("A reason is at most 2,000 characters."),
    "answered": _l("This offer has been answered already."),
    "withdrawn": _l("This benefit is no longer offered."),
    "not_fileable": _l("This offer cannot be confirmed online. Please call the department "
                       "or come to the hall; nothing was lost."),
}


def _offer(token: str):
    offer = benefits.offer_of(get_session(), token, current_app.config["SECRET_KEY"])
    if offer is None:
        # A tampered, expired or unknown link: the same answer, which reveals nothing.
        abort(404, description="offer")
    return offer


def _matter(offer):
    version = latest_version(get_session(), offer.matter_code)
    return bundle_of(version).catalog.matters.get(offer.matter_code) if version else None


def _render(token: str, offer, problem: str | None = None, status: int = 200):
    case = get_session().get(Submission, offer.submission_id) if offer.submission_id else None
    return render_template("benefit.html", offer=offer, token=token, matter=_matter(offer),
                           tracking_number=case.tracking_number if case else None,
                           problem=PROBLEMS.get(problem) if problem else None,
                           masked=_masked(offer.holder_code)), status


def _masked(code: str) -> str:
    """The holder's code with its middle hidden, as halls print it (3702**********4026)."""
    return code[:4] + "*" * max(0, len(code) - 8) + code[-4:] if len(code) > 8 else code


@bp.get("/<token>")
def offer(token: str):
    """The offer: what the benefit is, why the holder is eligible, confirm or object."""
    return _render(token, _offer(token))


@bp.post("/<token>/confirm")
def confirm(token: str):
    """One click: the benefit is confirmed and becomes a case for the department."""
    found = _offer(token)
    try:
        submission, access = benefits.confirm(get_session(), found, actor="holder",
                                              applicant=applicant_subject())
    except benefits.OfferRefused as refused:
        get_session().rollback()
        return _render(token, found, refused.code, 409)
    if access is not None:
        remember(SUBMISSIONS, submission.tracking_number, access)
        return redirect(url_for("status.receipt", tracking_number=submission.tracking_number))
    return _render(token, found)


@bp.post("/<token>/object")
def object_to(token: str):
    """The holder objects to the finding, with a reason."""
    found = _offer(token)
    try:
        benefits.object_to(get_session(), found, request.form.get("reason"), actor="holder")
    except benefits.OfferRefused as refused:
        get_session().rollback()
        return _render(token, found, refused.code, 422 if refused.code != "answered" else 409)
    return _render(token, found)


def my_offers() -> list[tuple]:
    """The signed-in applicant's offers with their links (我的办件)."""
    applicant = current_applicant()
    if applicant is None or not applicant.id_number:
        return []
    secret = current_app.config["SECRET_KEY"]
    found = []
    for offer in benefits.offers_of(get_session(), applicant.id_number):
        matter = _matter(offer)
        found.append((offer, benefits.link_token(offer, secret),
                      localized(matter.name) if matter else offer.matter_code))
    return found
