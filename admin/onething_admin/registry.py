"""The console's electronic licence registry (电子证照库): how many licences of each type it
holds, and importing a JSON or CSV file of them, all or none (`onething registry import`)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func
from sqlmodel import select

from onething.accounts.service import current_account
from onething.registry.service import import_licences, read_rows
from onething.storage.models import AuditEntry, Licence
from onething.web.extensions import get_session
from onething_admin.views import _guard

bp = Blueprint("admin_registry", __name__, url_prefix="/admin/registry",
               template_folder="templates")

# Administrators only, CSRF on every change: the console's one guard.
bp.before_request(_guard)

# What is wrong with a row's field, as `check_rows` says it.
PROBLEMS = {
    "required": _l("is required"),
    "unknown_column": _l("is not a column of a licence"),
    "unknown_type": _l("is not a licence type of the catalogue"),
    "invalid_holder": _l("is not a valid credit code or ID number for this licence type"),
    "invalid_date": _l("is not a date (YYYY-MM-DD), or ends before it starts"),
    "invalid_trust": _l("is not a trust level (A, B, C or D)"),
    "not_an_object": _l("is not an object"),
    "unknown_item": _l("is not a data item of this licence type"),
    "too_long": _l("is too long"),
    "duplicate": _l("names a licence already in this file"),
}


@bp.app_template_global()
def registry_problem(code: str) -> str:
    """A refused row's problem, localized."""
    return str(PROBLEMS.get(code, code))


def _render(*, problems=None, imported: int | None = None, status: int = 200):
    template = ("admin/_registry_import.html" if request.headers.get("HX-Request")
                else "admin/registry.html")
    counts = get_session().exec(select(Licence.type_code, Licence.source, func.count())
                                .group_by(Licence.type_code, Licence.source)
                                .order_by(Licence.type_code, Licence.source)).all()
    response = render_template(template, counts=counts, problems=problems, imported=imported)
    return response, status, {"Vary": "HX-Request"}


@bp.get("/")
def index():
    """The registry's licences by type and source, and the import form."""
    return _render(imported=request.args.get("imported", type=int))


@bp.post("/")
def upload():
    """Import a file of licences; a file with any bad row stores nothing and names them."""
    file = request.files.get("file")
    if file is None or not file.filename:
        return _render(problems=["missing_file"], status=422)
    text = file.read().decode("utf-8-sig", errors="replace")
    try:
        rows = read_rows(text, file.filename)
    except ValueError:
        return _render(problems=["not_a_file"], status=422)
    count, problems = import_licences(get_session(), rows)
    if problems:
        return _render(problems=problems, status=422)
    get_session().add(AuditEntry(actor=current_account().username, action="registry_import",
                                 subject="registry", before={},
                                 after={"file": file.filename[:200], "licences": count}))
    get_session().commit()
    if not request.headers.get("HX-Request"):
        return redirect(url_for("admin_registry.index", imported=count))
    return _render(imported=count)
