"""The administrators' console: build, preview and publish bundles (一件事) at /admin.

It edits the working catalog of `onething.publishing.working_catalog` and shows, while
the administrator works, what applicants and departments will get: the
merged form rendered with the applicants' own templates, the savings, the
routing and each department's slice. This package imports `onething`; the
engine imports it only in the app factory, which mounts it.
"""

from __future__ import annotations

from flask import Flask

from onething_admin import lifecycle
from onething_admin.calendar import bp as calendar_bp
from onething_admin.definitions import bp as definitions_bp
from onething_admin.registry import bp as registry_bp
from onething_admin.statistics import bp as statistics_bp
from onething_admin.views import bp


def init_app(app: Flask) -> None:
    """Mount the console at /admin."""
    app.register_blueprint(bp)
    app.register_blueprint(calendar_bp)
    app.register_blueprint(definitions_bp)
    app.register_blueprint(registry_bp)
    app.register_blueprint(lifecycle.bp)
    app.register_blueprint(statistics_bp)
