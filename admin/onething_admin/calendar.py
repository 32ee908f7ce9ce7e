"""The console's holiday calendar: the years entered, a year's days, and entering a notice.

The State Council publishes next year's holidays each autumn; chinese_calendar
learns them only in a later release. An administrator pastes or uploads the
notice here (the format of `onething calendar import`), and due dates count with
it from the next request on.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from onething.accounts.service import current_account
from onething.cases.clock import enter_notice
from onething.cases.holidays import (
    EXAMPLE,
    NoticeRefused,
    days_of,
    entered_years,
    parse_notice,
    review_notice,
)
from onething.storage.models import HolidayYear
from onething.web.extensions import get_session
from onething_admin.views import _guard

bp = Blueprint("admin_calendar", __name__, url_prefix="/admin/calendar",
               template_folder="templates")


# Administrators only, CSRF on every change: the console's one guard.
bp.before_request(_guard)


def _render(*, problems=None, text: str = "", entered: int | None = None, status: int = 200,
            review=None):
    template = ("admin/_calendar_import.html" if request.headers.get("HX-Request")
                else "admin/calendar.html")
    response = render_template(template, years=entered_years(get_session()),
                               problems=problems, text=text, entered=entered, example=EXAMPLE,
                               review=review)
    return response, status, {"Vary": "HX-Request"}


@bp.get("/")
def index():
    """The years entered, and the form to enter a year's notice."""
    return _render(entered=request.args.get("entered", type=int))


@bp.post("/")
def enter():
    """Enter a year's notice, pasted or uploaded; a notice with problems changes nothing.

    One that would replace an entered year, or names no day of a statutory festival, is
    first shown with what it changes, and entered once the administrator confirms it
    (confirmed=yes): a 2027 notice with only 元旦 would otherwise make 春节 working days.
    """
    upload = request.files.get("file")
    text = request.form.get("notice", "")
    if upload is not None and upload.filename:
        text = upload.read().decode("utf-8", errors="replace")
    try:
        notice = parse_notice(text)
    except NoticeRefused as refused:
        return _render(problems=refused.problems, text=text, status=422)
    review = review_notice(get_session(), notice)
    if review.needs_confirmation and request.form.get("confirmed") != "yes":
        return _render(text=text, review=review)
    enter_notice(get_session(), notice, current_account().username)
    done = url_for("admin_calendar.index", entered=notice.year)
    if not request.headers.get("HX-Request"):
        return redirect(done)
    # The whole page again: its table of years above the form lists the year just entered.
    return "", 204, {"HX-Redirect": done}


@bp.get("/<int:year>")
def year(year: int):
    """The days a year's entered notice names."""
    entered = get_session().get(HolidayYear, year) if 2000 <= year <= 2100 else None
    if entered is None:
        abort(404)
    return render_template("admin/calendar_year.html", year=entered,
                           days=days_of(get_session(), year))
