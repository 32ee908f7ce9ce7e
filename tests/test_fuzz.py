"""Fuzzing what applicants, departments' systems and administrators can send: no answer
is a server error, and no request makes the server connect anywhere.

A socket guard refuses every connection outside loopback (and Unix sockets) for the
whole module: a definition or a request that made the server fetch a URL fails here.
Each test prints its counts: requests sent and server errors.
"""

from __future__ import annotations

import json
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_admin import admin  # noqa: F401  (fixture)
from test_api import auth, token_for
from test_inbox import routed  # noqa: F401  (fixture)
from test_web import FORM, start

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
# What people and attackers type: any text, digits of every script, numbers too large,
# NUL and other controls, markup, and what the platform reads specially (万, ㎡).
TEXTS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "nan", "inf", "-0", "1e999", "9" * 40, "30万", "１２０㎡",
                     "<script>alert(1)</script>", "'; DROP TABLE task; --", "../../etc/passwd",
                     "\u202e", "\ud7ff", "2026-02-30", "-P3Y", "a" * 5000]),
    st.integers().map(str),
)


@pytest.fixture(autouse=True)
def no_outbound_connections(monkeypatch):
    """Fail on any connection the server would open outside this machine."""
    original = socket.socket.connect

    def guarded(sock, address, *args):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family != socket.AF_UNIX and host not in ("127.0.0.1", "::1", "localhost"):
            sock.close()  # not an OSError: nothing in the server may take it for a failure
            raise AssertionError(f"outbound connection to {address!r}")
        return original(sock, address, *args)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded)


def test_the_one_form_never_answers_with_a_server_error(client):
    draft = start(client)
    fields = sorted(FORM)
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(st.dictionaries(st.sampled_from(fields), TEXTS, max_size=8),
           st.sampled_from(fields), TEXTS)
    def check(values, field, typed):
        for response in (client.post(f"{draft}/form", data={**FORM, **values}),
                         client.get(f"{draft}/check", query_string={"field": field,
                                                                    field: typed})):
            counts["requests"] += 1
            counts["5xx"] += response.status_code >= 500
            assert response.status_code < 500, (values, field, typed)

    check()
    print(f"one form: {counts['requests']} requests, {counts['5xx']} server errors")
    # Whatever was tried, the draft still opens.
    assert client.get(f"{draft}/form").status_code == 200


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.sampled_from(["idempotency_key", "action", "reason",
                                       "certificate_number", "produced", "x"]) | st.text(
                                           max_size=5), children, max_size=4),
    max_leaves=10)


def test_the_api_never_answers_with_a_server_error(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    task = routed["sn-amr"][0]
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(JSON, st.sampled_from(["accept", "approve", "reject", "supplement", "x"]), TEXTS)
    def check(body, action, text):
        bodies = [body, {"idempotency_key": f"fuzz-{text}"[:200], "action": action,
                         "reason": text, "certificate_number": text}]
        for sent in bodies:
            response = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token),
                                   json=sent)
            counts["requests"] += 1
            counts["5xx"] += response.status_code >= 500
            assert response.status_code < 500, sent
        listed = client.get("/api/v1/tasks", headers=auth(token),
                            query_string={"status": text, "page": text})
        counts["requests"] += 1
        assert listed.status_code < 500, text

    check()
    print(f"API: {counts['requests']} requests, {counts['5xx']} server errors")


def test_the_consoles_json_check_never_answers_with_a_server_error(admin):  # noqa: F811
    client, token = admin
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(st.one_of(TEXTS, JSON.map(json.dumps)))
    def check(text):
        response = client.post("/admin/matters/outdoor-signboard/check",
                               data={"csrf_token": token, "text": text})
        counts["requests"] += 1
        counts["5xx"] += response.status_code >= 500
        assert response.status_code < 500, text

    check()
    print(f"console JSON check: {counts['requests']} requests, {counts['5xx']} server errors")


def test_the_guard_itself_stops_an_outbound_connection():
    import urllib.request

    with pytest.raises(AssertionError, match="outbound connection"):
        urllib.request.urlopen("http://93.184.215.14/", timeout=1)
