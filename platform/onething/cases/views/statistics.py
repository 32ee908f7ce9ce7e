"""The hall's numbers made public (政务公开) at /statistics, and the rendering every statistics
page shares (the department's in its inbox, the administrators' in the console).

One URL, three representations: the page (charts, each with its data table beneath, so
it reads without JavaScript), `format=csv` (the same rows, for a spreadsheet) and, on
the command line, `onething stats --json`. Filters are GET parameters, so a view is
bookmarkable: from, to (YYYY-MM-DD), month (YYYY-MM), bundle and by; a bad one answers
400 with the form and what to correct. No figure names a person.
"""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from onething.cases import statistics
from onething.web.extensions import get_session
from onething.web.i18n import localized

bp = Blueprint("statistics", __name__, template_folder="../templates")

BY_NAMES = {"month": _l("Month"), "bundle": _l("Service (一件事)"), "matter": _l("Matter (事项)"),
            "department": _l("Department")}
# The tables' columns: (key of Row.as_dict, heading); "saved.x" reads the savings.
COLUMNS = {
    "cases": [("received", _l("Received")), ("completed", _l("Completed")),
              ("in_progress", _l("In progress")), ("refused", _l("Refused")),
              ("correction_rate", _l("Correction (补正) rate"))],
    "time": [("decided_timed", _l("Decided")), ("on_time_rate", _l("On-time rate")),
             ("average_days", _l("Days taken, average")),
             ("p90_days", _l("Days taken, 90th percentile")),
             ("average_promised_days", _l("Days promised, average"))],
    "ratings": [("ratings", _l("Ratings")), ("satisfaction_rate", _l("Satisfaction rate")),
                ("bad_ratings", _l("Bad ratings (差评)")),
                ("rectifications", _l("Rectifications")),
                ("rectification_rate", _l("Rectification rate")),
                ("rectification_days", _l("Working days to rectify, average"))],
    "savings": [("cases", _l("Cases")), ("saved.forms", _l("Forms saved")),
                ("saved.fields", _l("Fields saved")),
                ("saved.materials", _l("Materials saved")),
                ("saved.visits", _l("Visits saved")),
                ("saved.days", _l("Serial days saved"))],
}
SECTIONS = {"cases": _l("Matters handled (办件)"), "time": _l("Time taken (working days)"),
            "ratings": _l("Ratings (好差评) and their rectification"),
            "savings": _l("What applicants saved")}
# What each chart draws, of its table's columns.
CHARTS = {"cases": ["completed", "in_progress", "refused"],
          "time": ["average_days", "p90_days", "average_promised_days"],
          "ratings": ["satisfaction_rate", "rectification_rate"],
          "savings": ["saved.forms", "saved.materials", "saved.visits", "saved.days"]}


def value_of(row: dict, key: str):
    """A column's value in a row's plain data ("saved.days" reads the savings)."""
    if key.startswith("saved."):
        return row["saved"][key.split(".", 1)[1]]
    return row[key]


def label_of(report: statistics.Report, key: str) -> str:
    """A group's name as people read it: the month, or the service's, matter's or department's."""
    if report.by == "month":
        return key
    if not key:
        return str(_l("The whole case (一次一评)")) if report.by == "matter" else "—"
    name = report.names.get(key)
    return localized(name) if name else key


def sections(report: statistics.Report) -> list[str]:
    """The sections shown: savings belong to cases, so only by month and by service."""
    return [name for name in SECTIONS if name != "savings" or report.by in ("month", "bundle")]


def chart_data(report: statistics.Report) -> dict:
    """What statistics.js draws: the groups' labels and each chart's series."""
    rows = [row.as_dict() for row in report.rows]
    headings = {key: str(title) for columns in COLUMNS.values() for key, title in columns}
    return {"labels": [label_of(report, row["key"]) for row in rows],
            "charts": {name: [{"name": headings[key],
                               "data": [value_of(row, key) for row in rows],
                               "percent": key.endswith("_rate")}
                              for key in CHARTS[name]] for name in sections(report)}}


def csv_response(report: statistics.Report, filename: str) -> Response:
    """The rows and the total as CSV (UTF-8 with a BOM: spreadsheets read it as Chinese)."""
    out = io.StringIO()
    writer = csv.writer(out)
    columns = [column for name in sections(report) for column in COLUMNS[name]]
    writer.writerow([str(BY_NAMES[report.by]), *[str(title) for _, title in columns]])
    for row in [*report.rows, report.total]:
        data = row.as_dict()
        label = label_of(report, row.key) if row is not report.total else str(_l("Total"))
        writer.writerow([label, *["" if value_of(data, key) is None else value_of(data, key)
                                  for key, _ in columns]])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'})


def render(template: str, endpoint: str, *, department: str | None = None,
           departments: list | None = None, default_by: str = "month", **context):
    """The statistics page of one audience, its CSV, or its form with a 400 for bad filters."""
    session = get_session()
    args = request.args
    chosen_department = department
    if departments is not None and args.get("department"):
        # The console may look at one department; an unknown code shows nothing, like a filter.
        chosen_department = args["department"].strip()[:statistics.CODE_LENGTH]
    try:
        filters, by = statistics.parse_filters(args, chosen_department, default_by)
    except statistics.FiltersRefused as refused:
        start, end = statistics.default_range()
        return render_template(template, report=None, problem=refused.message(),
                               typed=args, endpoint=endpoint, start=start, end=end,
                               bundles=statistics.bundles(session), by_names=BY_NAMES,
                               departments=departments, by=args.get("by") or default_by,
                               **context), 400
    report = statistics.compute(session, filters, by)
    if args.get("format") == "csv":
        return csv_response(report, f"statistics-{filters.start}-{filters.end}-{by}")
    query = {key: value for key, value in args.items() if key not in ("format", "lang")}
    return render_template(
        template, report=report, problem=None, typed=args, endpoint=endpoint,
        start=filters.start, end=filters.end, bundles=statistics.bundles(session),
        by_names=BY_NAMES, columns=COLUMNS, section_names=SECTIONS,
        shown=sections(report), label_of=label_of, value_of=value_of,
        # "<" escaped: a name holding "</script>" cannot end the data block.
        chart_json=json.dumps(chart_data(report), ensure_ascii=False).replace("<", "\\u003c"),
        csv_url=url_for(endpoint, **query, format="csv"), departments=departments, by=by,
        **context)


@bp.get("/statistics")
def public():
    """政务公开: the hall's aggregate figures, for everyone; no personal data in them."""
    return render("statistics_public.html", "statistics.public")
