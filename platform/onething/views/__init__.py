"""The applicants' web: one blueprint per feature, with helpers they share."""

from __future__ import annotations

from flask import abort, request, session

from onething.app import get_session
from onething.compose import compose
from onething.models import Draft
from onething.publishing import bundle_of
from onething.workflow import find_draft

# Drafts the browser holds tokens for, so a resume link is needed only once per device.
_TOKENS = "draft_tokens"


def remember_token(public_id: str, token: str) -> None:
    """Keep a draft's token in the signed session cookie."""
    tokens = dict(session.get(_TOKENS, {}))
    tokens[public_id] = token
    session[_TOKENS] = tokens
    session.permanent = True


def load_draft(public_id: str) -> Draft:
    """The draft named in the URL, if the request (or this browser) holds its token."""
    token = request.args.get("token") or session.get(_TOKENS, {}).get(public_id)
    draft = find_draft(get_session(), public_id, token) if token else None
    if draft is None:
        abort(404, description="draft")
    if request.args.get("token"):
        remember_token(public_id, token)
    return draft


def version_of(draft: Draft):
    """The bundle version a draft is pinned to."""
    from onething.models import BundleVersion

    return get_session().get(BundleVersion, draft.bundle_version_id)


def composition_of(draft: Draft):
    """The one form for a draft's answers, on the bundle version it started on."""
    return compose(bundle_of(version_of(draft)), draft.answers)
