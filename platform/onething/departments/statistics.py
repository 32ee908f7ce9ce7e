"""A department's own numbers, in its inbox: its tasks, time taken, ratings and rectifications.

The same figures as the public page (cases/statistics.py), always of the signed-in
person's department: a `department` parameter is ignored, as every inbox page looks
things up through the account.
"""

from __future__ import annotations

from flask import Blueprint

from onething.accounts.service import current_account, role_required
from onething.cases.views.statistics import render

bp = Blueprint("department_statistics", __name__, url_prefix="/inbox/statistics",
               template_folder="templates")


@bp.before_request
@role_required("department_staff")
def _guard():
    pass


@bp.get("/")
def index():
    """The department's statistics, by month unless asked otherwise."""
    account = current_account()
    return render("statistics_department.html", "department_statistics.index",
                  department=account.department_code, account=account)
