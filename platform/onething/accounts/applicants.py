"""Signed-in applicants (统一身份认证): who is signed in, in a session kept apart from staff's.

Applicants never get an account. The identity platform verifies them (accounts.oidc);
the verified name, ID number and mobile are kept in the `applicant` table by subject,
and the session holds only the subject. A staff sign-in and an applicant sign-in each
start a fresh session: one browser is never both.
"""

from __future__ import annotations

import hmac

from flask import g, session
from sqlmodel import Session, select

from onething.accounts import service
from onething.accounts.oidc import Identity
from onething.accounts.service import session_stamp
from onething.storage.models import Applicant, utc_now

SESSION_KEY = "applicant"
# Made with the applicant's session key, which a sign-out draws anew: a copy of the cookie
# ends with the sign-out (as a staff account's, accounts.service).
STAMP_KEY = "applicant_stamp"
PENDING_KEY = "applicant_pending"
# What a sign-in keeps of the session before it: the drafts and receipts this browser
# holds, which the applicant then owns.
KEPT = ("draft_tokens", "submission_tokens")


def record_identity(db: Session, identity: Identity) -> Applicant:
    """Store what the identity platform verified now (it may have changed since last time)."""
    applicant = db.exec(select(Applicant).where(Applicant.subject == identity.subject)).first()
    if applicant is None:
        applicant = Applicant(subject=identity.subject)
    applicant.name, applicant.id_number, applicant.mobile = (
        identity.name, identity.id_number, identity.mobile)
    applicant.signed_in_at = utc_now()
    db.add(applicant)
    db.commit()
    return applicant


def sign_in_applicant(applicant: Applicant) -> None:
    """Remember the applicant in this browser, under a fresh session (no staff sign-in)."""
    end_someone_elses_session(subject=applicant.subject)
    kept = {key: session[key] for key in KEPT if key in session}
    session.clear()  # session fixation, and never a clerk and an applicant at once
    session.update(kept)
    session[SESSION_KEY] = applicant.subject
    session[STAMP_KEY] = _stamp(applicant)
    session.permanent = True
    g.pop("applicant", None)


def end_someone_elses_session(account_id: int | None = None,
                              subject: str | None = None) -> None:
    """Before a sign-in, staff or applicant: end the session of whoever else is signed in
    in this browser, as their sign-out would (everywhere, and forgetting the cases they
    kept here).

    A desk computer is shared, and a hall's kiosk too: the next person signing in must
    not open what the last one filed, nor leave the last one's cookie valid.
    """
    if session.get(service.SESSION_KEY) not in (None, account_id):
        service.sign_out()
    if session.get(SESSION_KEY) not in (None, subject):
        sign_out_applicant()


def _stamp(applicant: Applicant) -> str:
    return session_stamp(applicant.subject, applicant.session_key)


def signed_in_session() -> bool:
    """Whether this browser's session is a signed-in person's, staff or applicant: such a
    session opens things by itself, so its posts carry a CSRF token."""
    return "account_id" in session or SESSION_KEY in session


def sign_out_applicant() -> None:
    """Forget the applicant, and the drafts and receipts this browser kept for them; end
    their sessions everywhere (a copy of the cookie too)."""
    # A phone lent or a hall's kiosk: after signing out, nothing of theirs opens here.
    service.end_sessions(current_applicant(), (SESSION_KEY, STAMP_KEY, PENDING_KEY, *KEPT),
                         "applicant")


def current_applicant() -> Applicant | None:
    """The signed-in applicant of this request, or None."""
    if "applicant" not in g:
        from onething.web.extensions import get_session

        subject = session.get(SESSION_KEY)
        applicant = get_session().exec(select(Applicant).where(
            Applicant.subject == subject)).first() if isinstance(subject, str) else None
        g.applicant = applicant if applicant is not None and hmac.compare_digest(
            str(session.get(STAMP_KEY, "")), _stamp(applicant)) else None
    return g.applicant


def applicant_subject() -> str | None:
    """The signed-in applicant's subject, or None (no query when nobody is signed in)."""
    subject = session.get(SESSION_KEY)
    if not isinstance(subject, str):
        return None
    applicant = current_applicant()
    return applicant.subject if applicant is not None else None
