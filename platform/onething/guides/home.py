"""The catalog index: every published bundle, with its savings."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlmodel import func, select

from onething.composer.compose import compose
from onething.publishing.versions import WITHOUT_SNAPSHOT, bundle_of
from onething.storage.models import BundleVersion
from onething.web.extensions import get_session

bp = Blueprint("catalog", __name__, template_folder="templates")


def latest_versions(session) -> list[BundleVersion]:
    """The newest published version of every bundle, by code."""
    newest = (select(BundleVersion.bundle_code, func.max(BundleVersion.number).label("number"))
              .group_by(BundleVersion.bundle_code).subquery())
    query = (select(BundleVersion)
             .join(newest, (BundleVersion.bundle_code == newest.c.bundle_code)
                   & (BundleVersion.number == newest.c.number))
             .order_by(BundleVersion.bundle_code)
             .options(WITHOUT_SNAPSHOT))
    return list(session.exec(query))


@bp.get("/")
def index():
    """List the bundles people can apply for."""
    entries = []
    for version in latest_versions(get_session()):
        bundle = bundle_of(version)
        entries.append({"version": version, "bundle": bundle,
                        "savings": compose(bundle).savings})
    return render_template("catalog.html", entries=entries)
