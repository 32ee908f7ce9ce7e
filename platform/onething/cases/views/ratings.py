"""Rating a case on its status page (好差评): the `_rating.html` partial and where it posts.

The partial is self-contained: the status page includes it in one line, and it asks
`rating_panel` for what it shows, so the page's own view passes nothing for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from onething.cases import ratings
from onething.cases.views import front_desk_clerk
from onething.cases.views.status import load_submission, receipt
from onething.cases.workflow import tasks_of
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import Rating, Rectification, Submission, Task, utc_now
from onething.web.extensions import get_session

bp = Blueprint("ratings", __name__, url_prefix="/s", template_folder="../templates")


@dataclass
class Target:
    """Something of the case the applicant can rate: a decided task, or the ended case."""

    key: str
    task: Task | None
    rating: Rating | None
    rectifications: list[Rectification] = field(default_factory=list)
    changeable: bool = True

    @property
    def slug(self) -> str:
        """The key as it can stand in an element id."""
        return self.key.replace(":", "-")


def _panel(submission: Submission, tasks: list[Task]) -> dict:
    session = get_session()
    given = ratings.ratings_of(session, submission)
    followed = ratings.rectifications_of(session, submission)
    now = utc_now()
    targets = []
    for task in tasks:
        if task.status in ratings.RATABLE_TASK:
            targets.append(Target(f"task:{task.id}", task, given.get(f"task:{task.id}")))
    if submission.status in ratings.CASE_ENDED:
        targets.append(Target("case", None, given.get("case")))
    for target in targets:
        if target.rating is not None:
            target.rectifications = followed.get(target.rating.id, [])
            target.changeable = now <= ratings.changeable_until(target.rating)
    refused = getattr(g, "rating_refused", None)
    typed = getattr(g, "rating_typed", None)
    # A refusal about something the page offers no form for (an undecided matter, a case
    # still open) is shown above the forms instead of beside one.
    apart = refused is not None and (typed or {}).get("target") not in {t.key for t in targets}
    return {"refused_apart": apart, "targets": targets, "levels": ratings.LEVELS,
            "tags": ratings.TAGS,
            "comment_length": ratings.COMMENT_LENGTH, "change_days": ratings.CHANGE_DAYS,
            "refused": refused, "typed": typed,
            "clerk": front_desk_clerk(), "is_bad": ratings.is_bad,
            "changeable_until": ratings.changeable_until}


@bp.app_template_global()
def rating_panel(submission: Submission, tasks: list[Task]) -> dict:
    """What the rating partial shows for a case: its targets, their ratings and replies."""
    return _panel(submission, tasks)


@bp.post("/<tracking_number>/ratings")
def rate(tracking_number: str):
    """Give or change a rating; refused with the reason beside the form, nothing changed."""
    submission, _token = load_submission(tracking_number)
    form = request.form
    try:
        ratings.rate(get_session(), submission, form.get("target", ""), form.get("level"),
                     form.getlist("tags"), form.get("comment"), clerk=front_desk_clerk(),
                     rectification_days=current_app.config["RECTIFICATION_DAYS"])
    except ratings.RatingRefused as refused:
        get_session().rollback()
        g.rating_refused = refused
        g.rating_typed = {"target": form.get("target", ""), "level": form.get("level"),
                          "tags": form.getlist("tags"), "comment": form.get("comment", "")}
        if refused.code == "target":
            from flask import abort

            abort(404, description="submission")
        if request.headers.get("HX-Request"):
            return _partial(submission), refused.status
        return receipt(tracking_number), refused.status
    if request.headers.get("HX-Request"):
        return _partial(submission)
    return redirect(url_for("status.receipt", tracking_number=tracking_number) + "#ratings",
                    code=303)


def _partial(submission: Submission):
    session = get_session()
    bundle = bundle_of(get_version(session, submission.bundle_version_id))
    return render_template("_rating.html", submission=submission, bundle=bundle,
                           tasks=tasks_of(session, submission))
