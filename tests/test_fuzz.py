"""Fuzzing what applicants, departments' systems and administrators can send: no answer
is a server error, and no request makes the server connect anywhere.

A socket guard refuses every connection outside loopback (and Unix sockets) for the
whole module: a definition or a request that made the server fetch a URL fails here.
Each test prints its counts: requests sent and server errors.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_admin import admin  # noqa: F401  (fixture)
from test_api import auth, token_for
from test_inbox import routed, staff  # noqa: F401  (fixture)
from test_web import ANSWERS, FORM, PDF, start

# A nightly hunt raises the count (README: ONETHING_FUZZ_EXAMPLES).
SETTINGS = settings(max_examples=int(os.environ.get("ONETHING_FUZZ_EXAMPLES", "60")),
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


QUESTIONS = sorted(ANSWERS)


def test_the_start_page_and_the_guides_never_answer_with_a_server_error(client):
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(st.dictionaries(st.sampled_from(QUESTIONS) | st.text(max_size=8), TEXTS,
                           max_size=6), TEXTS)
    def check(answers, typed):
        # Answers as a QR code's link carries them, as a form posts them, and as the
        # guide and the search box read them.
        for response in (
                client.get("/b/open-restaurant", query_string=answers),
                client.get("/b/open-restaurant", query_string=answers,
                           headers={"HX-Request": "true"}),
                client.post("/b/open-restaurant", data=answers),
                client.get("/g/open-restaurant", query_string={**answers, "_stages": typed}),
                client.get("/manual", query_string={"q": typed, "page": typed}),
                client.get("/manual", query_string={"kind": "matter", "department": typed,
                                                    "page": typed}),
                client.get("/", query_string={"page": typed})):
            counts["requests"] += 1
            counts["5xx"] += response.status_code >= 500
            assert response.status_code < 500, (response.request.url, answers, typed)

    check()
    print(f"start page, guides, search: {counts['requests']} requests, "
          f"{counts['5xx']} server errors")


# What an upload may be: a real PDF, nothing, garbage, a zip, markup, any name.
FILES = st.tuples(
    st.sampled_from([PDF, b"", b"\x00" * 64, b"PK\x03\x04" + b"\xff" * 40,
                     b"<svg onload=alert(1)>", b"%PDF-1.4\n" + b"A" * 4096]),
    st.one_of(st.sampled_from(["a.pdf", "", ".pdf", "../../x.pdf", "a\x00.pdf", "证明.PDF",
                               "a.pdf.exe", "a" * 300 + ".pdf", "CON.pdf"]), st.text(max_size=20)),
    st.sampled_from(["application/pdf", "image/png", "", "text/html", "application/x-zip"]),
)


def test_uploads_never_answer_with_a_server_error(client):
    draft = start(client)
    page = client.get(f"{draft}/materials").text
    materials = sorted(set(re.findall(r'/materials/([a-z0-9-]+)"', page)))
    assert materials
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(st.sampled_from([*materials, "nope", "../x"]), FILES,
           st.sampled_from(["upload", "defer", "commit", "remove", "", "x"]))
    def check(material, file, action):
        content, name, content_type = file
        response = client.post(f"{draft}/materials/{material}",
                               data={"action": action,
                                     "file": (io.BytesIO(content), name, content_type)},
                               content_type="multipart/form-data")
        counts["requests"] += 1
        counts["5xx"] += response.status_code >= 500
        assert response.status_code < 500, (material, name, content_type, action)

    check()
    print(f"uploads: {counts['requests']} requests, {counts['5xx']} server errors")
    assert client.get(f"{draft}/materials").status_code == 200


def test_the_inbox_decision_form_never_answers_with_a_server_error(app, routed):  # noqa: F811
    browser = staff(app, "sn-amr")
    task = routed["sn-amr"][0]
    page = browser.get(f"/inbox/tasks/{task.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    counts = {"requests": 0, "5xx": 0}

    @SETTINGS
    @given(st.sampled_from(["accept", "approve", "reject", "supplement", "", "x"]), TEXTS,
           TEXTS, st.lists(TEXTS, max_size=3), st.one_of(st.none(), FILES))
    def check(action, certificate, reason, fields, file):
        data = {"csrf_token": token, "action": action, "certificate_number": certificate,
                "reason": reason, "fields": fields, "materials": fields,
                "entity_uscc": certificate}
        for headers in ({}, {"HX-Request": "true"}):
            if file is not None:  # each request reads (and closes) its own copy
                data["certificate_file"] = (io.BytesIO(file[0]), file[1], file[2])
            response = browser.post(f"/inbox/tasks/{task.id}/decide", data=data,
                                    headers=headers, content_type="multipart/form-data")
            counts["requests"] += 1
            counts["5xx"] += response.status_code >= 500
            assert response.status_code < 500, data
        listed = browser.get("/inbox/", query_string={"status": reason, "due": certificate,
                                                      "page": reason, "q": certificate})
        counts["requests"] += 1
        assert listed.status_code < 500, (reason, certificate)

    check()
    print(f"inbox decisions: {counts['requests']} requests, {counts['5xx']} server errors")


def test_the_guard_itself_stops_an_outbound_connection():
    import urllib.request

    with pytest.raises(AssertionError, match="outbound connection"):
        urllib.request.urlopen("http://93.184.215.14/", timeout=1)
