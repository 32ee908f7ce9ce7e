"""Shared fixtures: the demo catalog, a small test catalog, and writable copies of both."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, inspect, make_url, text
from sqlalchemy.pool import NullPool

from onething.accounts import service
from onething.publishing.check import load_catalog
from onething.publishing.versions import publish_catalog
from onething.storage.db import make_engine, migrate, session_for

# Hypothesis deadlines are timed assertions: on a loaded 2-core machine they fail for
# reasons that say nothing about the code. Speed is measured in benchmarks/ instead.
# On CI the examples are the same each run, so a red run can be rerun and read.
settings.register_profile("onething", deadline=None, derandomize=bool(os.environ.get("CI")))
settings.load_profile("onething")

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
DATA = Path(__file__).resolve().parent / "data"


def copy_schemas(target: Path, catalog: Path = SCHEMAS / "catalog") -> Path:
    """Copy the meta-schemas, the field library and a catalog into target/schemas."""
    root = target / "schemas"
    shutil.copytree(SCHEMAS / "meta", root / "meta")
    shutil.copytree(SCHEMAS / "fields", root / "fields")
    shutil.copytree(catalog, root / "catalog")
    return root


def apply_edits(root: Path, edits: list[dict]) -> None:
    """Change files of a schemas copy: replace raw text, set or delete a JSON pointer."""
    for edit in edits:
        path = root / edit["file"]
        if "raw" in edit:
            path.write_text(edit["raw"], encoding="utf-8")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        *parents, last = [part.replace("~1", "/").replace("~0", "~")
                          for part in edit["pointer"].split("/")[1:]]
        target = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key = int(last) if isinstance(target, list) else last
        if edit.get("delete"):
            del target[key]
        else:
            target[key] = edit["value"]
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")


# An edit of the mini catalog: gamma's limits count calendar days (自然日), 14 promised of 30.
CALENDAR_GAMMA = [{"file": "catalog/matters/gamma.json", "pointer": "/time_limit",
                   "value": {"legal_days": 30, "promised_days": 14, "counting": "calendar_days"}}]


@pytest.fixture(scope="session")
def demo_catalog():
    """The demo catalog of schemas/, loaded and checked once."""
    return load_catalog(SCHEMAS)


@pytest.fixture(scope="session")
def mini_catalog(tmp_path_factory):
    """A three-matter catalog whose every merge rule is known (tests/data/mini)."""
    return load_catalog(copy_schemas(tmp_path_factory.mktemp("mini"), DATA / "mini" / "catalog"))


@pytest.fixture
def mini_root(tmp_path):
    """A writable copy of the mini catalog, to break."""
    return copy_schemas(tmp_path, DATA / "mini" / "catalog")


@pytest.fixture
def demo_root(tmp_path):
    """A writable copy of the demo catalog, to break."""
    return copy_schemas(tmp_path)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes():
    """Passwords hashed with one round of PBKDF2 instead of scrypt in this process.

    scrypt costs about 0.2 s per hash and per check, on purpose; the tests create accounts
    and sign in some thousand times. Processes the tests start (`onething serve`) and the
    test below of the method itself keep scrypt.
    """
    kept = service.PASSWORD_METHOD
    service.PASSWORD_METHOD = "pbkdf2:sha256:1"
    yield kept
    service.PASSWORD_METHOD = kept


# --- storage: SQLite and PostgreSQL -----------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url():
    """This test process's PostgreSQL database: the one .ci/test made, or one per xdist worker."""
    url = os.environ.get("ONETHING_TEST_DATABASE_URL")
    if not url:
        message = "ONETHING_TEST_DATABASE_URL is not set (bash .ci/test sets it)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the PostgreSQL half, never skip it
        pytest.skip(message)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    # Tests empty the public schema as they start: workers sharing a database would empty
    # each other's. Each gets its own, made beside the given one on the same server.
    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                    {"name": name}).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def empty_postgres(url: str):
    """An engine on the PostgreSQL database at url, its public schema emptied."""
    engine = make_engine(url)
    # A throwaway test cluster: every test starts from an empty schema.
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    return engine


class Prepared:
    """Databases built once per test process and copied for each test that starts from one.

    Migrating, and publishing the demo catalog as the app's first start does, took half a
    second or more of every test that asks for `engine` or `app`: most of a short test's
    time. A copy is the same database: SQLite's backup API copies the file's pages,
    PostgreSQL makes the database anew from a template (CREATE DATABASE … TEMPLATE).
    """

    def __init__(self, folder: Path):
        self.folder = folder
        self.built: dict[tuple[str, str], str] = {}  # (backend, kind) -> file or database

    def restore(self, engine, kind: str, build) -> bool:
        """Make engine's database a copy of the `kind` database build(url) made; False when
        it holds any table already (nothing is copied): another fixture of the test (a
        second app, `engine` before `app`) has started it and may have written to it."""
        if inspect(engine).get_table_names():
            return False
        backend = engine.url.get_backend_name()
        template = self.built.get((backend, kind))
        if backend == "sqlite":
            if template is None:
                path = self.folder / f"{kind}.db"
                build(f"sqlite:///{path}")
                template = self.built[backend, kind] = str(path)
            source = sqlite3.connect(template)
            target = engine.raw_connection()
            try:
                source.backup(target.driver_connection)
            finally:
                target.close()
                source.close()
            return True
        name = engine.url.database
        admin = create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT",
                              poolclass=NullPool)
        try:
            if template is None:
                template = f"{name}_{kind}"
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
                    connection.execute(text(f'CREATE DATABASE "{template}"'))
                build(engine.url.set(database=template).render_as_string(hide_password=False))
                self.built[backend, kind] = template
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        finally:
            admin.dispose()
        return True


@pytest.fixture(scope="session")
def prepared(tmp_path_factory):
    """The databases copied for `engine` and `app`, built on first use in this process."""
    return Prepared(tmp_path_factory.mktemp("prepared"))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_engine(request, tmp_path):
    """An empty database, not migrated: a SQLite file, or PostgreSQL's public schema emptied."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'onething.db'}")
    else:
        engine = empty_postgres(request.getfixturevalue("postgres_url"))
    yield engine
    engine.dispose()


def _migrated(url: str) -> None:
    """Build a migrated database at url."""
    built = make_engine(url)
    migrate(built)
    built.dispose()


@pytest.fixture
def engine(blank_engine, prepared):
    """A database migrated to the newest revision, on SQLite and on PostgreSQL."""
    if not prepared.restore(blank_engine, "migrated", _migrated):
        migrate(blank_engine)
    return blank_engine


@pytest.fixture
def session(engine):
    """A session on the migrated database, closed after the test."""
    with session_for(engine) as session:
        yield session


@pytest.fixture
def published(session, demo_catalog):
    """The demo catalog published once: bundle code -> its version 1."""
    return {v.bundle_code: v for v in publish_catalog(session, demo_catalog, "tester")}


# --- the web app ---------------------------------------------------------------------------


# The API lists a change at once: a test reads what it just did (tests/test_api.py checks
# the settling time itself).
APP_CONFIG = {"TESTING": True, "UPLOAD_MAX_BYTES": 64 * 1024, "API_SETTLE_SECONDS": 0}


@pytest.fixture
def app(blank_engine, tmp_path, prepared):
    """The web app on a fresh database (SQLite and PostgreSQL), with its own instance folder."""
    from onething.web.app import create_app

    def first_start(url: str) -> None:
        built = create_app({**APP_CONFIG, "DATABASE_URL": url},
                           instance_path=prepared.folder / "instance")
        built.extensions["onething.engine"].dispose()

    # The database as the app's first start leaves it (migrated, the demo catalog
    # published), copied; the app's own start then finds nothing left to do.
    prepared.restore(blank_engine, "app", first_start)
    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({**APP_CONFIG, "DATABASE_URL": url}, instance_path=tmp_path / "instance")
    yield app
    # The app opened its own engine; closing its pool keeps psycopg from warning later.
    app.extensions["onething.engine"].dispose()


@pytest.fixture
def client(app):
    """A browser without JavaScript: the test client."""
    return app.test_client()


# --- a real browser: the app served over HTTP, Debian's chromium -------------------------------


@contextlib.contextmanager
def served(app):
    """The app served from a thread as `onething serve` serves it (waitress, its channel),
    so that what only a real server refuses (a header it cannot send) fails here too;
    yields its URL."""
    import threading

    from onething.web.serving import waitress_server

    server = waitress_server(app, "127.0.0.1", 0, threads=4)
    stop = threading.Event()

    def run() -> None:
        # The server's loop, a short wait at a time, then closed in this same thread: a
        # socket closed under another thread's poll() fails it (EBADF).
        while not stop.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.close()
        for channel in list(server._map.values()):
            channel.handle_close()

    thread = threading.Thread(target=run, name="live_server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(timeout=5)
        server.task_dispatcher.shutdown()
        app.extensions["onething.engine"].dispose()


@pytest.fixture
def live_server(tmp_path):
    """The web app on a fresh SQLite file, served on 127.0.0.1 from a thread; yields its URL."""
    from onething.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
                      "UPLOAD_MAX_BYTES": 64 * 1024}, instance_path=tmp_path / "instance")
    with served(app) as url:
        yield url


@pytest.fixture
def live_app(tmp_path):
    """Like live_server, but yields (URL, app): a test can publish with the app's engine."""
    from onething.web.app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}"},
                     instance_path=tmp_path / "instance")
    with served(app) as url:
        yield url, app


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Launch Debian's chromium (no browser download here) without any call home: no network."""
    return {**browser_type_launch_args,
            "executable_path": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                     "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync"]}


# A unified social credit code with valid check characters: what approving a business
# registration hands over to the licences waiting for it (办结产出).
NEW_ENTITY_USCC = "91370202MA3C00011L"


def uploaded_material(task) -> dict:
    """The first material of a task's slice the applicant handed in as a file: the only
    kind a correction (补正) can ask for again."""
    return next(m for m in task.slice_materials if m.get("state") == "uploaded")


def yielded(task) -> dict:
    """The values approving a task must hand over, for tests that approve every task."""
    return {key: NEW_ENTITY_USCC for key in (task.handover or {}).get("produces", [])}


def bulk_route(app, count: int, department: str = "sn-amr", other: str | None = "sn-fire",
               statuses: tuple[str, ...] = ("pending",), hours_ago: float = 2) -> list[int]:
    """`count` cases routed in bulk (executemany, not the submit path): each one task of
    `department`, whose ids are returned oldest first, and one of `other`.

    Case i was routed `hours_ago` hours ago plus i seconds, on the open-restaurant's
    published version, with tracking number OT<that day>-<i in hex>; its tasks take
    `statuses` in turn and fall due from ten days ago to thirty days ahead.
    """
    import datetime as dt

    from sqlalchemy import insert
    from sqlmodel import Session

    from onething.catalog.workdays import CHINA_TZ
    from onething.publishing.versions import latest_version
    from onething.storage.models import Draft, Submission, Task, utc_now

    start = utc_now() - dt.timedelta(hours=hours_ago)
    moments = [start + dt.timedelta(seconds=i) for i in range(count)]
    with Session(app.extensions["onething.engine"]) as session:
        version = latest_version(session, "open-restaurant").id
        drafts = session.execute(insert(Draft).returning(Draft.id, sort_by_parameter_order=True), [
            {"public_id": f"bulk-{i}", "token_hash": "0" * 64, "bundle_version_id": version,
             "answers": {}, "data": {}, "materials": {}, "created_at": moment,
             "updated_at": moment, "submitted_at": moment}
            for i, moment in enumerate(moments)]).scalars().all()
        cases = session.execute(
            insert(Submission).returning(Submission.id, sort_by_parameter_order=True), [
                {"tracking_number": f"OT{moment.astimezone(CHINA_TZ):%Y%m%d}-{i:06X}",
                 "answers": {}, "data": {}, "materials": {}, "status": "routed",
                 "submitted_at": moment, "lead_department": "sn-approval", "draft_id": draft,
                 "bundle_version_id": version, "idempotency_key": f"bulk-{i}",
                 "token_hash": "0" * 64}
                for i, (moment, draft) in enumerate(zip(moments, drafts, strict=True))]
        ).scalars().all()

        def tasks(code: str, matter: str) -> list[dict]:
            return [{"submission_id": case, "department_code": code, "matter_code": matter,
                     "bundle_code": "open-restaurant", "status": statuses[i % len(statuses)],
                     "waits_for": [], "slice_data": {}, "slice_materials": [],
                     "promised_days": 1,
                     "due_date": moment.astimezone(CHINA_TZ).date() + dt.timedelta(
                         days=i % 40 - 10),
                     "due_estimated": False, "created_at": moment, "updated_at": moment,
                     # As routing starts it: a waiting task's clock starts when it unlocks.
                     "clock_started_on": None if statuses[i % len(statuses)] == "waiting"
                     else moment.astimezone(CHINA_TZ).date()}
                    for i, (moment, case) in enumerate(zip(moments, cases, strict=True))]

        ids = session.execute(insert(Task).returning(Task.id, sort_by_parameter_order=True),
                              tasks(department, "business-registration")).scalars().all()
        if other:
            session.execute(insert(Task), tasks(other, "fire-safety-check"))
        session.commit()
    return list(ids)


def pytest_terminal_summary(terminalreporter):
    """Print the Lighthouse scores a test recorded (also from xdist's worker processes)."""
    lines = [line for report in terminalreporter.stats.get("passed", [])
             + terminalreporter.stats.get("failed", [])
             for name, value in getattr(report, "user_properties", ()) if name == "lighthouse"
             for line in value]
    if lines:
        terminalreporter.section("Lighthouse (mobile)")
        for line in lines:
            terminalreporter.write_line(line)
