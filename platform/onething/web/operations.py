"""Operations endpoints: /readyz (the database answers, migrated; uploads can be kept) and
/metrics (Prometheus).

/healthz, in the app factory, stays trivial: a load balancer's liveness probe and the
benchmarks' baseline. /readyz asks the database, so a process whose database is down or
behind the code's migrations gets no traffic. /metrics is off unless METRICS_TOKEN is
set, and then answers only a bearer of that token.
"""

from __future__ import annotations

import functools
import hmac
import os
from pathlib import Path

from flask import Blueprint, Flask, current_app, request
from sqlalchemy import Engine, func, select, text

from onething.storage.models import OutboxEvent, Submission, Task
from onething.web.settings import upload_dir

bp = Blueprint("operations", __name__)


@functools.cache
def _migration_head() -> str:
    """The code's newest migration, read from the scripts once per process."""
    from alembic.script import ScriptDirectory

    from onething.storage.db import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@bp.get("/readyz")
def readyz():
    """Ready when the database answers and stands at the code's newest migration."""
    engine: Engine = current_app.extensions["onething.engine"]
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as error:  # any failure of the database is "not ready", with its name
        return {"status": "unavailable", "database": type(error).__name__}, 503
    # Probed every few seconds: the scripts are read once, not at each probe (setdefault
    # had read them each time, its default being built before it looked).
    head = _migration_head()
    if current != head:
        return {"status": "unavailable", "database": f"at migration {current}, not {head}"}, 503
    if problem := _uploads_problem(upload_dir(current_app)):
        # Every upload would fail with a server error: no traffic until it is put right.
        return {"status": "unavailable", "uploads": problem}, 503
    return {"status": "ready"}


def _uploads_problem(folder: Path) -> str | None:
    """Why uploads cannot be kept in the folder, if they cannot (it is made at the first
    upload when missing: then its nearest existing parent must take it)."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder)
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


class CaseCollector:
    """Gauges read from the database at each scrape, the same whichever process answers."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self):
        """Submissions, tasks by status, the outbox's depth and its failed deliveries."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self.engine.connect() as connection:
            submissions = connection.execute(select(func.count()).select_from(Submission))
            tasks = connection.execute(select(Task.status, func.count()).group_by(Task.status))
            undelivered = OutboxEvent.delivered_at.is_(None)
            depth = connection.execute(select(func.count()).where(
                undelivered, OutboxEvent.failed_at.is_(None)))
            failed = connection.execute(select(func.count()).where(
                undelivered, OutboxEvent.failed_at.is_not(None)))
            counts = (submissions.scalar_one(), tasks.all(), depth.scalar_one(),
                      failed.scalar_one())
        yield CounterMetricFamily("onething_submissions", "Submissions received", counts[0])
        by_status = GaugeMetricFamily("onething_tasks", "Tasks by status", labels=["status"])
        for status, count in counts[1]:
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily("onething_outbox_depth",
                                "Webhook events waiting to be delivered", counts[2])
        yield GaugeMetricFamily("onething_webhook_failed",
                                "Webhook events given up after the retry window, until an "
                                "administrator redelivers them", counts[3])


def init_app(app: Flask) -> None:
    """Mount /readyz, and /metrics with request latencies when METRICS_TOKEN is set."""
    app.register_blueprint(bp)
    if not app.config.get("METRICS_TOKEN"):
        return
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    from prometheus_flask_exporter import PrometheusMetrics

    # A registry per app, not the global one: tests and tools create many apps in one
    # process, and each would register the same request metrics again.
    requests = CollectorRegistry()
    # Paths hold draft and task ids: grouped by route, the series stay a handful.
    PrometheusMetrics(app, path=None, registry=requests, group_by="url_rule",
                      defaults_prefix="onething", excluded_paths=["/metrics", "/healthz"])
    cases = CollectorRegistry()
    cases.register(CaseCollector(app.extensions["onething.engine"]))

    @app.get("/metrics")
    def metrics():
        """Prometheus exposition: request latencies (all processes), cases, the outbox."""
        expected = app.config["METRICS_TOKEN"].encode()
        # The scheme's name is read in any case (RFC 9110: "bearer" is "Bearer"). As
        # bytes: compare_digest refuses text beyond ASCII, which a header may hold.
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode("utf-8", "surrogateescape"), expected):
            # A scrape job reads the status and this header, not a page.
            said = ("this bearer token is not METRICS_TOKEN\n" if scheme.lower() == "bearer"
                    else "a bearer token is needed (Authorization: Bearer METRICS_TOKEN)\n")
            return (said, 401,
                    {"WWW-Authenticate": 'Bearer realm="metrics"',
                     "Content-Type": "text/plain; charset=utf-8"})
        shown = requests
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # gunicorn's workers each count their own requests: the files of all of them.
            shown = CollectorRegistry()
            MultiProcessCollector(shown)
        body = generate_latest(shown) + generate_latest(cases)
        return body, 200, {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
