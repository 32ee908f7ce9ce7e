"""Webhooks: a real receiver on loopback that fails the first deliveries, then gets them all."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlmodel import Session, select

from onething.cases.decisions import decide
from onething.departments.webhooks import backoff, deliver_due, set_webhook
from onething.storage.models import OutboxEvent, Task
from test_web import fill, start, submit, upload_everything

from conftest import yielded


class Receiver:
    """An HTTP server on 127.0.0.1 that answers 503 to the first `failures` posts."""

    def __init__(self, failures: int):
        self.failures = failures
        self.received: list[tuple[dict, bytes]] = []
        self.refused = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if owner.refused < owner.failures:
                    owner.refused += 1
                    self.send_response(503)
                else:
                    owner.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver(failures=7)
    yield server
    server.close()


def test_a_system_down_for_an_hour_receives_every_event_once(app, client, receiver):
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        secret = set_webhook(session, "sn-amr", receiver.url)
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    with Session(engine) as session:
        registration = session.exec(select(Task).where(
            Task.matter_code == "business-registration")).one()
        decide(session, registration, "accept", "tester")
        decide(session, registration, "approve", "tester", certificate_number="C-1",
               produced=yielded(registration))
        events = session.exec(select(OutboxEvent)).all()
        # Routed: registration and food licence; then accepted, approved, food unlocked.
        assert sorted(e.event for e in events) == ["task.routed"] * 2 + [
            "task.status_changed"] * 3
        assert all(e.department_code == "sn-amr" for e in events)

        # An hour of a system that is down: rounds at the times the backoff allows.
        now = dt.datetime.now(dt.UTC)
        end = now + dt.timedelta(hours=1, minutes=20)
        while now < end:
            deliver_due(session, now=now)
            now += dt.timedelta(seconds=10)
        assert receiver.refused == 7
        delivered = session.exec(select(OutboxEvent)).all()
        assert all(e.delivered_at is not None for e in delivered)
    ids = [headers["x-onething-delivery"] for headers, _ in receiver.received]
    assert sorted(ids) == sorted(e.delivery_id for e in delivered)  # each exactly once
    for headers, body in receiver.received:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["x-onething-signature"], expected)
        payload = json.loads(body)
        assert payload["delivery_id"] == headers["x-onething-delivery"]
        assert set(payload) == {"event", "delivery_id", "created_at", "task_id",
                                "submission_id", "matter", "status"}  # no personal data


def test_departments_without_a_webhook_get_no_events(app, client):
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(OutboxEvent)).all() == []


def test_backoff_grows_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(20) == dt.timedelta(minutes=15)
