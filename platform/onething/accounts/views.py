"""Signing in and out (staff and administrators; applicants never need an account)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from onething.accounts.service import authenticate, current_account, safe_next, sign_in, sign_out
from onething.web.extensions import csrf, get_session, limiter

bp = Blueprint("auth", __name__, template_folder="templates")


def _login_limit() -> str:
    # Per address: enough for typos, too few for guessing (setting LOGIN_RATE_LIMIT).
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.before_request
def _protect():
    csrf.protect()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    """The sign-in form; on success, back to where the person was going."""
    target = safe_next(request.values.get("next"))
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        account = authenticate(get_session(), username, request.form.get("password", ""))
        if account is not None:
            sign_in(account)
            home = {"administrator": "admin.index", "department_staff": "inbox.index"}.get(
                account.role, "catalog.index")
            return redirect(target or url_for(home))
        error = _l("The username or password is wrong.")
    return render_template("login.html", next=target, error=error,
                           account=current_account()), (401 if error else 200)


@bp.post("/logout")
def logout():
    """Sign out, and go to the public catalog."""
    sign_out()
    return redirect(url_for("catalog.index"))
