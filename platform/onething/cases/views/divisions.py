"""Division suggestions for the one form's division field (行政区划): typing 市南 offers 370202."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import gettext as _

from onething.catalog.divisions import full_name, load_divisions, search
from onething.web.i18n import current_locale

bp = Blueprint("divisions", __name__, template_folder="../templates")


@bp.get("/divisions")
def suggest():
    """The divisions a query names, as <option>s for the field's datalist."""
    # The field's input is sent under its own name (hx-include); `field` says which.
    query = request.args.get(request.args.get("field", ""), "")
    return render_template("_division_options.html",
                           divisions=search(query[:40], locale=current_locale()))


def division_note(code) -> str | None:
    """What a division code names, said under its field: the place, or that none is known."""
    if not isinstance(code, str) or not code or not load_divisions():
        return None  # without a table, nothing can be said of a code
    return full_name(code, current_locale()) or _(
        "No division in the platform's table has this code: please check it.")


def division_name(code) -> str:
    """A division code as people read it (山东省青岛市市南区); the code itself when the
    platform's table does not know it, so that nothing entered is hidden."""
    if code is None:
        return ""
    return full_name(code, current_locale()) or str(code)
