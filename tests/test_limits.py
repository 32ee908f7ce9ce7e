"""Limits that must really apply: the request size and the session cookie's attributes
(Flask's own defaults, None and False, used to win over ours)."""

from __future__ import annotations

import io
import re

from onething.web.app import create_app
from test_admin import PASSWORD, add_account


def test_the_session_cookie_is_http_only_and_same_site_lax(app, client):
    add_account(app, "clerk", "department_staff", "sn-amr")
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    data = {"username": "clerk", "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login", data=data)
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    assert "HttpOnly" in cookies[0] and "SameSite=Lax" in cookies[0]
    assert "Secure" not in cookies[0]  # plain http on the demo


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
