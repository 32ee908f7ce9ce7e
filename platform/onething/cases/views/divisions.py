"""Division suggestions for the one form's division field (行政区划): typing 市南 offers 370202."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from onething.divisions import search
from onething.i18n import current_locale

bp = Blueprint("divisions", __name__)


@bp.get("/divisions")
def suggest():
    """The divisions a query names, as <option>s for the field's datalist."""
    # The field's input is sent under its own name (hx-include); `field` says which.
    query = request.args.get(request.args.get("field", ""), "")
    return render_template("_division_options.html",
                           divisions=search(query[:40], locale=current_locale()))
