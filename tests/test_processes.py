"""Several processes on one database: starting at once, sharing the sign-in limit,
gunicorn's workers, and a server killed (-9) in the middle of concurrent submissions."""

from __future__ import annotations

import http.client
import http.cookiejar
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import text
from sqlmodel import Session, func, select

from onething.storage.db import make_engine
from onething.storage.models import Submission, Task

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from submit import prepare_drafts, server  # noqa: E402

START = """
import hashlib, sys
from onething.web.app import create_app
app = create_app()
print(hashlib.sha256(app.secret_key.encode()).hexdigest())
"""


def url_of(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def environment(database_url: str, instance: Path, **settings: str) -> dict:
    return dict(os.environ, ONETHING_DATABASE_URL=database_url,
                ONETHING_INSTANCE_PATH=str(instance),
                **{f"ONETHING_{name}": value for name, value in settings.items()})


def test_processes_starting_at_once_end_with_one_migrated_database(blank_engine, tmp_path):
    env = environment(url_of(blank_engine), tmp_path / "instance")
    (tmp_path / "instance").mkdir()
    starting = [subprocess.Popen([sys.executable, "-c", START], env=env, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for _ in range(3)]
    results = [process.communicate(timeout=300) for process in starting]

    for process, (_out, err) in zip(starting, results, strict=True):
        assert process.returncode == 0, err[-3000:]
    # One secret key, written once, read by all three.
    assert len({out.strip() for out, _err in results}) == 1
    with blank_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        # The catalog was published once: one version 1 of each bundle, none twice.
        numbers = connection.execute(text(
            "SELECT bundle_code, count(*) FROM bundle_version GROUP BY bundle_code")).all()
    assert numbers and all(count == 1 for _code, count in numbers)


class Browser:
    """A browser with a cookie jar, against one server."""

    def __init__(self, port: int):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in(self, username: str, password: str) -> int:
        with self.opener.open(f"{self.base}/login") as response:
            page = response.read().decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        body = urlencode({"username": username, "password": password,
                          "csrf_token": token}).encode()
        try:
            with self.opener.open(f"{self.base}/login", data=body) as response:
                return response.status
        except urllib.error.HTTPError as error:
            error.close()
            return error.code


def test_the_sign_in_limit_is_shared_by_two_processes(blank_engine, tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    url = url_of(blank_engine)
    from onething.web.app import create_app

    app = create_app({"DATABASE_URL": url, "DEMO_ACCOUNTS": True}, instance_path=str(instance))
    app.extensions["onething.engine"].dispose()
    monkeypatch.setenv("ONETHING_LOGIN_RATE_LIMIT", "3 per minute")  # the servers' setting
    with server(url, instance) as (first, _), server(url, instance) as (second, _):
        one, two = Browser(first), Browser(second)
        failures = [one.sign_in("admin", "wrong"), two.sign_in("admin", "wrong"),
                    one.sign_in("admin", "wrong")]
        # The fourth try, at the other process and with the right password: refused,
        # because the three failures were counted where both processes see them.
        assert failures == [401, 401, 401]
        assert two.sign_in("admin", "onething-demo") == 429
        # A colleague at the same address (both browsers are 127.0.0.1) is not held back:
        # an address may fail ten times as often as a name.
        assert Browser(first).sign_in("amr", "onething-demo") == 200


def submit_all(port: int, drafts: list, keys: dict, acknowledged: dict, enough: int,
               then: threading.Event) -> None:
    """Submit the drafts from 8 clients; each 302 is acknowledged; set `then` at `enough`."""
    lock = threading.Lock()
    queue = iter(drafts)

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while (item := next_draft()) is not None:
                public_id, token = item
                try:
                    connection.request(
                        "POST", f"/d/{public_id}/submit?{urlencode({'token': token})}",
                        body=urlencode({"idempotency_key": keys[public_id]}),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
                    response = connection.getresponse()
                    response.read()
                except (OSError, http.client.HTTPException):
                    return  # the server is gone: what was not acknowledged may be lost
                if response.status == 302:
                    with lock:
                        acknowledged[public_id] = response.getheader("Location")
                        if len(acknowledged) >= enough:
                            then.set()
        finally:
            connection.close()

    def next_draft():
        with lock:
            return next(queue, None)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()


def test_a_server_killed_during_submissions_keeps_every_acknowledged_one_whole(
        blank_engine, tmp_path):
    url, instance = url_of(blank_engine), tmp_path / "instance"
    instance.mkdir()
    drafts = prepare_drafts(url, instance, 80)
    keys = {public_id: secrets.token_urlsafe(16) for public_id, _token in drafts}
    acknowledged: dict[str, str] = {}
    with server(url, instance) as (port, pid):
        enough = threading.Event()
        killer = threading.Thread(target=lambda: enough.wait() and os.kill(pid, signal.SIGKILL))
        killer.start()
        submit_all(port, drafts, keys, acknowledged, 20, enough)
        enough.set()
        killer.join()
    assert 20 <= len(acknowledged) < len(drafts), "the kill came too late to test anything"

    engine = make_engine(url)
    with Session(engine) as session:
        stored = session.exec(select(Submission.tracking_number, func.count(Task.id))
                              .join(Task, Task.submission_id == Submission.id)
                              .group_by(Submission.tracking_number)).all()
    tasks_of = dict(stored)
    for location in acknowledged.values():
        number = location.rstrip("/").rsplit("/", 1)[-1]
        # Whole: the submission and its five routed tasks, or it would not have been
        # acknowledged.
        assert tasks_of.get(number) == 5, (number, tasks_of.get(number))
    assert all(count == 5 for count in tasks_of.values())  # nothing half-routed

    # After a restart, the applicants' retries (same keys) submit the rest once each.
    retried: dict[str, str] = {}
    with server(url, instance) as (port, _pid):
        submit_all(port, drafts, keys, retried, len(drafts) + 1, threading.Event())
    assert set(retried) == {public_id for public_id, _token in drafts}
    assert all(retried[d] == acknowledged[d] for d in acknowledged)  # the same submission
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Submission)).one() == len(drafts)
        assert session.exec(select(func.count()).select_from(Task)).one() == 5 * len(drafts)
    engine.dispose()


def test_gunicorn_workers_serve_and_share_one_database(blank_engine, tmp_path):
    url, instance = url_of(blank_engine), tmp_path / "instance"
    instance.mkdir()
    from submit import free_port

    port = free_port()
    env = environment(url, instance, METRICS_TOKEN="t0ken")
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        master = subprocess.Popen([sys.executable, "-m", "onething.cli", "serve", "--workers",
                                   "2", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        ready = None
        for _attempt in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz",
                                            timeout=2) as response:
                    ready = response.status
                break
            except OSError:
                if master.poll() is not None:
                    break
                threading.Event().wait(0.2)
        assert ready == 200, log.read_text()
        # gunicorn forks its workers one after another: the first may answer /readyz before
        # the second exists. Wait for the second (bounded, for a broken start).
        children: list[str] = []
        for _attempt in range(300):
            children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
            if len(children) >= 2 or master.poll() is not None:
                break
            threading.Event().wait(0.1)
        assert len(children) == 2, log.read_text()
        for _ in range(10):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/manual") as response:
                assert response.status == 200
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                         headers={"Authorization": "Bearer t0ken"})
        with urllib.request.urlopen(request) as response:
            metrics = response.read().decode()
        # Requests counted by both workers, added up whichever answers.
        served = re.search(r'onething_http_request_total\{method="GET",status="200"\} (\S+)',
                           metrics)
        assert served and float(served.group(1)) >= 11
        assert "onething_submissions_total 0.0" in metrics
    finally:
        master.send_signal(signal.SIGTERM)
        master.wait(timeout=30)
    assert master.returncode == 0, log.read_text()


def test_waitress_main_loop_does_not_wait_on_a_response_a_worker_is_writing():
    from waitress.adjustments import Adjustments
    from waitress.channel import HTTPChannel

    from onething.web.serving import _Channel

    ours, theirs = socket.socketpair()
    try:
        adj = Adjustments()
        server = types.SimpleNamespace(active_channels={})
        channel = _Channel(server, ours, ("127.0.0.1", 0), adj, map={})
        # A worker thread is serving a request and has put part of its answer in the
        # buffer (it sends it itself): waitress's own channel asks select() to wake the
        # main loop for it, which then finds nothing it may do, and asks again: a spin.
        channel.requests = [object()]
        channel.total_outbufs_len = 161
        assert HTTPChannel.writable(channel)
        assert not channel.writable()
        # A worker waiting for the buffer to drain: the main loop must send it.
        channel.total_outbufs_len = adj.outbuf_high_watermark + 1
        assert channel.writable()
        # The request done: what is left is the main loop's to send.
        channel.requests, channel.total_outbufs_len = [], 161
        assert channel.writable()
        # Closing is always the main loop's.
        channel.requests, channel.total_outbufs_len, channel.will_close = [object()], 0, True
        assert channel.writable()
    finally:
        ours.close()
        theirs.close()
