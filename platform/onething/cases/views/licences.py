"""一证准营: the public verification page of a comprehensive licence, its QR code and PDF.

Anyone holding the licence's verification link (its QR code, or the link on the case's status
page) may verify it: the page shows the holder's name, the industry, the validity and each
permit, nothing else of the case. The link holds the licence's unguessable token, never its
number: numbers run in sequence, and counting through them must find nothing (404, as for a
token that does not exist). Licences issued before the token carry a link by number on
paper: for those alone (number_link) the number redirects to the token's page. The PDF is
drawn once per content (its HTML, in every language and state) and revalidated with its ETag.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from urllib.parse import unquote

import segno
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from sqlmodel import select

from onething.cases import licences
from onething.cases.views import public_url
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import IndustryLicence, Submission
from onething.web.extensions import get_session

bp = Blueprint("licences", __name__, url_prefix="/licences", template_folder="../templates")


# Drawn PDFs kept per process, by their HTML: a few hundred KB each.
PDF_CACHE = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def _found(token: str):
    session = get_session()
    licence = session.exec(select(IndustryLicence).where(
        IndustryLicence.token == token)).first() if TOKEN.fullmatch(token) else None
    if licence is None:
        abort(404, description="licence")
    submission = session.get(Submission, licence.submission_id)
    bundle = bundle_of(get_version(session, submission.bundle_version_id))
    listed = licences.permits(session, licence, bundle.catalog)
    return licence, bundle, listed, licences.state(licence, listed)


def verify_url(licence: IndustryLicence) -> str:
    """The absolute URL of the verification page, for the QR code."""
    return public_url("licences.verify", token=licence.token)


@bp.get("/<token>")
def verify(token: str):
    """The licence as anyone may verify it: valid, partly revoked, revoked or expired."""
    if not TOKEN.fullmatch(token):
        # A paper licence issued before the token: its printed link holds the number.
        old = get_session().exec(select(IndustryLicence).where(
            IndustryLicence.number == token, IndustryLicence.number_link)).first()
        if old is not None:
            return redirect(url_for("licences.verify", token=old.token), 302)
    licence, bundle, listed, state = _found(token)
    template = "_licence.html" if request.headers.get("HX-Request") else "licence.html"
    response = Response(render_template(template, licence=licence, bundle=bundle,
                                        permits=listed, state=state,
                                        state_text=licences.STATES[state]))
    response.headers["Vary"] = "HX-Request"
    # A revocation shows at once: no cache keeps the old state.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<token>/qr.svg")
def qr(token: str):
    """The QR code printed on the licence: it opens the verification page."""
    licence, *_ = _found(token)
    out = io.BytesIO()
    segno.make(verify_url(licence), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, title="QR")
    return Response(out.getvalue(), mimetype="image/svg+xml")


@bp.get("/<token>/licence.pdf")
def pdf(token: str):
    """The licence printed (WeasyPrint), with its QR code and permits as of now."""
    licence, bundle, listed, state = _found(token)
    out = io.BytesIO()
    segno.make(verify_url(licence), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False)
    html = render_template("licence_print.html", licence=licence, bundle=bundle,
                           permits=listed, state=state, state_text=licences.STATES[state],
                           qr_svg=out.getvalue().decode(),
                           # Printed for people to read: the link as it is, not %-encoded.
                           link=unquote(verify_url(licence)))
    # The HTML is the content's version: a revocation, an expiry or another language
    # changes it, and with it the ETag; the same HTML draws the same PDF.
    etag = hashlib.sha256(html.encode()).hexdigest()[:32]
    response = Response(mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=licence-{licence.id}.pdf",
        # Kept, but asked about each time: a revocation shows at once.
        "Cache-Control": "private, no-cache", "Vary": "Cookie, Accept-Language"})
    response.set_etag(etag)
    if request.if_none_match.contains(etag):
        response.status_code = 304
        return response
    response.set_data(_drawn(html))
    return response


@functools.lru_cache(maxsize=PDF_CACHE)
def _drawn(html: str) -> bytes:
    """The PDF of the HTML (WeasyPrint draws for a third of a second or more)."""
    from weasyprint import HTML

    # No base URL: the document holds everything, and WeasyPrint fetches nothing.
    return HTML(string=html, url_fetcher=_refuse).write_pdf()


def _refuse(url: str, *args, **kwargs):
    # The server never fetches a URL for a document (a licence holds no outside resource).
    raise ValueError(f"not fetched: {url[:80]}")
