"""The applicants' web: one blueprint per feature, with helpers they share."""

from __future__ import annotations

from flask import abort, request, session

from onething.app import get_session
from onething.compose import compose
from onething.models import Draft
from onething.publishing import bundle_of, get_version
from onething.workflow import find_draft

# The tokens this browser holds, kept in the signed session cookie so that a resume
# link or a receipt link is needed only once per device.
DRAFTS = "draft_tokens"
SUBMISSIONS = "submission_tokens"


def remember(store: str, key: str, token: str) -> None:
    """Keep a secret token (of a draft or a submission) in the signed session cookie."""
    if session.get(store, {}).get(key) == token:
        return  # unchanged: no new cookie to sign and send
    tokens = dict(session.get(store, {}))
    tokens[key] = token
    session[store] = tokens
    session.permanent = True


def remembered(store: str, key: str) -> str | None:
    """The token given in the query string, else the one this browser keeps."""
    # Never the form: reading it would parse an upload body, even one over the limit.
    return request.args.get("token") or session.get(store, {}).get(key)


def load_draft(public_id: str) -> Draft:
    """The draft named in the URL, if the request (or this browser) holds its token."""
    token = remembered(DRAFTS, public_id)
    draft = find_draft(get_session(), public_id, token) if token else None
    if draft is None:
        abort(404, description="draft")
    remember(DRAFTS, public_id, token)
    return draft


def version_of(draft: Draft):
    """The bundle version a draft is pinned to (its snapshot loads only when needed)."""
    return get_version(get_session(), draft.bundle_version_id)


def composition_of(draft: Draft):
    """The one form for a draft's answers, on the bundle version it started on."""
    return compose(bundle_of(version_of(draft)), draft.answers)
