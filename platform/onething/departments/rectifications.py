"""A department's ratings follow-up (差评整改): its rectifications, each verified, answered,
called back and closed; overdue ones are flagged in the inbox.

Everything is looked up through the signed-in person's department, as in the inbox:
another department's rectification is not found (404).
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlmodel import col, select

from onething.accounts.service import current_account, staff_guard
from onething.cases import ratings
from onething.catalog.workdays import china_today
from onething.departments.inbox import service_names
from onething.storage.db import paginate
from onething.storage.models import Rating, RatingChange, Rectification, Submission
from onething.web.extensions import get_session

bp = Blueprint("rectifications", __name__, url_prefix="/inbox/rectifications",
               template_folder="templates")

PAGE_SIZE = 50
# The list's filters: what is still to do, overdue, or everything.
SHOWN = ("todo", "overdue", "closed", "all")


staff_guard(bp)


def _department() -> str:
    return current_account().department_code


def _own(rectification_id: int) -> Rectification:
    row = get_session().exec(select(Rectification).where(
        Rectification.id == rectification_id,
        Rectification.department_code == _department())).first()
    if row is None:
        abort(404, description="task")
    return row


@bp.get("/")
def index():
    """The department's rectifications, soonest due first; open ones by default."""
    session = get_session()
    shown = request.args.get("show", "todo")
    if shown not in SHOWN:
        shown = "todo"
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    today = china_today()
    statement = (select(Rectification, Submission.tracking_number)
                 .join(Submission, col(Submission.id) == col(Rectification.submission_id))
                 .where(Rectification.department_code == _department()))
    if shown in ("todo", "overdue"):
        statement = statement.where(col(Rectification.status).in_(("open", "replied")))
    if shown == "overdue":
        statement = statement.where(col(Rectification.due_date) < today)
    if shown == "closed":
        statement = statement.where(Rectification.status == "closed")
    statement = statement.order_by(col(Rectification.due_date), col(Rectification.id))
    page = paginate(session, statement, number, PAGE_SIZE)
    codes = {row.Rectification.matter_code or "" for row in page.rows} | {
        row.Rectification.bundle_code for row in page.rows}
    return render_template("rectifications.html", page=page, shown=shown, today=today,
                           names=service_names(session, codes - {""}),
                           overdue=ratings.overdue(session, _department(), today),
                           levels=ratings.LEVELS, states=ratings.RECTIFICATION_STATES,
                           account=current_account())


def _render(row: Rectification, refused: ratings.RatingRefused | None = None,
            typed: dict | None = None, status: int = 200):
    session = get_session()
    rating = session.get(Rating, row.rating_id)
    submission = session.get(Submission, row.submission_id)
    history = session.exec(select(RatingChange).where(RatingChange.rating_id == rating.id)
                           .order_by(col(RatingChange.id))).all()
    codes = {row.bundle_code} | ({row.matter_code} if row.matter_code else set())
    return render_template("rectification.html", row=row, rating=rating, history=history,
                           submission=submission, today=china_today(), refused=refused,
                           typed=typed or {}, levels=ratings.LEVELS, tags=ratings.TAGS,
                           results=ratings.CALLBACK_RESULTS,
                           states=ratings.RECTIFICATION_STATES,
                           names=service_names(session, codes), account=current_account(),
                           text_length=ratings.TEXT_LENGTH), status


@bp.get("/<row_id:rectification_id>")
def show(rectification_id: int):
    """One rectification: the rating with its history, and the steps to take."""
    return _render(_own(rectification_id))


@bp.post("/<row_id:rectification_id>/<step>")
def act(rectification_id: int, step: str):
    """Reply (核实、整改、答复), record the call-back (回访), or close."""
    row = _own(rectification_id)
    form = request.form
    actor = current_account().username
    try:
        if step == "reply":
            ratings.respond(get_session(), row, form.get("verified"), form.get("fix"),
                            form.get("reply"), actor)
        elif step == "callback":
            ratings.call_back(get_session(), row, form.get("result"), form.get("note"), actor)
        elif step == "close":
            ratings.close(get_session(), row, actor)
        else:
            abort(404)
    except ratings.RatingRefused as refused:
        get_session().rollback()
        return _render(_own(rectification_id), refused, dict(form, step=step), refused.status)
    return redirect(url_for("rectifications.show", rectification_id=row.id), code=303)
