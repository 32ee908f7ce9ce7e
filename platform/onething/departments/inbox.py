"""A department's inbox: only its own tasks, each with only its slice of the submission.

Staff belong to one department. Everything here is looked up through that
department, so a task of another department is simply not found (404), in
lists, pages and file downloads alike; nothing says it exists.

The lead department (牵头部门) of a bundle, whose window accepts its cases (一窗受理),
also follows each case it leads: every task's department, status and due date, so it
can coordinate, but none of the fields or materials of the other departments' slices.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, send_file
from sqlalchemy import func
from sqlmodel import col, select

from onething.accounts.service import current_account, role_required
from onething.cases.handover import produced_fields, read_values
from onething.cases.uploads import slice_material, store_upload
from onething.catalog.workdays import add_working_days, china_today
from onething.composer.compose import compose
from onething.publishing.versions import bundle_of, get_version
from onething.storage.db import paginate
from onething.storage.models import TASK_STATUSES, BundleVersion, Submission, Task
from onething.web.extensions import csrf, get_session

bp = Blueprint("inbox", __name__, url_prefix="/inbox", template_folder="templates")

# A task due within this many working days is highlighted as soon due.
SOON_DAYS = 2
# Cases the lead department sees at a time.
CASES_PAGE_SIZE = 50
# What the lead department sees of another department's task: never its slice.
_COORDINATION = (Task.id, Task.submission_id, Task.matter_code, Task.department_code,
                 Task.status, Task.waits_for, Task.due_date, Task.due_estimated,
                 Task.decided_at)


@bp.before_request
@role_required("department_staff")
def _guard():
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


def _department() -> str:
    return current_account().department_code


def _own_task(task_id: int) -> Task:
    """A task of the signed-in person's department; any other is not found."""
    task = get_session().exec(select(Task).where(
        Task.id == task_id, Task.department_code == _department())).first()
    if task is None:
        abort(404, description="task")
    return task


@bp.get("/")
def index():
    """The department's tasks, filtered by status, bundle and due date, with counts."""
    session = get_session()
    department = _department()
    status = request.args.get("status", "")
    bundle = request.args.get("bundle", "")
    due = request.args.get("due", "")
    today = china_today()
    soon = add_working_days(today, SOON_DAYS).date
    statement = (select(Task, Submission.tracking_number, BundleVersion.bundle_code)
                 .join(Submission, col(Submission.id) == col(Task.submission_id))
                 .join(BundleVersion, col(BundleVersion.id) == col(Submission.bundle_version_id))
                 .where(Task.department_code == department)
                 .order_by(col(Task.due_date), col(Task.id)))
    if status in TASK_STATUSES:
        statement = statement.where(Task.status == status)
    if bundle:
        statement = statement.where(BundleVersion.bundle_code == bundle)
    if due == "overdue":
        statement = statement.where(col(Task.due_date) < today)
    elif due == "soon":
        statement = statement.where(col(Task.due_date) >= today, col(Task.due_date) <= soon)
    rows = session.exec(statement.limit(500)).all()
    context = {"rows": rows, "status": status, "bundle": bundle, "due": due, "today": today,
               "soon": soon, "statuses": TASK_STATUSES, "account": current_account()}
    if request.headers.get("HX-Request"):
        # A filter change swaps the rows only: the counts and the bundle list stay on the page.
        return render_template("_inbox_rows.html", **context)
    counts = dict(session.exec(select(Task.status, func.count()).where(
        Task.department_code == department).group_by(Task.status)).all())
    bundles = sorted(set(session.exec(
        select(BundleVersion.bundle_code).join(Submission, col(Submission.bundle_version_id)
                                               == col(BundleVersion.id))
        .join(Task, col(Task.submission_id) == col(Submission.id))
        .where(Task.department_code == department)).all()))
    return render_template("inbox.html", counts=counts, bundles=bundles, **context)


@bp.get("/tasks/<row_id:task_id>")
def task(task_id: int):
    """One task: its slice of fields, its materials, what is still owed and what was promised."""
    return _render_task(_own_task(task_id))


def _composition_of(task: Task):
    session = get_session()
    submission = session.get(Submission, task.submission_id)
    return compose(bundle_of(get_version(session, submission.bundle_version_id)),
                   submission.answers)


def _render_task(task: Task, *, refused=None, upload_problem=None, status: int = 200,
                 handover_errors=None, typed=None, clock_refused=None):
    from onething.cases import clock
    from onething.cases.decisions import ALLOWED, audit_of

    session = get_session()
    submission = session.get(Submission, task.submission_id)
    composition = _composition_of(task)
    # Which matters of the case were refused (names only: never another slice): with one,
    # the case cannot complete, and an open task may be closed.
    case_refused = [code for code in session.exec(select(Task.matter_code).where(
        Task.submission_id == task.submission_id, Task.status == "rejected",
        Task.id != task.id)).all()]
    actions = [action for action, states in ALLOWED.items() if task.status in states
               and (action != "close" or case_refused)]
    audit = audit_of(session, task)
    template = "_task_decision.html" if request.headers.get("HX-Request") else "task.html"
    return render_template(template, task=task, submission=submission,
                           composition=composition, today=china_today(),
                           account=current_account(), actions=actions, refused=refused,
                           certificate_upload_problem=upload_problem,
                           handover_errors=handover_errors or {}, typed=typed or {},
                           audit=audit, case_refused=list(dict.fromkeys(case_refused)),
                           corrections=[e for e in audit if e.action == "correct"],
                           clock_refused=clock_refused, special_kinds=clock.SPECIAL_KINDS,
                           calendar_unknown=clock.calendar_unknown(session, task)), status


@bp.get("/tasks/<row_id:task_id>/materials/<material_id>")
def material(task_id: int, material_id: str):
    """Download a material of the task's slice (never one of another department's)."""
    found = slice_material(_own_task(task_id), material_id)
    if found is None:
        abort(404, description="task")
    entry, path = found
    return send_file(path, mimetype=entry["content_type"], as_attachment=True,
                     download_name=entry.get("filename") or material_id)


@bp.post("/tasks/<row_id:task_id>/decide")
def decide_task(task_id: int):
    """Accept, approve (with a certificate number), reject or close (with a reason) a task."""
    from onething.cases.decisions import DecisionRefused, decide

    task = _own_task(task_id)
    form = request.form
    certificate_file = None
    upload = request.files.get("certificate_file")
    if form.get("action") == "approve" and upload is not None and upload.filename:
        stored, problem = store_upload(upload)
        if problem:
            return _render_task(task, upload_problem=problem, status=422)
        certificate_file = {"file": stored.sha256, "filename": upload.filename,
                            "content_type": stored.content_type}
    produced = None
    if form.get("action") == "approve" and task.status == "accepted" and produced_fields(task):
        produced, errors = read_values(_composition_of(task).bundle.catalog, task, form)
        if errors:
            return _render_task(task, refused=DecisionRefused("produced"), status=422,
                                handover_errors=errors, typed=form)
    try:
        decide(get_session(), task, form.get("action", ""), current_account().username,
               certificate_number=form.get("certificate_number"), reason=form.get("reason"),
               fields=form.getlist("fields"), materials=form.getlist("materials"),
               certificate_file=certificate_file, produced=produced)
    except DecisionRefused as refused:
        return _render_task(task, refused=refused, status=409 if refused.task else 422)
    if not request.headers.get("HX-Request"):
        from flask import redirect, url_for

        return redirect(url_for("inbox.task", task_id=task.id))
    return _render_task(task)


@bp.post("/tasks/<row_id:task_id>/special-procedure")
def special_procedure(task_id: int):
    """Declare a special procedure (特别程序) on a task, with its kind and reason, or end it."""
    from onething.cases import clock

    task = _own_task(task_id)
    form = request.form
    try:
        if form.get("end"):
            clock.end_special_procedure(get_session(), task, current_account().username)
        else:
            clock.begin_special_procedure(get_session(), task, form.get("kind", ""),
                                          form.get("reason", ""), current_account().username)
    except clock.ClockRefused as refused:
        return _render_task(task, clock_refused=refused,
                            status=409 if refused.code in ("state", "none_open") else 422)
    if not request.headers.get("HX-Request"):
        from flask import redirect, url_for

        return redirect(url_for("inbox.task", task_id=task.id))
    return _render_task(task)


@bp.get("/cases")
def cases():
    """The cases this department leads, newest first, 50 a page, with each task's progress."""
    session = get_session()
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    statement = (select(Submission.id, Submission.tracking_number, Submission.submitted_at,
                        BundleVersion.bundle_code, BundleVersion.name)
                 .join(BundleVersion, col(BundleVersion.id) == col(Submission.bundle_version_id))
                 .where(Submission.lead_department == _department())
                 .order_by(col(Submission.submitted_at).desc(), col(Submission.id).desc()))
    page = paginate(session, statement, number, CASES_PAGE_SIZE)
    tasks: dict[int, list] = {row.id: [] for row in page.rows}
    if tasks:
        for task in session.exec(select(*_COORDINATION).where(
                col(Task.submission_id).in_(list(tasks))).order_by(col(Task.id))).all():
            tasks[task.submission_id].append(task)
    return render_template("inbox_cases.html", rows=page.rows, tasks=tasks, total=page.total,
                           page=page.number, pages=page.pages, today=china_today(),
                           account=current_account())


@bp.get("/cases/<tracking_number>")
def case(tracking_number: str):
    """One case this department leads: every task's department, status, due date, decision."""
    session = get_session()
    submission = session.exec(select(Submission).where(
        Submission.tracking_number == tracking_number[:32],
        Submission.lead_department == _department())).first()
    if submission is None:
        abort(404, description="task")
    version = get_version(session, submission.bundle_version_id)
    tasks = session.exec(select(*_COORDINATION, Task.certificate_number, Task.reason)
                         .where(Task.submission_id == submission.id)
                         .order_by(col(Task.id))).all()
    return render_template("inbox_case.html", submission=submission, version=version,
                           catalog=bundle_of(version).catalog, tasks=tasks, today=china_today(),
                           account=current_account())
