"""Limits that must really apply: the request size and the session cookie's attributes
(Flask's own defaults, None and False, used to win over ours)."""

from __future__ import annotations

import io
import re

import pytest

from onething.web.app import create_app
from test_admin import PASSWORD, add_account, sign_in, token_of
from test_api import auth, tasks_of, token_for
from test_inbox import routed  # noqa: F401  (fixture)


def test_the_session_cookie_is_http_only_and_same_site_lax(app, client):
    add_account(app, "clerk", "department_staff", "sn-amr")
    page = client.get("/login").text
    response = client.post("/login", data={"username": "clerk", "password": PASSWORD,
                                           "csrf_token": token_of(page)})
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert "Secure" not in cookies[0]  # plain http on the demo


def test_a_static_file_never_refreshes_a_signed_in_session_cookie(app, client):
    add_account(app, "clerk", "department_staff", "sn-amr")
    sign_in(client, "clerk")
    # A page refreshes the signed-in (permanent) cookie; a stylesheet does not, so a
    # shared cache may keep it and a late answer cannot bring back a forgotten cookie.
    assert any(c.startswith("session=")
               for c in client.get("/inbox/").headers.getlist("Set-Cookie"))
    for path in ("/static/onething.css", "/favicon.ico"):
        with client.get(path) as static:
            assert static.status_code == 200
            assert not static.headers.getlist("Set-Cookie"), path


@pytest.mark.parametrize("path", ["/static/onething.css", "/favicon.ico"])
def test_a_static_answer_left_unread_leaves_no_file_open(app, client, path):
    import gc
    import warnings

    from werkzeug.test import EnvironBuilder

    with client.get(path) as first:
        etag = first.headers["ETag"]
    statuses = []
    for headers in ({"If-None-Match": etag}, {}):
        environ = EnvironBuilder(path=path, headers=headers).get_environ()
        body = app.wsgi_app(environ, lambda status, _headers, exc_info=None:
                            statuses.append(status))
        # A browser that leaves mid-answer: the server never closes the body. No file of
        # it may be left for the collector to find open.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del body
            gc.collect()
        assert not [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert statuses == ["304 NOT MODIFIED", "200 OK"]


def test_a_public_https_address_makes_the_cookie_secure(tmp_path):
    app = create_app({"PUBLIC_URL": "https://hall.example.gov.cn", "TESTING": True},
                     instance_path=str(tmp_path))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_an_absurdly_large_request_is_refused_before_it_is_read(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == app.config["UPLOAD_MAX_BYTES"] * 4
    body = io.BytesIO(b"x" * (limit + 1))
    response = client.post("/login", data=body, content_type="application/octet-stream")
    assert response.status_code == 413


def test_a_configuration_may_set_its_own_limit(tmp_path):
    app = create_app({"MAX_CONTENT_LENGTH": 1024, "TESTING": True}, instance_path=str(tmp_path))
    assert app.config["MAX_CONTENT_LENGTH"] == 1024


@pytest.mark.parametrize("body", [
    "[" * 5000 + "]" * 5000,
    '{"idempotency_key": "limits-0001", "action": "accept", "x": NaN}',
    '{"idempotency_key": "limits-0001", "action": "reject", "reason": "a\\u0000b"}',
    '{"idempotency_key": "limits-\\ud800", "action": "accept"}',
    # Two actions in one body: which one the caller meant is anybody's guess.
    '{"idempotency_key": "limits-0001", "action": "reject", "action": "accept"}',
    '{"idempotency_key": "limits-0001", "action": "accept", "n": ' + "9" * 5000 + "}",
])
def test_a_json_body_no_caller_means_is_422_and_changes_nothing(app, routed, client, body):  # noqa: F811
    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    response = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                           data=body, content_type="application/json")
    assert response.status_code == 422
    assert next(t for t in tasks_of(app, "sn-amr")
                if t.id == registration.id).status == registration.status


def test_a_nul_in_a_posted_form_is_a_400(app, client):
    assert client.post("/login", data={"username": "a\x00b", "password": "x"}).status_code == 400


@pytest.mark.parametrize("data", [
    {"action": "reject\x00"},
    {"action": "approve", "certificate_number": "SN\x001"},
    {"action": "approve", "certificate_number": "SN-1", "certificate_file": "licence\x00.pdf"},
])
def test_a_nul_in_a_multipart_form_is_a_400_and_changes_nothing(app, routed, data):  # noqa: F811
    from test_inbox import staff

    browser = staff(app, "sn-amr")
    task = routed["sn-amr"][0]
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      browser.get(f"/inbox/tasks/{task.id}").text).group(1)
    if "certificate_file" in data:  # a file of its own for each database's run
        data = {**data, "certificate_file": (io.BytesIO(b"%PDF-1.4"), data["certificate_file"])}
    response = browser.post(f"/inbox/tasks/{task.id}/decide", data={**data, "csrf_token": token},
                            content_type="multipart/form-data")
    assert response.status_code == 400
    assert next(t for t in tasks_of(app, "sn-amr") if t.id == task.id).status == task.status


@pytest.mark.parametrize(("typed", "expected"), [
    ("9" * 30, "9" * 30),  # an integer past 64 bits stays as typed, for its message
    ("120", 120),
])
def test_an_integer_no_form_means_is_kept_as_typed(typed, expected):
    from onething.cases.forms import convert

    assert convert({"type": "integer"}, typed) == expected
    number = convert({"type": "number"}, typed)
    assert isinstance(number, (int, float)) and abs(number) > 0
    assert not (isinstance(number, int) and abs(number) >= 2 ** 63)


def test_no_validator_of_applicants_data_fetches_a_document(monkeypatch):
    import urllib.request

    from onething.composer.validation import build_validator

    def fetch(*args, **kwargs):
        raise AssertionError("a validator fetched a URL")

    monkeypatch.setattr(urllib.request, "urlopen", fetch)
    form = build_validator({"properties": {"x": {"$ref": "http://127.0.0.1:9/x.json"}}})
    assert form.fast is None  # the compiled validator refused to retrieve it
    with pytest.raises(Exception, match="Unresolvable"):
        list(form.iter_errors({"x": 1}))

