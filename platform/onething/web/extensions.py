"""The Flask extensions, created here unbound and bound by the app factory with `init_app`.

Blueprints and helpers import these objects from this module, never from the app
factory, so that no module but the entry points (the CLI, the tests) imports the factory.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from flask_compress import Compress
from flask_htmx import HTMX
from flask_wtf.csrf import CSRFProtect

htmx = HTMX()
# Pages, CSS and htmx compressed (brotli or gzip, as the browser accepts): an applicant on
# a phone's slow 4G waits for bytes, not for the server.
compress = Compress()
# CSRF tokens guard every form of a signed-in page; blueprints for signed-in people call
# csrf.protect() (applicants' pages are reached by secret links, not by a session).
csrf = CSRFProtect()


def get_session():
    """The request's database session, opened on first use and closed in teardown."""
    from onething.storage.db import session_for

    if "db_session" not in g:
        g.db_session = session_for(current_app.extensions["onething.engine"])
    return g.db_session


def close_session(exception: BaseException | None) -> None:
    """Teardown: roll back what a failed request left, and close its session."""
    session = g.pop("db_session", None)
    if session is not None:
        if exception is not None:
            session.rollback()
        session.close()


def meta_schemas(app: Flask) -> dict[str, dict]:
    """The meta-schemas of this app's schemas folder, read once (they are platform files)."""
    from onething.catalog.loader import read_meta
    from onething.web.settings import schemas_root

    if "onething.metas" not in app.extensions:
        app.extensions["onething.metas"] = read_meta(schemas_root(app))
    return app.extensions["onething.metas"]
