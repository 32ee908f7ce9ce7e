"""一证准营: the public verification page of a comprehensive licence, its QR code and PDF.

Anyone holding the licence number (printed, or in the QR code) may verify it: the page shows
the holder's name, the industry, the validity and each permit, nothing else of the case.
"""

from __future__ import annotations

import io
from urllib.parse import unquote

import segno
from flask import Blueprint, Response, abort, render_template, request
from sqlmodel import select

from onething.cases import licences
from onething.cases.views import public_url
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import IndustryLicence, Submission
from onething.web.extensions import get_session

bp = Blueprint("licences", __name__, url_prefix="/licences", template_folder="../templates")


def _found(number: str):
    session = get_session()
    licence = session.exec(select(IndustryLicence).where(
        IndustryLicence.number == number.strip()[:64])).first()
    if licence is None:
        abort(404, description="licence")
    submission = session.get(Submission, licence.submission_id)
    bundle = bundle_of(get_version(session, submission.bundle_version_id))
    listed = licences.permits(session, licence, bundle.catalog)
    return licence, bundle, listed, licences.state(licence, listed)


def verify_url(number: str) -> str:
    """The absolute URL of the verification page, for the QR code."""
    return public_url("licences.verify", number=number)


@bp.get("/<number>")
def verify(number: str):
    """The licence as anyone may verify it: valid, partly revoked, revoked or expired."""
    licence, bundle, listed, state = _found(number)
    template = "_licence.html" if request.headers.get("HX-Request") else "licence.html"
    response = Response(render_template(template, licence=licence, bundle=bundle,
                                        permits=listed, state=state,
                                        state_text=licences.STATES[state]))
    response.headers["Vary"] = "HX-Request"
    # A revocation shows at once: no cache keeps the old state.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<number>/qr.svg")
def qr(number: str):
    """The QR code printed on the licence: it opens the verification page."""
    licence, *_ = _found(number)
    out = io.BytesIO()
    segno.make(verify_url(licence.number), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, title="QR")
    return Response(out.getvalue(), mimetype="image/svg+xml")


@bp.get("/<number>/licence.pdf")
def pdf(number: str):
    """The licence printed (WeasyPrint), with its QR code and permits as of now."""
    from weasyprint import HTML

    licence, bundle, listed, state = _found(number)
    out = io.BytesIO()
    segno.make(verify_url(licence.number), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False)
    html = render_template("licence_print.html", licence=licence, bundle=bundle,
                           permits=listed, state=state, state_text=licences.STATES[state],
                           qr_svg=out.getvalue().decode(),
                           # Printed for people to read: the number as it is, not %-encoded.
                           link=unquote(verify_url(licence.number)))
    # No base URL: the document holds everything, and WeasyPrint fetches nothing.
    document = HTML(string=html, url_fetcher=_refuse).write_pdf()
    return Response(document, mimetype="application/pdf", headers={
        "Content-Disposition": f"inline; filename=licence-{licence.id}.pdf",
        "Cache-Control": "no-store"})


def _refuse(url: str, *args, **kwargs):
    # The server never fetches a URL for a document (a licence holds no outside resource).
    raise ValueError(f"not fetched: {url[:80]}")
