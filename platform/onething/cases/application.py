"""The application form (申请表) as a PDF: every answer, the materials and the commitments
signed, under the tracking number and its QR code.

Rendered on request (never on the submit path) from an HTML template by WeasyPrint. The
applicant's copy holds the whole submission; a department's copy holds only its task's
slice, built from the slice alone, so nothing outside the slice can reach it.
"""

from __future__ import annotations

import io

import segno
from flask import render_template


class _NoFetching(Exception):
    """Raised for any URL the HTML names: the server never fetches one to draw a PDF."""


def _refuse(url: str, *args, **kwargs):
    raise _NoFetching(url)


def qr_svg(text: str) -> str:
    """An inline SVG QR code (no XML declaration), to embed in the page."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=3, border=2, xmldecl=False,
                                     svgns=True, title="QR")
    return out.getvalue().decode()


def signatures(materials: dict) -> list[dict]:
    """The commitment letters signed among these materials: one per signing (一书承诺),
    with who signed, when, the text and the materials it covers here."""
    found: dict[tuple, dict] = {}
    for mid, entry in materials.items():
        if isinstance(entry, dict) and entry.get("state") == "commitment" and entry.get("signer"):
            key = (entry["signer"], entry.get("signed_at"), entry.get("letter"))
            found.setdefault(key, {"signer": entry["signer"], "signed_at": entry.get("signed_at"),
                                   "letter": entry.get("letter") or "", "materials": []})
            found[key]["materials"].append(mid)
    return list(found.values())


def application_html(composition, submission, *, data: dict, materials: dict, qr_text: str,
                     task=None) -> str:
    """The HTML the PDF is drawn from: the whole submission, or one task's slice (task)."""
    return render_template("application_pdf.html", composition=composition,
                           submission=submission, data=data, materials=materials, task=task,
                           qr=qr_svg(qr_text), signatures=signatures(materials))


def render_pdf(html: str) -> bytes:
    """The PDF of an HTML page, drawn with the system's CJK fonts and nothing fetched."""
    import weasyprint  # imported on first use: it is large, and only PDFs need it

    return weasyprint.HTML(string=html, url_fetcher=_refuse).write_pdf()


def slice_pdf(task, submission, composition) -> bytes:
    """A department's copy: the PDF of one task's slice, drawn from the slice alone (never
    the submission's data), so nothing outside it can reach the department."""
    materials = {m["id"]: m for m in task.slice_materials if isinstance(m, dict) and "id" in m}
    return render_pdf(application_html(composition, submission, data=task.slice_data,
                                       materials=materials, qr_text=submission.tracking_number,
                                       task=task))
