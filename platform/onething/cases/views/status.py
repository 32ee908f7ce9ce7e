"""The receipt (受理回执) and the status page, opened by tracking number plus token."""

from __future__ import annotations

import copy
import io

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlmodel import col, select
from werkzeug.exceptions import NotFound

from onething.cases.views import (
    SUBMISSIONS,
    front_desk_clerk,
    public_url,
    remember,
    remembered,
)
from onething.cases.views.applicant import applicant_submission, show_verified, verified_values
from onething.cases.workflow import (
    find_submission,
    submission_composition,
    tasks_of,
    typed_tracking_number,
)
from onething.composer.compose import compose_submitted
from onething.publishing.versions import bundle_of, get_version
from onething.storage.models import Draft, Submission
from onething.web.extensions import get_session

bp = Blueprint("status", __name__, url_prefix="/s", template_folder="../templates")


def load_submission(tracking_number: str):
    """The submission, if the request holds its token or the signed-in clerk filed it;
    404 otherwise (no hint which is wrong). The token is None for the clerk without it."""
    token = remembered(SUBMISSIONS, tracking_number)
    submission = find_submission(get_session(), tracking_number, token) if token else None
    if submission is None:
        submission = clerk_submission(tracking_number) or applicant_submission(tracking_number)
        if submission is None:
            abort(404, description="submission")
        return submission, None
    remember(SUBMISSIONS, tracking_number, token)
    return submission, token


def clerk_submission(tracking_number: str) -> Submission | None:
    """The submission, if the signed-in front-desk clerk filed its draft."""
    clerk = front_desk_clerk()
    if clerk is None:
        return None
    return get_session().exec(select(Submission).join(
        Draft, col(Draft.id) == col(Submission.draft_id)).where(
        Submission.tracking_number == tracking_number.strip().upper(),
        Draft.created_by == clerk)).first()


def status_url(tracking_number: str, token: str) -> str:
    """The absolute URL of the status page, with its token, for QR codes."""
    return public_url("status.receipt", tracking_number=tracking_number, token=token)


@bp.get("/")
def lookup():
    """Find a case by tracking number and token (a form that works without JavaScript)."""
    tracking_number = typed_tracking_number(request.args.get("tracking_number", ""))
    token = "".join(request.args.get("token", "").split())
    if tracking_number and token:
        submission = find_submission(get_session(), tracking_number, token)
        if submission is not None:
            return redirect(url_for("status.receipt", tracking_number=tracking_number,
                                    token=token))
        # The form again with what was typed and what to check: no dead end, and no hint
        # of whether the number exists (a code is guessed no faster here than anywhere).
        return render_template("lookup.html", tracking_number=tracking_number, token=token,
                               not_found=True), 404
    return render_template("lookup.html", tracking_number=tracking_number, token=token)


@bp.get("/<tracking_number>")
def receipt(tracking_number: str):
    """The receipt and the case's progress: each department, its state and due date."""
    try:
        submission, token = load_submission(tracking_number)
    except NotFound:
        # A number typed or shared without its query code, or with a wrong one: the lookup
        # form with the number in it says what to enter and where to find it. The same page
        # for every number: it tells nobody whether one exists.
        token = "".join(request.args.get("token", "").split())
        return render_template("lookup.html", tracking_number=typed_tracking_number(
            tracking_number), token=token, not_found=bool(token)), 404
    return _receipt_page(submission, token)


def _receipt_page(submission, token: str | None, owed_problem=None) -> str:
    from onething.cases.inspections import inspection_of
    from onething.cases.licences import licence_of

    tracking_number = submission.tracking_number
    version = get_version(get_session(), submission.bundle_version_id)
    bundle = bundle_of(version)
    composition = compose_submitted(bundle, submission.answers)
    tasks = tasks_of(get_session(), submission)
    corrected = next((task for task in tasks
                      if str(task.id) == request.args.get("corrected", "")), None)
    from onething.cases.clock import SPECIAL_KINDS

    return render_template("status.html", submission=submission, bundle=bundle,
                           corrected=corrected, special_kinds=SPECIAL_KINDS,
                           owed_problem=owed_problem,
                           licence=licence_of(get_session(), submission.id),
                           inspection=inspection_of(get_session(), submission.id),
                           composition=composition, tasks=tasks, version=version, token=token,
                           # Only a hash of the token is kept: a clerk reopening the case
                           # without it gets no QR code (the applicant has the printed one).
                           qr_url=url_for("status.qr", tracking_number=tracking_number,
                                          token=token) if token else None,
                           link=status_url(tracking_number, token) if token else None)


@bp.post("/<tracking_number>/owed/<material_id>")
def supply_owed(tracking_number: str, material_id: str):
    """Hand in a material accepted as owed (容缺受理), before the departments decide."""
    from onething.cases.decisions import DecisionRefused, decision_problem, supply_deferred
    from onething.cases.uploads import store_upload, uploaded_entry

    submission, token = load_submission(tracking_number)
    upload = request.files.get("file")
    problem, refusal = None, None
    if upload is None or not upload.filename:
        problem = "missing_file"
    else:
        stored, problem = store_upload(upload)
    if problem is None:
        try:
            supply_deferred(get_session(), submission, material_id,
                            uploaded_entry(stored, upload.filename), "applicant")
        except DecisionRefused as refused:
            refusal = decision_problem(refused)
    if problem is None and refusal is None:
        return redirect(url_for("status.receipt", tracking_number=tracking_number,
                                token=token) + "#owed")
    get_session().rollback()
    # The page again with the reason beside the item: nothing was handed in.
    return _receipt_page(submission, token, owed_problem={
        "material": material_id, "upload": problem, "text": refusal}), (
        413 if problem == "too_large" else 409 if refusal else 422)


@bp.get("/<tracking_number>/application.pdf")
def application_pdf(tracking_number: str):
    """The application form (申请表) as a PDF, drawn on request from what was submitted."""
    from onething.cases.application import application_html, render_pdf

    submission, token = load_submission(tracking_number)
    composition = submission_composition(get_session(), submission)
    # The applicant's copy scans to the status page; without the token, to the number only.
    html = application_html(composition, submission, data=submission.data,
                            materials=submission.materials,
                            qr_text=status_url(submission.tracking_number, token) if token
                            else submission.tracking_number)
    return Response(render_pdf(html), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{submission.tracking_number}.pdf"',
        "Cache-Control": "private, no-store"})


@bp.get("/<tracking_number>/qr.svg")
def qr(tracking_number: str):
    """A QR code of the status page, for the applicant's phone."""
    _, token = load_submission(tracking_number)
    if token is None:
        abort(404, description="submission")
    out = io.BytesIO()
    segno.make(status_url(tracking_number, token), error="m").save(
        out, kind="svg", scale=4, border=2, xmldecl=False, title="QR")
    return Response(out.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.route("/<tracking_number>/corrections/<row_id:task_id>", methods=["GET", "POST"])
def correction(tracking_number: str, task_id: int):
    """A department's request for correction (补正): only the fields and materials it named."""
    from onething.cases.decisions import DecisionRefused, resubmit
    from onething.cases.forms import fields_of, get_path, parse_field, set_path
    from onething.cases.uploads import store_upload, uploaded_entry
    from onething.composer.validation import field_errors
    from onething.storage.models import Task

    submission, _token = load_submission(tracking_number)
    task = get_session().get(Task, task_id)
    if task is None or task.submission_id != submission.id or not task.supplement:
        abort(404, description="submission")
    version = get_version(get_session(), submission.bundle_version_id)
    bundle = bundle_of(version)
    composition = compose_submitted(bundle, submission.answers)
    requested = task.supplement
    # The page asks whole fields; a request stored naming a part of one (a row, a part of
    # an address: refused since) asks the field holding it.
    entries = [e for e in fields_of(composition.layout)
               if any(p == e["path"] or p.startswith(e["path"] + ".")
                      for p in requested["fields"])]
    # What the identity platform verified, or a licence's authority certified (trust A),
    # is not the applicant's to correct here: shown read-only, kept whatever a post says.
    draft = get_session().get(Draft, submission.draft_id)
    verified = verified_values(draft, composition.layout)
    show_verified(verified)
    g.prefill = {path: record for path, record in (draft.prefill or {}).items()
                 if record.get("locked")}
    fixed = set(verified) | set(g.prefill)
    data = submission.data
    errors: dict = {}
    upload_errors: dict = {}
    if request.method == "POST":
        data = copy.deepcopy(submission.data)
        for entry in entries:
            if entry["path"] not in fixed:
                set_path(data, entry["path"], parse_field(entry, request.form))
        found = field_errors(composition, data)
        errors = {path: found[path] for path in found
                  if any(path == p or path.startswith(p + ".") for p in requested["fields"])}
        materials = {}
        for material_id in requested["materials"]:
            upload = request.files.get(f"material.{material_id}")
            stored, problem = store_upload(upload) if upload and upload.filename else (
                None, "missing_file")
            if problem:
                upload_errors[material_id] = problem
            else:
                materials[material_id] = uploaded_entry(stored, upload.filename)
        if not errors and not upload_errors:
            try:
                # Each step's slice, so the other departments get the value as they hold it.
                slices = {(step.matter, step.department): step.slice
                          for step in composition.plan.steps}
                resubmit(get_session(), task, submission, data, materials, "applicant",
                         slices=slices)
            except DecisionRefused:
                abort(404, description="submission")
            # Said on the receipt: the correction went to the department that asked.
            return redirect(url_for("status.receipt", tracking_number=tracking_number,
                                    corrected=task.id))
    return render_template("correction.html", submission=submission, bundle=bundle,
                           composition=composition, task=task, entries=entries, data=data,
                           errors=errors, upload_errors=upload_errors, get_path=get_path), (
        422 if errors or upload_errors else 200)


@bp.get("/<tracking_number>/certificates/<row_id:task_id>")
def certificate(tracking_number: str, task_id: int):
    """Download an issued certificate's file, once it is released to the applicant."""
    from flask import send_file

    from onething.cases.uploads import stored_path
    from onething.storage.models import Task

    submission, _token = load_submission(tracking_number)
    task = get_session().get(Task, task_id)
    if (task is None or task.submission_id != submission.id or not task.certificate_file
            or task.status != "approved"):
        abort(404, description="submission")
    # Released when the case has ended with this matter approved (all approved, or some
    # after a refusal), or matter by matter if the bundle says.
    from onething.cases.decisions import CASE_ENDED

    if submission.status not in CASE_ENDED and bundle_of(
            get_version(get_session(), submission.bundle_version_id)).release != "per_matter":
        abort(404, description="submission")
    stored = task.certificate_file
    path = stored_path(stored["file"])
    if not path.exists():
        abort(404, description="submission")
    return send_file(path, mimetype=stored["content_type"], as_attachment=True,
                     download_name=stored["filename"])
