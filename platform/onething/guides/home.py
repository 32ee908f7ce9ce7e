"""The catalog index: every published bundle, with its savings."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlmodel import func, select

from onething.composer.compose import compose
from onething.publishing.versions import WITHOUT_SNAPSHOT, bundle_of
from onething.storage.db import paginate
from onething.storage.models import BundleVersion
from onething.web.extensions import get_session

bp = Blueprint("catalog", __name__, template_folder="templates")


# Bundles the home page shows at a time.
PAGE_SIZE = 50


def _latest(kind: str):
    newest = (select(BundleVersion.bundle_code, func.max(BundleVersion.number).label("number"))
              .where(BundleVersion.kind == kind)
              .group_by(BundleVersion.bundle_code).subquery())
    return (select(BundleVersion)
            .join(newest, (BundleVersion.bundle_code == newest.c.bundle_code)
                  & (BundleVersion.number == newest.c.number))
            .order_by(BundleVersion.bundle_code)
            .options(WITHOUT_SNAPSHOT))


def latest_versions(session, kind: str = "bundle") -> list[BundleVersion]:
    """The newest published version of every bundle (or of every matter alone), by code."""
    return list(session.exec(_latest(kind)))


@bp.get("/")
def index():
    """The bundles people can apply for, 50 a page, with what each saves."""
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    page = paginate(get_session(), _latest("bundle"), number, PAGE_SIZE)
    entries = []
    for version in page.rows:
        bundle = bundle_of(version)
        entries.append({"version": version, "bundle": bundle,
                        "savings": compose(bundle).savings})
    return render_template("catalog.html", entries=entries, total=page.total,
                           page=page.number, pages=page.pages)
