"""Signing in and out (staff and administrators; applicants never need an account)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from onething.accounts.applicants import end_someone_elses_session
from onething.accounts.service import (
    authenticate,
    blocked_until,
    current_account,
    forget_attempt,
    record_attempt,
    safe_next,
    sign_in,
    sign_out,
)
from onething.catalog.workdays import china_time
from onething.storage.models import utc_now
from onething.web.extensions import csrf, get_session

bp = Blueprint("auth", __name__, template_folder="templates")


@bp.before_request
def _protect():
    csrf.protect()


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; on success, back to where the person was going."""
    target = safe_next(request.values.get("next"))
    error, status = None, 200
    if request.method == "POST":
        session = get_session()
        username = request.form.get("username", "").strip()
        # Failures only, per address and per name (LOGIN_RATE_LIMIT): enough for typos,
        # too few for guessing, and a hall's colleagues behind one NAT never block each
        # other by signing in.
        limit, address = current_app.config["LOGIN_RATE_LIMIT"], request.remote_addr or ""
        attempt = record_attempt(session, limit, address, username)
        blocked = blocked_until(session, limit, address, username)
        if blocked is not None:
            # Refused unread, it failed at nothing: counted, it would push the time said
            # below later at every try, so that trying then would be refused again.
            forget_attempt(session, attempt)
            # The minute said is one when trying succeeds: 18:19:36 is said 18:20.
            shown = blocked.replace(second=0, microsecond=0)
            shown += dt.timedelta(minutes=1) if shown < blocked else dt.timedelta(0)
            error, status = _l("Too many failed sign-ins. Try again after %(time)s "
                               "(Beijing time).", time=china_time(shown, "%H:%M")), 429
        else:
            account = authenticate(session, username, request.form.get("password", ""))
            if account is not None:
                forget_attempt(session, attempt)
                end_someone_elses_session(account_id=account.id)
                sign_in(account)
                home = {"administrator": "admin.index", "department_staff": "inbox.index",
                        "front_desk": "desk.cases"}.get(account.role, "catalog.index")
                return redirect(target or url_for(home))
            error, status = _l("The username or password is wrong."), 401
    # Sent here because this browser's sign-in ended (sign_in_again): say why.
    ended = request.method == "GET" and request.args.get("ended") == "1" and error is None
    left = request.method == "GET" and request.args.get("left") == "1" and error is None
    response = render_template("login.html", next=target, error=error, ended=ended, left=left,
                               account=current_account()), status
    if status == 429:
        return (*response, {"Retry-After": str(max(1, int(
            (blocked - utc_now()).total_seconds()) + 1))})
    return response


@bp.post("/logout")
def logout():
    """Sign out, and say so on the sign-in page: at a shared desk the next person signs in."""
    sign_out()
    return redirect(url_for("auth.login", left="1"))
