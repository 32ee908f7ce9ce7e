"""Webhooks: real receivers on loopback; claims, parallel endpoints, failures, signatures."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from standardwebhooks import Webhook as StandardWebhook
from standardwebhooks import WebhookVerificationError

from onething.cases.decisions import decide
from onething.departments.deadlines import remind_deadlines
from onething.departments.webhooks import (
    GIVE_UP_AFTER,
    Deliverer,
    backoff,
    deliver_due,
    set_webhook,
    signed_headers,
)
from onething.storage.db import make_engine, migrate
from onething.storage.models import AuditEntry, OutboxEvent, Task, Webhook, utc_now
from test_admin import add_account, sign_in, token_of
from test_web import fill, start, submit, upload_everything

from conftest import REPO, yielded


class Receiver:
    """An HTTP server on 127.0.0.1; `answer(headers, body)` gives each post's status."""

    def __init__(self, answer=None):
        self.answer = answer or (lambda headers, body: 204)
        self.received: list[tuple[str, dict, bytes]] = []  # path, headers, body: 2xx ones
        self.changed = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with owner.changed:
                    status = owner.answer(headers, body)
                    if 200 <= status < 300:
                        owner.received.append((self.path, headers, body))
                    owner.changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int) -> bool:
        """Wait until `count` posts were taken (a bound for a broken test, not a timing)."""
        with self.changed:
            return self.changed.wait_for(lambda: len(self.received) >= count, timeout=60)

    def ids(self, path: str | None = None) -> list[str]:
        return [h["webhook-id"] for p, h, _ in self.received if path is None or p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class BlackHole:
    """Accepts TCP connections on 127.0.0.1 and never answers, until closed."""

    def __init__(self):
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"
        self.accepted = threading.Event()
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            self.connections.append(connection)
            self.accepted.set()

    def close(self):
        self.socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() under way
        self.socket.close()
        for connection in self.connections:
            connection.close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


def add_events(session: Session, department: str, count: int, **fields) -> list[str]:
    """Pending events of a department, in order; return their delivery ids."""
    events = [OutboxEvent(delivery_id=secrets.token_hex(16), department_code=department,
                          event="task.status_changed",
                          payload={"task_id": n, "submission_id": 1, "matter": "m",
                                   "status": "accepted"}, **fields)
              for n in range(count)]
    session.add_all(events)
    session.commit()
    return [event.delivery_id for event in events]


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def events_of(engine, department: str) -> list[OutboxEvent]:
    with Session(engine) as session:
        return list(session.exec(select(OutboxEvent).where(
            OutboxEvent.department_code == department).order_by(OutboxEvent.id)).all())


# --- retries and the payload ------------------------------------------------------------------


def test_a_system_down_for_an_hour_receives_every_event_once(app, client):
    refused = []

    def down_at_first(headers, body):
        if len(refused) < 7:
            refused.append(headers["webhook-id"])
            return 503
        return 204

    receiver = Receiver(down_at_first)
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
        delivered = session.exec(select(OutboxEvent)).all()
        assert all(e.delivered_at is not None for e in delivered)
    receiver.close()
    assert len(refused) == 7
    assert sorted(receiver.ids()) == sorted(e.delivery_id for e in delivered)  # each once
    for _, headers, body in receiver.received:
        # Signed for the moment it was sent (the test's clock ran ahead of the real one).
        moment = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
        expected = StandardWebhook(secret).sign(headers["webhook-id"], moment, body.decode())
        assert hmac.compare_digest(headers["webhook-signature"], expected)
        assert "x-onething-signature" not in headers  # a new hook: Standard Webhooks only
        payload = json.loads(body)
        assert payload["delivery_id"] == headers["webhook-id"] == headers["x-onething-delivery"]
        assert headers["x-onething-event"] == payload["event"]
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


# --- claims: each delivery id sent by one deliverer -------------------------------------------


def test_three_deliverers_send_each_id_once_and_each_endpoint_in_order(engine, receiver):
    departments = [f"dept-{n}" for n in range(4)]
    with Session(engine) as session:
        expected = {}
        for department in departments:
            set_webhook(session, department, f"{receiver.url}/{department}")
            expected[department] = add_events(session, department, 12)
    # Each deliverer with its own engine, as three processes would have; all start at once.
    engines = [make_engine(url_of(engine)) for _ in range(3)]
    ready = threading.Barrier(3)

    def deliver(own_engine):
        ready.wait()
        return Deliverer(own_engine, threads=2).run_round()

    try:
        with ThreadPoolExecutor(3) as pool:
            counts = list(pool.map(deliver, engines))
    finally:
        for own_engine in engines:
            own_engine.dispose()
    ids = receiver.ids()
    assert len(ids) == 48 and len(set(ids)) == 48  # all delivered, none twice
    assert sum(counts) == 48
    for department in departments:
        # One endpoint's events one after another, in the order they happened.
        assert receiver.ids(f"/hook/{department}") == expected[department]
        assert all(e.delivered_at and e.attempts == 1 for e in events_of(engine, department))
    with Session(engine) as session:
        assert all(h.claimed_by is None for h in session.exec(select(Webhook)).all())


def test_an_expired_lease_is_taken_over_and_a_live_one_respected(engine, receiver):
    now = utc_now()
    with Session(engine) as session:
        set_webhook(session, "sn-amr", receiver.url)
        ids = add_events(session, "sn-amr", 2, next_attempt_at=now - dt.timedelta(minutes=10))
        hook_id = session.exec(select(Webhook.id)).one()
    # A deliverer claimed it five minutes ago and died: its 60 s lease has run out.
    dead = Deliverer(engine, clock=lambda: now - dt.timedelta(minutes=5))
    assert dead.claim(1) == [hook_id]
    other = Deliverer(engine)
    assert other.run_round() == 2
    assert receiver.ids() == ids
    # Were the dead one to wake up, its claim is gone: it sends nothing.
    assert dead.serve(hook_id) == 0
    assert receiver.ids() == ids

    with Session(engine) as session:
        add_events(session, "sn-amr", 1)
    holder = Deliverer(engine)
    assert holder.claim(1) == [hook_id]
    assert other.claim(1) == [] and other.run_round() == 0  # it is the holder's turn
    holder.release()
    assert other.run_round() == 1


def test_two_sqlite_deliverers_never_claim_one_endpoint_twice(tmp_path):
    # SQLite has one writer: the claim is a conditional UPDATE, and the loser gets nothing.
    engine = make_engine(f"sqlite:///{tmp_path / 'claims.db'}")
    migrate(engine)
    other_engine = make_engine(f"sqlite:///{tmp_path / 'claims.db'}")
    try:
        with Session(engine) as session:
            set_webhook(session, "sn-amr", "http://127.0.0.1:9/hook")
            add_events(session, "sn-amr", 1)
        first, second = Deliverer(engine), Deliverer(other_engine)
        assert first.claim(5) != [] and second.claim(5) == []
        with other_engine.connect() as connection:
            holder = connection.execute(text("SELECT claimed_by FROM webhook")).scalar_one()
        assert holder == first.name
    finally:
        engine.dispose()
        other_engine.dispose()


# --- a slow or dead endpoint, an inactive hook ---------------------------------------------


def test_a_black_hole_does_not_hold_up_another_department(engine, receiver):
    hole = BlackHole()
    with Session(engine) as session:
        set_webhook(session, "dept-hole", hole.url)
        set_webhook(session, "dept-live", receiver.url)
        add_events(session, "dept-hole", 3)
        live = add_events(session, "dept-live", 5)
    # A timeout far beyond the test: only closing the black hole ends its attempt.
    deliverer = Deliverer(engine, threads=2, timeout=600)
    round_ = threading.Thread(target=deliverer.run_round)
    round_.start()
    try:
        assert hole.accepted.wait(60)
        assert receiver.wait_for(5)
        # Every live event arrived while the black hole still holds its first attempt.
        assert round_.is_alive()
        assert receiver.ids() == live
        assert all(e.attempts == 0 for e in events_of(engine, "dept-hole"))
    finally:
        hole.close()
        round_.join()
    held = events_of(engine, "dept-hole")
    # Its first event failed and ended its turn; the others wait for the next one.
    assert held[0].attempts == 1 and held[0].last_error and held[0].delivered_at is None
    assert [e.attempts for e in held[1:]] == [0, 0]


def test_a_system_that_is_down_is_sent_one_event_per_step_of_the_backoff(engine):
    posted = []

    def answer(headers, body):
        posted.append(headers["webhook-id"])
        return answer.status

    answer.status = 503
    receiver = Receiver(answer)
    start = utc_now()
    with Session(engine) as session:
        set_webhook(session, "dept-down", receiver.url)
        ids = add_events(session, "dept-down", 5, next_attempt_at=start)
        # A round every 5 seconds for two minutes: the endpoint rests after each failure
        # (10, 20, 40 s), and only the oldest event is tried, not all five each time.
        for step in range(24):
            deliver_due(session, now=start + dt.timedelta(seconds=5 * step))
    assert posted == [ids[0]] * 4
    assert [e.attempts for e in events_of(engine, "dept-down")] == [4, 0, 0, 0, 0]
    # Back up: at its next step every event goes, in order, in one turn.
    answer.status = 204
    with Session(engine) as session:
        assert deliver_due(session, now=start + dt.timedelta(seconds=150)) == 5
    receiver.close()
    assert receiver.ids() == ids


def test_an_event_the_system_refuses_holds_up_none_behind_it(engine):
    refused = []

    def answer(headers, body):
        if headers["webhook-id"] == ids[0]:
            refused.append(headers["webhook-id"])
            return 422  # this one event, malformed to the receiver: the system is up
        return 204

    receiver = Receiver(answer)
    start = utc_now()
    with Session(engine) as session:
        set_webhook(session, "dept-picky", receiver.url)
        ids = add_events(session, "dept-picky", 4, next_attempt_at=start)
        # The refused one ends its turn, not the endpoint's day: no rest, the next turn
        # (of the same round here, a second one a moment later) sends the rest.
        deliver_due(session, now=start)
        deliver_due(session, now=start + dt.timedelta(seconds=1))
    receiver.close()
    assert refused == [ids[0]] and receiver.ids() == ids[1:]
    first = events_of(engine, "dept-picky")[0]
    assert first.attempts == 1 and first.last_error == "HTTP 422" and first.delivered_at is None


def test_an_administrators_change_during_a_failing_turn_is_tried_at_once(engine):
    answer = {"status": 503}
    receiver = Receiver(lambda headers, body: answer["status"])
    start = utc_now()
    with Session(engine) as session:
        set_webhook(session, "dept-moved", receiver.url + "/old")
        ids = add_events(session, "dept-moved", 2, next_attempt_at=start)

    def moved_while_posting(url, body, headers):
        # The system moved while the old address failed: the administrator sets the new.
        with Session(engine) as other:
            set_webhook(other, "dept-moved", receiver.url + "/new")
        answer["status"] = 204
        return 503

    deliverer = Deliverer(engine, post=moved_while_posting, clock=lambda: start)
    deliverer.run_round()
    # No rest taken over the change: the next round, at once, posts to the new address.
    with Session(engine) as session:
        assert deliver_due(session, now=start + dt.timedelta(seconds=1)) == 1
    receiver.close()
    assert receiver.ids("/hook/new") == [ids[1]]


def test_an_inactive_hook_with_a_full_queue_holds_up_no_one(engine, receiver):
    with Session(engine) as session:
        set_webhook(session, "dept-off", receiver.url + "/off")
        hook = session.exec(select(Webhook)).one()
        hook.active = False
        session.add(hook)
        session.commit()
        add_events(session, "dept-off", 130)  # older, and more than any one batch
        set_webhook(session, "dept-on", receiver.url + "/on")
        on = add_events(session, "dept-on", 3)
        assert deliver_due(session) == 3
    assert receiver.ids() == on
    assert all(e.attempts == 0 and e.delivered_at is None
               for e in events_of(engine, "dept-off"))


# --- failed deliveries: marked, shown, redelivered ------------------------------------------


def test_failed_deliveries_are_shown_and_redelivered_with_their_ids(app, client):
    answer = {"status": 503}
    receiver = Receiver(lambda headers, body: answer["status"])
    engine = app.extensions["onething.engine"]
    now = utc_now()
    with Session(engine) as session:
        set_webhook(session, "sn-amr", receiver.url)
        ids = add_events(session, "sn-amr", 2, next_attempt_at=now,
                         created_at=now - GIVE_UP_AFTER + dt.timedelta(minutes=1))
        deliver_due(session, now=now)  # the first fails: the endpoint rests for its backoff
        deliver_due(session, now=now)  # so the second waits behind it, not tried
        # Past the window: nothing is tried again, both are marked failed with their error.
        deliver_due(session, now=now + dt.timedelta(minutes=2))
    failed = events_of(engine, "sn-amr")
    assert all(e.failed_at for e in failed)
    assert [(e.attempts, e.last_error) for e in failed] == [
        (1, "HTTP 503"), (0, "no attempt succeeded within the retry window")]
    assert receiver.received == []

    add_account(app, "admin", "administrator")
    sign_in(client)
    listing = client.get("/admin/webhooks?lang=en")
    assert "sn-amr" in listing.text and receiver.url in listing.text
    page = client.get("/admin/webhooks/sn-amr?lang=en")
    assert page.status_code == 200 and "<html" in page.text
    assert all(delivery_id in page.text for delivery_id in ids) and "HTTP 503" in page.text
    partial = client.get("/admin/webhooks/sn-amr", headers={"HX-Request": "true"})
    assert "<html" not in partial.text and ids[0] in partial.text
    assert "HX-Request" in partial.headers["Vary"]
    assert client.get("/admin/webhooks/nowhere").status_code == 404

    # Without JavaScript: a form post, then back to the list.
    token = token_of(page.text)
    one = client.post("/admin/webhooks/sn-amr/redeliver",
                      data={"csrf_token": token, "delivery_id": ids[0]})
    assert one.status_code == 302
    assert one.headers["Location"].endswith("/admin/webhooks/sn-amr?redelivered=1")
    after = client.get(one.headers["Location"]).text
    assert ids[0] not in after and ids[1] in after
    answer["status"] = 204
    with Session(engine) as session:
        assert deliver_due(session) == 1
    assert receiver.ids() == [ids[0]]  # the same delivery id

    # With htmx: every failed one, answered with the list in place.
    rest = client.post("/admin/webhooks/sn-amr/redeliver", data={"all": "1"},
                       headers={"HX-Request": "true", "X-CSRFToken": token})
    assert rest.status_code == 200 and "<html" not in rest.text and ids[1] not in rest.text
    with Session(engine) as session:
        assert deliver_due(session) == 1
        assert [e.actor for e in session.exec(select(AuditEntry).where(
            AuditEntry.action == "webhook_redeliver")).all()] == ["admin", "admin"]
    assert receiver.ids() == ids
    assert all(e.delivered_at and e.failed_at is None for e in events_of(engine, "sn-amr"))
    receiver.close()


def test_an_endpoint_that_does_not_answer_is_seen_in_the_console_within_minutes(
        app, client, caplog):
    import socket

    # A port nothing listens on: every attempt is refused.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    engine = app.extensions["onething.engine"]
    now = utc_now()
    with Session(engine) as session:
        set_webhook(session, "sn-fire", dead)
        ids = add_events(session, "sn-fire", 3, next_attempt_at=now)
        with caplog.at_level("WARNING", logger="onething.webhooks"):
            deliver_due(session, now=now)  # the first is refused, and ends the turn
    # Where operators look: the worker's log names the endpoint and the error.
    assert any("sn-fire" in r.getMessage() and "refused" in r.getMessage().lower()
               for r in caplog.records)
    add_account(app, "admin", "administrator")
    sign_in(client)
    listing = client.get("/admin/webhooks").text
    row = re.search(r'<tr data-department="sn-fire">.*?</tr>', listing, re.S).group(0)
    # Waiting 3, one of them after a refused attempt, and since when: not "0 failed".
    assert re.search(r'data-retrying="1"', row) and "其中 1 条推送失败、等待重试" in row
    assert "最早一条自" in row
    page = client.get("/admin/webhooks/sn-fire").text
    retrying = page[page.index('id="retrying"'):page.index("</table>", page.index('id="retrying"'))]
    assert f'data-retrying="{ids[0]}"' in retrying and ids[1] not in retrying
    # Said in words, with the stored error beside them.
    assert "对方系统拒绝连接" in retrying and "refused" in retrying.lower()


@pytest.mark.parametrize(("error", "kind"), [
    ("ConnectionRefusedError: [Errno 111] Connection refused", ("refused", None)),
    ("URLError: <urlopen error [Errno 111] Connection refused>", ("refused", None)),
    ("TimeoutError: timed out", ("timeout", None)),
    ("URLError: <urlopen error [Errno -2] Name or service not known>", ("no_host", None)),
    ("HTTP 503", ("http", 503)),
    ("no attempt succeeded within the retry window", ("window", None)),
    ("SomethingElse: odd", None),
    (None, None),
])
def test_a_delivery_error_is_told_by_what_it_means(error, kind):
    from onething.departments.webhooks import error_kind

    assert error_kind(error) == kind


def test_failed_and_redeliver_commands(tmp_path, monkeypatch, receiver):
    from click.testing import CliRunner

    from onething.cli import main
    from onething.web.app import create_app

    monkeypatch.setenv("ONETHING_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ONETHING_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app()
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        set_webhook(session, "qd-amr", receiver.url)
        ids = add_events(session, "qd-amr", 2, failed_at=utc_now(), attempts=9,
                         last_error="HTTP 500")
    engine.dispose()
    runner = CliRunner()
    listed = runner.invoke(main, ["webhook", "failed", "qd-amr"])
    assert listed.exit_code == 0 and all(i in listed.output for i in ids)
    assert "HTTP 500" in listed.output
    assert runner.invoke(main, ["webhook", "redeliver", "qd-amr"]).exit_code != 0
    # A mistyped id beside a good one: said, and neither is scheduled.
    typo = runner.invoke(main, ["webhook", "redeliver", "qd-amr", ids[1], "0123abcd"])
    assert typo.exit_code == 2 and "not a failed delivery of qd-amr: 0123abcd" in typo.output
    assert runner.invoke(main, ["webhook", "deliver"]).output.strip() == "delivered 0"
    again = runner.invoke(main, ["webhook", "redeliver", "qd-amr", ids[1]])
    assert again.exit_code == 0 and "redelivering 1" in again.output
    assert runner.invoke(main, ["webhook", "deliver"]).output.strip() == "delivered 1"
    assert receiver.ids() == [ids[1]]
    assert "redelivering 1" in runner.invoke(main, ["webhook", "redeliver", "qd-amr",
                                                    "--all"]).output
    assert runner.invoke(main, ["webhook", "deliver"]).output.strip() == "delivered 1"
    assert receiver.ids() == [ids[1], ids[0]]


# --- Standard Webhooks signatures: verified, replays and stale ones refused ----------------


class VerifyingReceiver:
    """A department's system as Standard Webhooks tells it to be: verify the signature and
    the timestamp with the published library, and act on each webhook-id once."""

    def __init__(self, secret: str):
        self.webhook = StandardWebhook(secret)
        self.seen: set[str] = set()
        self.processed: list[str] = []
        self.refused: list[tuple[str, str]] = []

    def __call__(self, headers: dict, body: bytes) -> int:
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError as error:
            self.refused.append((headers.get("webhook-id"), str(error)))
            return 400
        if headers["webhook-id"] in self.seen:
            # Already done: say so, so the sender stops, but do nothing again.
            self.refused.append((headers["webhook-id"], "replayed"))
            return 200
        self.seen.add(headers["webhook-id"])
        self.processed.append(payload["delivery_id"])
        return 204


def send(url: str, headers: dict, body: bytes) -> int:
    """What an attacker who captured a delivery would send again."""
    headers = {k: v for k, v in headers.items()
               if k.lower().startswith("webhook-") or k.lower() == "content-type"}
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_verifying_receiver_refuses_replayed_and_stale_deliveries(engine):
    with Session(engine) as session:
        secret = set_webhook(session, "sn-amr", "http://127.0.0.1:9/placeholder")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    system = VerifyingReceiver(secret)
    receiver = Receiver(system)
    try:
        with Session(engine) as session:
            hook = session.exec(select(Webhook)).one()
            hook.url = receiver.url
            session.add(hook)
            session.commit()
            now = utc_now()
            [stale_id, fresh_id] = add_events(session, "sn-amr", 2,
                                              next_attempt_at=now - dt.timedelta(minutes=10))
        # Signed six minutes ago: outside the receiver's five minutes of tolerance.
        late = Deliverer(engine, clock=lambda: now - dt.timedelta(minutes=6))
        assert late.run_round() == 0
        assert system.refused == [(stale_id, "Message timestamp too old")]
        assert system.processed == []
        # Sent again now, signed now: both taken, each once.
        with Session(engine) as session:
            assert deliver_due(session, now=utc_now() + dt.timedelta(seconds=10)) == 2
        assert system.processed == [stale_id, fresh_id]
        _, headers, body = receiver.received[-1]

        # Captured and replayed within the tolerance: the signature holds, the id was seen.
        assert send(receiver.url, headers, body) == 200
        assert system.refused[-1] == (fresh_id, "replayed")
        # Replayed with a changed body: no matching signature.
        forged = body.replace(b'"accepted"', b'"approved"')
        assert send(receiver.url, headers, forged) == 400
        assert system.refused[-1] == (fresh_id, "No matching signature found")
        # Replayed later than the tolerance (signed by a sender whose clock is 6 minutes
        # behind is the same bytes as one captured 6 minutes ago): too old.
        with Session(engine) as session:
            hook = session.exec(select(Webhook)).one()
            event = session.exec(select(OutboxEvent).where(
                OutboxEvent.delivery_id == fresh_id)).one()
            old = signed_headers(hook, event, body, utc_now() - dt.timedelta(minutes=6))
        assert send(receiver.url, old, body) == 400
        assert system.refused[-1] == (fresh_id, "Message timestamp too old")
        assert system.processed == [stale_id, fresh_id]
    finally:
        receiver.close()


def test_hooks_from_before_standard_webhooks_keep_their_key_and_header(blank_engine):
    migrate(blank_engine, "0013")
    old_secret = "rVsp4w2qZ-Yw_old-secret-from-token_urlsafe"
    with blank_engine.begin() as connection:
        connection.execute(text("INSERT INTO webhook (department_code, url, secret, active) "
                                "VALUES ('sn-amr', 'http://127.0.0.1:9/hook', :s, true)"),
                           {"s": old_secret})
    migrate(blank_engine)
    with Session(blank_engine) as session:
        hook = session.exec(select(Webhook)).one()
        assert hook.legacy_signature and hook.secret.startswith("whsec_")
        [delivery_id] = add_events(session, "sn-amr", 1)
        event = session.exec(select(OutboxEvent)).one()
        body = json.dumps({"x": 1}).encode()
        headers = signed_headers(hook, event, body, utc_now())
        # What the department's receiver checked before, with the secret it was given …
        assert headers["X-OneThing-Signature"] == "sha256=" + hmac.new(
            old_secret.encode(), body, hashlib.sha256).hexdigest()
        # … and the standard signature, with the same key as a whsec_ secret.
        whsec = "whsec_" + base64.b64encode(old_secret.encode()).decode()
        assert whsec == hook.secret
        StandardWebhook(whsec).verify(body, headers)
        assert headers["webhook-id"] == delivery_id
    # Down again: the old secret is back, as the code before 0014 signs with it; and up.
    downgrade(blank_engine, "0013")
    with blank_engine.connect() as connection:
        assert connection.execute(text("SELECT secret FROM webhook")).scalar_one() == old_secret
    migrate(blank_engine)
    with Session(blank_engine) as session:
        # A new secret is Standard Webhooks only.
        set_webhook(session, "sn-amr", "http://127.0.0.1:9/hook")
        hook = session.exec(select(Webhook)).one()
        event = session.exec(select(OutboxEvent)).one()
        assert not hook.legacy_signature
        assert "X-OneThing-Signature" not in signed_headers(hook, event, body, utc_now())


def downgrade(engine, revision: str) -> None:
    from alembic import command

    from onething.storage.db import alembic_config

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


# --- deadline reminders ---------------------------------------------------------------------


def test_deadline_reminders_are_written_once_however_many_workers_look(app, client):
    engine = app.extensions["onething.engine"]
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    today = dt.date(2026, 3, 2)  # a Monday
    with Session(engine) as session:
        set_webhook(session, "sn-amr", "http://127.0.0.1:9/hook")
        tasks = session.exec(select(Task).where(Task.department_code == "sn-amr")
                             .order_by(Task.id)).all()
        assert len(tasks) == 2
        overdue, soon = tasks
        overdue.due_date, soon.due_date = today - dt.timedelta(days=1), today
        # The second (the food licence) waits for the first: its clock starts when it
        # unlocks. Unlocked here, so that both clocks run.
        soon.status, soon.clock_started_on = "pending", today - dt.timedelta(days=3)
        session.add_all([overdue, soon])
        # Another department's overdue task: no webhook there, no event.
        others = session.exec(select(Task).where(Task.department_code != "sn-amr")).all()
        for task in others:
            task.due_date = today - dt.timedelta(days=3)
            session.add(task)
        session.commit()
        overdue_id, soon_id = overdue.id, soon.id
    engines = [make_engine(url_of(engine)) for _ in range(3)]
    ready = threading.Barrier(3)

    def look(own_engine):
        ready.wait()
        with Session(own_engine) as session:
            return remind_deadlines(session, today=today)

    try:
        with ThreadPoolExecutor(3) as pool:
            written = list(pool.map(look, engines))
    finally:
        for own_engine in engines:
            own_engine.dispose()
    assert sum(written) == 2
    with Session(engine) as session:
        assert remind_deadlines(session, today=today) == 0  # and none the next time
        events = session.exec(select(OutboxEvent).order_by(OutboxEvent.event)).all()
        assert [(e.event, e.payload["task_id"], e.department_code) for e in events] == [
            ("task.due_soon", soon_id, "sn-amr"), ("task.overdue", overdue_id, "sn-amr")]
        # The day after, the soon one is overdue too: one more event, once.
        assert remind_deadlines(session, today=today + dt.timedelta(days=1)) == 1
        assert remind_deadlines(session, today=today + dt.timedelta(days=1)) == 0


# --- onething worker ------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_delivers_and_stops_cleanly_on_a_signal(app, receiver, tmp_path, signum):
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        set_webhook(session, "sn-amr", receiver.url)
        ids = add_events(session, "sn-amr", 3)
    environment = {**os.environ,
                   "PYTHONPATH": os.pathsep.join([str(REPO / "platform"), str(REPO / "admin")]),
                   "ONETHING_DATABASE_URL": url_of(engine),
                   "ONETHING_INSTANCE_PATH": app.instance_path,
                   "ONETHING_WEBHOOK_INTERVAL": "0.2"}
    worker = subprocess.Popen([sys.executable, "-m", "onething.cli", "worker"],
                              env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        assert receiver.wait_for(3)
    finally:
        worker.send_signal(signum)
        out, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err
    assert "worker stopped" in out
    assert receiver.ids() == ids
    with Session(engine) as session:
        hook = session.exec(select(Webhook)).one()
        assert hook.claimed_by is None  # its claims released


def test_no_reminder_for_a_clock_not_running_and_again_for_a_due_date_counted_again(
        app, client):
    engine = app.extensions["onething.engine"]
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    today = dt.date(2026, 3, 2)
    with Session(engine) as session:
        set_webhook(session, "sn-amr", "http://127.0.0.1:9/hook")
        registration, licence = session.exec(select(Task).where(
            Task.department_code == "sn-amr").order_by(Task.id)).all()
        assert licence.status == "waiting"
        registration.due_date = licence.due_date = today - dt.timedelta(days=1)
        registration.paused_since = today - dt.timedelta(days=2)  # a 补正 under way
        session.add_all([registration, licence])
        session.commit()
        assert remind_deadlines(session, today=today) == 0  # waiting, and paused
        registration.paused_since = None
        session.add(registration)
        session.commit()
        assert remind_deadlines(session, today=today) == 1
        registration.due_date = today - dt.timedelta(days=2)
        session.add(registration)
        session.commit()
        # Its due date counted again: reminded again, once.
        assert remind_deadlines(session, today=today) == 1
        assert remind_deadlines(session, today=today) == 0


def test_a_redirect_is_a_failed_attempt_not_a_delivery():
    from onething.departments.webhooks import _post

    got = []

    class Moved(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # where urllib would go next, with the body dropped
            got.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Moved)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        status = _post(f"http://127.0.0.1:{server.server_port}/hook", b"{}",
                       {"Content-Type": "application/json"})
    finally:
        server.shutdown()
        server.server_close()
    assert status == 302 and got == []


class Trickler:
    """Takes each post whole, then answers 200 one byte at a time, far slower than an
    attempt's deadline: a socket timeout alone would wait for every byte."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: " + b"." * 100 + b"\r\n\r\n"

    def __init__(self, every: float = 0.05):
        self.every = every
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/hook"
        self.ids: list[str] = []
        self.received = threading.Event()
        self.cut = threading.Event()  # a client hung up before the answer was whole
        self.answered = threading.Event()  # an answer went out whole
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:  # closed
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket):
        with connection:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
            fields = {key.lower(): value for key, value in fields.items()}
            while len(body) < int(fields["content-length"]):
                body += connection.recv(65536)
            self.ids.append(fields["webhook-id"])
            self.received.set()
            try:
                for byte in self.ANSWER:
                    connection.sendall(bytes([byte]))
                    if self.stop.wait(self.every):
                        return
            except OSError:
                self.cut.set()
                return
            self.answered.set()

    def close(self):
        self.stop.set()
        self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()


def test_an_attempt_ends_at_its_deadline_however_slowly_the_answer_trickles():
    from onething.departments.webhooks import _post

    trickler = Trickler()
    try:
        # Each byte comes well within the 0.5 s, the whole answer in about 6 s.
        with pytest.raises(TimeoutError, match=r"0\.5 s"):
            _post(trickler.url, b"{}", {"Content-Type": "application/json",
                                        "webhook-id": "msg_1"}, timeout=0.5)
        assert trickler.cut.wait(60)  # the attempt hung up: the answer never went out whole
        assert not trickler.answered.is_set()
    finally:
        trickler.close()


def test_connecting_to_many_dead_addresses_ends_at_the_attempts_deadline(monkeypatch):
    from onething.departments.webhooks import _post

    # A listening socket whose backlog is full drops each new SYN: connecting hangs.
    black_hole = socket.create_server(("127.0.0.1", 0), backlog=0)
    address = black_hole.getsockname()
    filling = [socket.socket() for _ in range(8)]
    tried = []
    try:
        for client in filling:
            client.setblocking(False)
            client.connect_ex(address)
        # The premise, checked: a connect there hangs (a kernel that refused or accepted
        # it would make the timeout below another one's).
        with socket.socket() as probe:
            probe.settimeout(0.2)
            with pytest.raises(TimeoutError):
                probe.connect(address)
        # The name resolves to several such addresses; each one tried is recorded.
        addresses = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", address)] * 4
        monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: addresses)
        connect = socket.socket.connect

        def recorded(sock, sockaddr):
            tried.append(sockaddr)
            return connect(sock, sockaddr)

        monkeypatch.setattr(socket.socket, "connect", recorded)
        with pytest.raises(TimeoutError, match=r"0\.5 s"):
            _post("http://hook.invalid:8080/hook", b"{}",
                  {"Content-Type": "application/json"}, timeout=0.5)
    finally:
        for client in filling:
            client.close()
        black_hole.close()
    # The first address took the whole deadline: no other got a timeout of its own.
    assert 1 <= len(tried) < len(addresses)


def test_a_trickling_endpoint_is_posted_an_id_once(engine):
    trickler = Trickler()
    other_engine = make_engine(url_of(engine))
    try:
        with Session(engine) as session:
            set_webhook(session, "sn-amr", trickler.url)
            [delivery_id] = add_events(session, "sn-amr", 1)
        first = Deliverer(engine, timeout=0.5)
        # The attempt's deadline is far inside the claim's lease.
        assert first.lease >= dt.timedelta(seconds=60)
        outcome = []
        thread = threading.Thread(target=lambda: outcome.append(first.run_round()))
        thread.start()
        assert trickler.received.wait(60)
        # While the answer trickles, the endpoint is claimed: another deliverer sends nothing.
        assert Deliverer(other_engine, timeout=0.5).run_round() == 0
        thread.join(60)
        assert outcome == [0]
        [event] = events_of(engine, "sn-amr")
        assert event.delivered_at is None and event.attempts == 1
        assert event.last_error.startswith("TimeoutError") and "0.5 s" in event.last_error
        # The failed attempt waits its backoff: nobody posts the id again meanwhile.
        assert Deliverer(other_engine, timeout=0.5).run_round() == 0
        assert trickler.ids == [delivery_id]
        assert not trickler.answered.is_set()
    finally:
        trickler.close()
        other_engine.dispose()
