"""The console's lifecycle pages: accounts, API tokens and the audit log, at /admin.

Each change is a form POST that works without JavaScript (it redirects back with what
happened) and that htmx sends in place; a refused change answers 422 with its message
and changes nothing. Every change is appended to the audit log by the services.
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlmodel import col, select

from onething.accounts.service import (
    CHANGE_REFUSALS,
    ChangeRefused,
    accounts_statement,
    current_account,
    find_account,
    set_disabled,
    set_password,
    set_role,
)
from onething.catalog.workdays import CHINA_TZ
from onething.departments.api import revoke_token, tokens_statement
from onething.departments.webhooks import find_webhook, rotate_secret, set_active
from onething.storage.db import paginate
from onething.storage.models import (
    MAX_ROW_ID,
    ROLES,
    AuditEntry,
    CatalogEntry,
    PublishedService,
    Rating,
    Rectification,
    Submission,
    Task,
    utc_now,
)
from onething.web.extensions import get_session
from onething.web.templating import AUDIT_ACTIONS
from onething_admin.views import _departments, _guard, _page_number, _render_failed

bp = Blueprint("lifecycle", __name__, url_prefix="/admin", template_folder="templates")
bp.before_request(_guard)

# Rows of the audit log shown at a time.
AUDIT_PAGE_SIZE = 50
DONE = {
    "disabled": _l("The account is disabled: it was signed out at once."),
    "enabled": _l("The account is enabled again."),
    "password": _l("The password was reset. Give it to its holder in person."),
    "role": _l("The role was changed."),
    "unchanged": _l("Nothing changed."),
    "revoked": _l("The token is revoked: the API refuses it from now on."),
    "webhook_disabled": _l("The webhook is disabled: its events wait until it is enabled."),
    "webhook_enabled": _l("The webhook is enabled: waiting events go out in order."),
}
BAD_DATE = _l("A date is written like 2026-11-30.")
ROTATE_UNCONFIRMED = _l("Tick the box to confirm: with a new secret the department's system "
                        "refuses every delivery until it is given the secret.")


def _actor() -> str:
    return current_account().username


def _partial() -> bool:
    return bool(request.headers.get("HX-Request"))


def _department_choices():
    rows = get_session().exec(select(CatalogEntry.code).where(
        CatalogEntry.kind == "department").order_by(col(CatalogEntry.code))).all()
    return list(rows), _departments(rows)


# --- accounts ---------------------------------------------------------------------------------


def _render_users(message=None, status: int = 200, error: bool = False):
    accounts = get_session().exec(accounts_statement()).all()
    catalog = _departments({a.department_code for a in accounts if a.department_code})
    template = "admin/_users.html" if _partial() else "admin/users.html"
    return render_template(template, accounts=accounts, catalog=catalog, message=message,
                           error=error, me=current_account()), status


@bp.get("/users")
def users():
    """Every account: its role, department and state, to disable or enable."""
    done = request.args.get("done")
    return _render_users(DONE.get(done))


def _account_or_404(username: str):
    account = find_account(get_session(), username)
    if account is None:
        abort(404)
    return account


def _render_user(account, message=None, status: int = 200, error: bool = False):
    session = get_session()
    codes, catalog = _department_choices()
    log = session.exec(select(AuditEntry).where(
        AuditEntry.subject == f"account:{account.username}")
        .order_by(col(AuditEntry.id).desc()).limit(20)).all()
    template = "admin/_user.html" if _partial() else "admin/user.html"
    return render_template(template, account=account, roles=ROLES, departments=codes,
                           catalog=catalog, log=log, message=message, error=error), status


@bp.get("/users/<username>")
def user(username: str):
    """One account: reset its password, change its role, and what was done to it."""
    return _render_user(_account_or_404(username), DONE.get(request.args.get("done")))


def _refused(refused: ChangeRefused, render):
    get_session().rollback()
    return render(str(CHANGE_REFUSALS[refused.code]), 422, True)


@bp.post("/users/<username>/disabled")
def set_user_disabled(username: str):
    """Disable (disabled=1) or enable (disabled=0) an account."""
    account = _account_or_404(username)
    disabled = request.form.get("disabled") == "1"
    try:
        changed = set_disabled(get_session(), account, disabled, _actor())
    except ChangeRefused as refused:
        return _refused(refused, lambda m, s, e: _render_users(m, s, e))
    done = ("disabled" if disabled else "enabled") if changed else "unchanged"
    if not _partial():
        return redirect(url_for("lifecycle.users", done=done))
    return _render_users(DONE[done])


@bp.post("/users/<username>/password")
def reset_password(username: str):
    """Give an account a new password (typed twice)."""
    account = _account_or_404(username)
    password = request.form.get("password", "")
    render = lambda m, s, e: _render_user(account, m, s, e)  # noqa: E731
    if password != request.form.get("confirm", ""):
        return render(_l("The two passwords differ."), 422, True)
    try:
        set_password(get_session(), account, password, _actor())
    except ChangeRefused as refused:
        return _refused(refused, render)
    if not _partial():
        return redirect(url_for("lifecycle.user", username=username, done="password"))
    return render(DONE["password"], 200, False)


@bp.post("/users/<username>/role")
def change_role(username: str):
    """Change an account's role, and its department for department staff."""
    account = _account_or_404(username)
    role = request.form.get("role", "")
    department = request.form.get("department") if role == "department_staff" else None
    render = lambda m, s, e: _render_user(account, m, s, e)  # noqa: E731
    try:
        changed = set_role(get_session(), account, role, department, _actor())
    except ChangeRefused as refused:
        return _refused(refused, render)
    done = "role" if changed else "unchanged"
    if not _partial():
        return redirect(url_for("lifecycle.user", username=username, done=done))
    return render(DONE[done], 200, False)


# --- API tokens -------------------------------------------------------------------------------


def _render_tokens(message=None):
    session = get_session()
    page = paginate(session, tokens_statement(), _page_number("page"), AUDIT_PAGE_SIZE)
    catalog = _departments({row.department_code for row in page.rows})
    template = "admin/_tokens.html" if _partial() else "admin/tokens.html"
    return render_template(template, page=page, catalog=catalog, message=message,
                           now=utc_now())


@bp.get("/tokens")
def tokens():
    """Departments' API tokens: name, department, created, expires, revoked."""
    return _render_tokens(DONE.get(request.args.get("done")))


@bp.post("/tokens/<row_id:token_id>/revoke")
def revoke(token_id: int):
    """Revoke a token: the API refuses it from its next request."""
    if revoke_token(get_session(), token_id, _actor()) is None:
        abort(404)
    if not _partial():
        return redirect(url_for("lifecycle.tokens", done="revoked"))
    return _render_tokens(DONE["revoked"])


# --- webhooks: enabled or not, their secret -------------------------------------------------


def _hook_or_404(department: str):
    hook = find_webhook(get_session(), department)
    if hook is None:
        abort(404)
    return hook


def _render_settings(hook, message=None, secret=None):
    if _partial():
        return render_template("admin/_webhook_settings.html", hook=hook,
                               settings_message=message, secret=secret)
    # Without JavaScript, the whole page: a new secret must not travel in a redirect's URL.
    return _render_failed(hook.department_code, settings_message=message, secret=secret)


@bp.post("/webhooks/<department>/active")
def set_webhook_active(department: str):
    """Disable (active=0) or enable (active=1) a department's webhook."""
    hook = _hook_or_404(department)
    active = request.form.get("active") == "1"
    changed = set_active(get_session(), hook, active, _actor())
    done = ("webhook_enabled" if active else "webhook_disabled") if changed else "unchanged"
    if not _partial():
        return redirect(url_for("admin.webhook", department=department, done=done))
    return _render_settings(hook, DONE[done])


@bp.post("/webhooks/<department>/rotate")
def rotate_webhook_secret(department: str):
    """Give a department's webhook a new secret, shown this once, once confirmed: until
    the department's system has it, its signature checks refuse what is delivered."""
    hook = _hook_or_404(department)
    if request.form.get("confirm") != "yes":
        return _render_settings(hook, ROTATE_UNCONFIRMED), 422
    secret = rotate_secret(get_session(), hook, _actor())
    return _render_settings(hook, secret=secret)


# --- the audit log ----------------------------------------------------------------------------


def _day(text: str) -> dt.date | None:
    # YYYY-MM-DD within the years anything was recorded (and far from datetime's ends).
    if not text:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise ValueError(text)  # fromisoformat would also read a week date (2027-W01-1)
    day = dt.date.fromisoformat(text)
    if not 2000 <= day.year <= 2100:
        raise ValueError(text)
    return day


def case_subjects(text: str) -> list[str]:
    """The subjects a case filter names: a tracking number's submission, draft and tasks,
    else the subject as typed (task:42, account:desk, webhook:sn-amr)."""
    session = get_session()
    found = session.exec(select(Submission.id, Submission.draft_id).where(
        Submission.tracking_number == text.upper())).first()
    if found is None:
        return [text]
    submission_id, draft_id = found
    task_ids = session.exec(select(Task.id).where(Task.submission_id == submission_id)).all()
    # Its ratings (好差评) and their rectifications are the case's too.
    rating_ids = session.exec(select(Rating.id).where(
        Rating.submission_id == submission_id)).all()
    rectification_ids = session.exec(select(Rectification.id).where(
        Rectification.submission_id == submission_id)).all()
    return [f"submission:{submission_id}", f"draft:{draft_id}",
            *(f"task:{task_id}" for task_id in task_ids),
            *(f"rating:{rating_id}" for rating_id in rating_ids),
            *(f"rectification:{row_id}" for row_id in rectification_ids)]


@bp.get("/audit")
def audit():
    """The audit log, newest first, 50 a page: by person, case, action and dates."""
    filters = {key: request.args.get(key, "").strip()
               for key in ("actor", "case", "action", "since", "until")}
    statement = select(AuditEntry).order_by(col(AuditEntry.id).desc())
    message, status = None, 200
    try:
        since, until = _day(filters["since"]), _day(filters["until"])
    except ValueError:
        since = until = None
        message, status = BAD_DATE, 422
    if filters["actor"]:
        statement = statement.where(AuditEntry.actor == filters["actor"])
    if filters["case"]:
        statement = statement.where(col(AuditEntry.subject).in_(case_subjects(filters["case"])))
    if filters["action"]:
        statement = statement.where(AuditEntry.action == filters["action"])
    # Dates are the hall's (China Standard Time): a day runs from its midnight there.
    if since is not None:
        statement = statement.where(AuditEntry.at >= dt.datetime.combine(
            since, dt.time(), CHINA_TZ))
    if until is not None:
        statement = statement.where(AuditEntry.at < dt.datetime.combine(
            until + dt.timedelta(days=1), dt.time(), CHINA_TZ))
    if status == 422:
        statement = statement.where(AuditEntry.id < 0)  # a bad filter shows no rows
    page = paginate(get_session(), statement, _page_number("page"), AUDIT_PAGE_SIZE)
    template = "admin/_audit.html" if _partial() else "admin/audit.html"
    return render_template(template, page=page, filters=filters, actions=list(AUDIT_ACTIONS),
                           message=message, subject_link=subject_link,
                           names=audit_names(page.rows)), status


# Audit values that are codes of matters, bundles or departments.
_CODE_KEYS = ("department_code", "refused", "bundle")


def audit_names(rows) -> dict:
    """The matters, bundles and departments a page of audit entries names, by code: their
    names from the published directory (one query), for the log to show names."""
    codes = set()
    for entry in rows:
        for values in (entry.before or {}, entry.after or {}):
            codes.update(values[key] for key in _CODE_KEYS
                         if isinstance(values.get(key), str))
            reason = values.get("reason")
            if isinstance(reason, str) and reason.startswith("rejected:"):
                codes.add(reason.removeprefix("rejected:"))
    if not codes:
        return {}
    found = get_session().exec(select(
        PublishedService.code, PublishedService.name, PublishedService.department_code,
        PublishedService.department_name).where(
            col(PublishedService.code).in_(codes)
            | col(PublishedService.department_code).in_(codes))).all()
    names = {}
    for code, name, department, department_name in found:
        if code in codes:
            names[code] = name
        if department in codes and department_name:
            names[department] = department_name
    return names


def subject_link(subject: str) -> str | None:
    """Where an audit entry's subject is shown in the console, if anywhere."""
    kind, _, key = subject.partition(":")
    if kind == "account":
        return url_for("lifecycle.user", username=key)
    if kind == "webhook":
        return url_for("admin.webhook", department=key)
    if kind == "token":
        return url_for("lifecycle.tokens")
    if kind in ("task", "submission", "draft") and key.isdigit() and int(key) <= MAX_ROW_ID:
        return url_for("lifecycle.audit", case=subject)
    return None
