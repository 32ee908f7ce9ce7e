"""Every department's numbers, for administrators: the statistics of cases/statistics.py over
the whole hall, by month, service, matter or department, or of one department."""

from __future__ import annotations

from flask import Blueprint
from sqlmodel import col, select

from onething.cases.views.statistics import render
from onething.storage.models import PublishedService
from onething.web.extensions import get_session
from onething_admin.views import _guard

bp = Blueprint("admin_statistics", __name__, url_prefix="/admin/statistics",
               template_folder="templates")

# Administrators only: the console's one guard.
bp.before_request(_guard)


@bp.get("/")
def index():
    """The hall's statistics, by department unless asked otherwise."""
    # One row per published matter, names as JSON (which PostgreSQL cannot DISTINCT).
    departments = get_session().exec(
        select(PublishedService.department_code, PublishedService.department_name)
        .where(col(PublishedService.kind) == "matter",
               col(PublishedService.department_code).is_not(None))
        .order_by(col(PublishedService.department_code))).all()
    unique = list(dict(departments).items())
    return render("admin/statistics.html", "admin_statistics.index", departments=unique,
                  default_by="department")
