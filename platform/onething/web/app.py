"""The Flask app factory: config layers, extensions, the database, and one blueprint per feature."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Request, jsonify, render_template, request, send_from_directory
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import IntegerConverter

from onething.accounts.applicants import signed_in_session
from onething.catalog.loader import parse_json
from onething.web import i18n, templating
from onething.web.extensions import close_session, compress, csrf, htmx
from onething.web.session_cookie import SessionCookie
from onething.web.settings import defaults, schemas_root

# The embedded demo's first start seeds this many cases (`onething demo seed-cases`):
# six months of them for the statistics pages, in well under a second.
DEMO_CASES = 600


class BoundedJSON(DefaultJSONProvider):
    """Request bodies read within bounds: what no caller means (nesting past 64 levels,
    NaN, a number of thousands of digits, NUL or a lone surrogate in a text) is invalid
    JSON, which the API answers with 422, never a 500 deep in the code or the database."""

    def loads(self, s, **kwargs):
        """Parse a body, refusing what cannot be stored or walked safely."""
        if isinstance(s, bytes):
            s = s.decode("utf-8", errors="strict")
        try:
            return parse_json(s)
        except RecursionError:
            raise ValueError("nested too deep") from None


class OneThingRequest(Request):
    """A request whose form, of any encoding, holds no NUL in a name, value or file name."""

    def _load_form_data(self) -> None:
        # Read when a view first asks for the form, after it set its own size limit (an
        # upload's); PostgreSQL refuses NUL in text, so a NUL would end as a 500.
        super()._load_form_data()
        texts = [*self.form.items(multi=True),
                 *((key, upload.filename or "") for key, upload in self.files.items(multi=True))]
        if any("\x00" in key or "\x00" in value for key, value in texts):
            for upload in self.files.values():
                upload.close()
            self.__dict__["form"], self.__dict__["files"] = MultiDict(), MultiDict()
            raise BadRequest()


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Create the web app: defaults, then instance/config.py (or test_config), then ONETHING_*."""
    app = Flask(__name__, instance_relative_config=True,
                instance_path=str(instance_path or default_instance_path()))
    app.config.from_mapping(defaults())
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.from_mapping(test_config)
    app.config.from_prefixed_env("ONETHING")
    _check_settings(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    embedded = not app.config.get("DATABASE_URL")
    if embedded:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'onething.sqlite3'}"
    if app.config["DEMO_ACCOUNTS"] is None:
        # The embedded demo gets sign-in accounts to try every role; a configured production
        # database never does by default, where known passwords would be a door left open.
        app.config["DEMO_ACCOUNTS"] = embedded
    if app.config["DEMO_CASES"] is None:
        # The same: the demo's statistics pages show six months of cases, a hall's none,
        # nor a pilot's own catalog (SCHEMAS), whose new departments would find made-up
        # work in their inboxes.
        app.config["DEMO_CASES"] = DEMO_CASES if embedded and not app.config["SCHEMAS"] else 0
    # Flask's own defaults are None or False, so setdefault would keep them: these are set
    # unless a configuration said otherwise.
    # Uploads are streamed and limited per material; this only stops absurd requests.
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = app.config["UPLOAD_MAX_BYTES"] * 4
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if str(app.config.get("PUBLIC_URL") or "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True

    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    # htmx sends the token as a header (hx-headers on <body> of signed-in pages).
    app.config.setdefault("WTF_CSRF_HEADERS", ["X-CSRFToken"])
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the session

    # JSON answers in UTF-8: Chinese stays readable to the systems and people reading it;
    # JSON bodies read as definitions are, bounded (see BoundedJSON).
    app.json = BoundedJSON(app)
    app.request_class = OneThingRequest
    app.json.ensure_ascii = False

    app.url_map.converters["row_id"] = RowIdConverter
    app.session_interface = SessionCookie()

    i18n.init_app(app)
    htmx.init_app(app)
    # Only whole bodies are compressed: flask-compress's streaming path leaves the file of a
    # streamed response open. Static files are small, and read whole (_whole_static_files).
    app.config.setdefault("COMPRESS_STREAMS", False)
    compress.init_app(app)
    _whole_static_files(app)
    csrf.init_app(app)
    templating.init_app(app)
    _init_database(app)

    from onething.accounts import views as auth
    from onething.cases.views import (
        applicant,
        benefits,
        desk,
        divisions,
        drafts,
        licences,
        ratings,
        start,
        statistics,
        status,
    )
    from onething.departments import api, inbox, rectifications
    from onething.departments import statistics as department_statistics
    from onething.guides import home as catalog
    from onething.guides import views as guides

    app.register_blueprint(catalog.bp)
    app.register_blueprint(start.bp)
    app.register_blueprint(drafts.bp)
    app.register_blueprint(divisions.bp)
    app.register_blueprint(status.bp)
    app.register_blueprint(ratings.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(applicant.bp)
    app.register_blueprint(benefits.bp)
    app.register_blueprint(licences.bp)
    app.register_blueprint(guides.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(rectifications.bp)
    app.register_blueprint(statistics.bp)
    app.register_blueprint(department_statistics.bp)
    app.register_blueprint(api.bp)
    # The administrators' console is its own package; it imports onething, never the
    # reverse, except here where the factory mounts it.
    import onething_admin

    onething_admin.init_app(app)
    app.register_error_handler(HTTPException, _error_page)
    app.teardown_appcontext(close_session)

    @app.before_request
    def refuse_nul_characters():
        """A NUL in the path or query is never meant: 400 here, not a database error later."""
        # PostgreSQL refuses NUL in text, so such a value would otherwise end as a 500.
        # A form's are refused as it is read (OneThingRequest): reading it here would
        # parse an upload before its view set the upload's size limit.
        if "\x00" in request.path or any(
                "\x00" in key or "\x00" in value
                for key, value in request.args.items(multi=True)):
            raise BadRequest()

    @app.before_request
    def protect_signed_in_forms():
        """A signed-in person's posts on the applicants' pages carry a CSRF token too."""
        # Anonymous applicants are reached by secret links, not sessions, so their posts
        # need none; a front-desk clerk's session, or a signed-in applicant's (it opens
        # their drafts and cases), could be ridden by another site's form.
        if (request.method == "POST" and signed_in_session()
                and request.blueprint in ("start", "drafts", "status", "ratings",
                                          "applicant")):
            if request.endpoint == "drafts.material":
                # The check reads the form: an upload's own limit must hold first, or the
                # clerk's body is read whole up to the app's limit, where an applicant's
                # stops at the upload's (and is answered 413 as theirs is).
                request.max_content_length = app.config["UPLOAD_MAX_BYTES"] + 64 * 1024
            csrf.protect()

    @app.get("/favicon.ico")
    def favicon():
        """The icon browsers ask for at the root, whatever the page links."""
        return _whole(send_from_directory(app.static_folder, "favicon.ico",
                                          mimetype="image/vnd.microsoft.icon", max_age=86400))

    from onething.web import operations

    operations.init_app(app)
    proxies = int(app.config["TRUSTED_PROXIES"] or 0)
    if proxies:
        # Only headers those proxies set are read: a client's own X-Forwarded-For would
        # otherwise let it sign in from a new address at every try.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    @app.get("/healthz")
    def healthz():
        """Liveness for load balancers, and the benchmarks' baseline: no database, no template."""
        return {"status": "ok"}

    @app.after_request
    def vary_on_htmx(response):
        # One URL serves a full page or its partial: caches must key on HX-Request.
        response.vary.add("HX-Request")
        return response

    return app


class RowIdConverter(IntegerConverter):
    """`<row_id:name>`: a row id, 1 up to MAX_ROW_ID; any other number matches no route (404)."""

    def __init__(self, url_map, *args, **kwargs):
        from onething.storage.models import MAX_ROW_ID

        super().__init__(url_map, min=1, max=MAX_ROW_ID)


def default_instance_path() -> Path:
    """$ONETHING_INSTANCE_PATH, else instance/ at the root of a repository checkout."""
    if os.environ.get("ONETHING_INSTANCE_PATH"):
        return Path(os.environ["ONETHING_INSTANCE_PATH"]).resolve()
    repository = Path(__file__).resolve().parents[3]
    if (repository / "schemas" / "meta").is_dir():
        return repository / "instance"
    return Path.cwd() / "instance"


def _instance_secret(instance: Path) -> str:
    """Keep a random secret key in the instance folder, so sessions survive restarts."""
    path = instance / "secret_key"
    if not path.exists():
        # Written aside, then linked into place: of processes starting at once, exactly
        # one key wins, and none reads a half-written file.
        aside = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        aside.write_text(secrets.token_hex(32))
        os.chmod(aside, 0o600)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink()
    return path.read_text().strip()


def _whole(response):
    """A file's response as a whole body, its file read and closed now."""
    # make_sequence() leaves the file open until the server closes the response, which a
    # server skips when the browser leaves mid-answer (a 304 to a favicon, say): the file
    # was then only closed by the collector, with a ResourceWarning.
    opened = response.response
    response.direct_passthrough = False
    if response.status_code in (304, 412):
        response.response = []  # no body is sent: nothing to read
    else:
        response.make_sequence()
    if hasattr(opened, "close"):
        opened.close()
    return response


def _whole_static_files(app: Flask) -> None:
    """Serve static files (CSS, htmx, icons: kilobytes) as whole bodies, so they compress."""
    send = app.view_functions["static"]

    def static(filename: str):
        return _whole(send(filename=filename))

    app.view_functions["static"] = static


def _init_database(app: Flask) -> None:
    """Migrate the database; on first start, seed the working catalog and publish it."""
    from sqlmodel import Session

    from onething.publishing.directory import refresh
    from onething.publishing.versions import bundle_of
    from onething.publishing.working_catalog import reindex, seed_and_publish
    from onething.storage.db import make_engine, migrate, startup_lock

    engine = make_engine(app.config["DATABASE_URL"], pool_size=app.config["DATABASE_POOL_SIZE"])
    app.extensions["onething.engine"] = engine
    # Processes starting together take turns: the first migrates and seeds, the others
    # then find a database with nothing left to do.
    with startup_lock(engine):
        migrate(engine)
        with Session(engine) as session:
            # Entries saved before the console's index existed are indexed once.
            reindex(session)
        if app.config["PUBLISH_ON_START"]:
            with Session(engine) as session:
                # A city's first start takes a while: a terminal is shown how far it has come.
                progress = _terminal_progress if sys.stderr.isatty() and not app.testing \
                    else None
                seed_and_publish(session, schemas_root(app), progress)
                if app.config.get("DEMO_ACCOUNTS"):
                    from onething.accounts.service import add_demo_accounts

                    add_demo_accounts(session)
                    # The demo's electronic licence registry: a few enterprises and people,
                    # so the restaurant of an existing enterprise can be tried at once.
                    from onething.catalog.workdays import china_today
                    from onething.registry.service import seed_demo

                    seed_demo(session, china_today())
                if app.config.get("DEMO_CASES"):
                    from onething.cases import demo_cases

                    if demo_cases.is_empty(session):
                        demo_cases.seed_cases(session, int(app.config["DEMO_CASES"]))
        with Session(engine) as session:
            # Versions published before the public directory existed get their rows once.
            refresh(session, bundle_of)


def _terminal_progress(stage: str, done: int, total: int) -> None:
    """A progress bar on the terminal, one line per stage."""
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r{stage:<28} [{'#' * filled}{'.' * (width - filled)}] "
                     f"{done:,}/{total:,}")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _check_settings(config) -> None:
    """Refuse settings that cannot be used, all at once, before anything starts: met at a
    request instead, a sign-in would fail with a server error."""
    from onething.accounts.service import parse_limit
    from onething.web.settings import SettingsError, problems

    found = problems(config)
    try:
        parse_limit(config["LOGIN_RATE_LIMIT"])
    except ValueError as error:
        found.append(f"LOGIN_RATE_LIMIT: {error}")
    if found:
        raise SettingsError(found)


def _error_page(error: HTTPException):
    """Render HTTP errors as localized pages (or just the message for htmx; JSON for the API)."""
    if request.path.startswith("/api/"):
        from onething.departments.api import HTTP_ERRORS
        from onething.web.templating import error_text

        # A system reads these, not a person at a form: no "refresh the page" here.
        message = HTTP_ERRORS.get(error.code)
        response = jsonify({"error": error.name.lower().replace(" ", "_"),
                            "message": str(message) if message else error_text(error)})
        response.status_code = error.code
        if getattr(error, "valid_methods", None):
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response
    from flask_wtf.csrf import CSRFError

    if isinstance(error, CSRFError):
        # Said to the person as "refresh and try again"; the reason is for operators: a
        # proxy passing its own address as Host fails every https form ("does not match").
        # The Referer's origin only: its query may hold a case's access code.
        came_from = urlsplit(request.referrer or "")
        logging.getLogger("onething.web").warning(
            "refused a form: %s (Host %s, Referer %s)", error.description, request.host,
            f"{came_from.scheme}://{came_from.netloc}" if came_from.netloc else "none")
    template = "_error.html" if request.headers.get("HX-Request") else "error.html"
    return render_template(template, error=error), error.code
