"""The applicants' pages: a blueprint per step (start, drafts, status, divisions), and helpers."""

from __future__ import annotations

from flask import abort, current_app, request, session, url_for
from sqlmodel import select

from onething.cases.workflow import find_draft
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import Draft
from onething.web.extensions import get_session

# The tokens this browser holds, kept in the signed session cookie so that a resume
# link or a receipt link is needed only once per device.
DRAFTS = "draft_tokens"
SUBMISSIONS = "submission_tokens"
# Tokens kept per store: about 60 bytes each, so both stores stay far below 4 KB.
REMEMBERED_PER_STORE = 12


def remember(store: str, key: str, token: str) -> None:
    """Keep a secret token (of a draft or a submission) in the signed session cookie."""
    pairs = _pairs(store)
    if pairs and pairs[-1] == [key, token]:
        return  # unchanged: no new cookie to sign and send
    # Most recent last, and only the last few: browsers drop a cookie over 4 KB whole,
    # which would forget every token at once (a front desk submits dozens a day).
    pairs = [pair for pair in pairs if pair[0] != key] + [[key, token]]
    session[store] = pairs[-REMEMBERED_PER_STORE:]
    session.permanent = True


def remembered(store: str, key: str) -> str | None:
    """The token given in the query string, else the one this browser keeps."""
    # Never the form: reading it would parse an upload body, even one over the limit.
    # A code copied from a receipt or an SMS may come with spaces or a line break.
    given = "".join(request.args.get("token", "").split())
    if given:
        return given
    return next((token for name, token in _pairs(store) if name == key), None)


def _pairs(store: str) -> list[list[str]]:
    # [key, token] pairs; a cookie from before the cap held a dict, read it as pairs.
    kept = session.get(store) or []
    if isinstance(kept, dict):
        return [[key, token] for key, token in kept.items()]
    return [list(pair) for pair in kept if isinstance(pair, list | tuple) and len(pair) == 2]


def front_desk_clerk() -> str | None:
    """The signed-in front-desk clerk acting for an applicant, if the request has one."""
    from onething.accounts.service import current_account

    account = current_account()
    return account.username if account is not None and account.role == "front_desk" else None


def public_url(endpoint: str, **values) -> str:
    """An absolute URL for QR codes and links: under PUBLIC_URL when set, else this host."""
    # Behind a proxy the request's host is the proxy's: PUBLIC_URL is what people reach.
    base = current_app.config.get("PUBLIC_URL")
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


def filed_by_clerk(public_id: str) -> Draft | None:
    """The draft, if the signed-in front-desk clerk started it (帮办代办): being its
    creator authorises them from any session, with or without its token."""
    clerk = front_desk_clerk()
    if clerk is None:
        return None
    return get_session().exec(select(Draft).where(
        Draft.public_id == public_id, Draft.created_by == clerk)).first()


def owned_by_applicant(public_id: str) -> Draft | None:
    """The draft, if the signed-in applicant (统一身份认证) owns it: from any device,
    without its token."""
    from onething.accounts.applicants import applicant_subject

    subject = applicant_subject()
    if subject is None:
        return None
    return get_session().exec(select(Draft).where(
        Draft.public_id == public_id, Draft.applicant == subject)).first()


def load_draft(public_id: str) -> Draft:
    """The draft named in the URL, if the request (or this browser) holds its token, the
    signed-in clerk filed it, or the signed-in applicant owns it."""
    token = remembered(DRAFTS, public_id)
    draft = find_draft(get_session(), public_id, token) if token else None
    if draft is None:
        draft = filed_by_clerk(public_id) or owned_by_applicant(public_id)
        if draft is None:
            abort(404, description="draft")
        return draft
    remember(DRAFTS, public_id, token)
    return draft


def version_of(draft: Draft):
    """The bundle version a draft is pinned to (its snapshot loads only when needed)."""
    return get_version(get_session(), draft.bundle_version_id)


def composition_of(draft: Draft):
    """The one form for a draft's answers, on the bundle version it started on."""
    return compose(bundle_of(version_of(draft)), draft.answers)
