"""The operations endpoints: /readyz asks the database, /metrics only with its token,
and the client's address behind a trusted proxy."""

from __future__ import annotations

import re

from sqlalchemy import text

from onething.storage.db import make_engine
from onething.web.app import create_app
from test_admin import token_of


def test_readyz_is_ready_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json == {"status": "ready"}


def test_readyz_is_503_when_the_database_is_behind_the_code(app, client):
    with app.extensions["onething.engine"].begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0012'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "0012" in response.json["database"]
    assert client.get("/healthz").status_code == 200  # the process itself is alive


def test_readyz_is_503_when_the_database_does_not_answer(app, client):
    working = app.extensions["onething.engine"]
    app.extensions["onething.engine"] = make_engine(
        "postgresql+psycopg://nobody@/none?host=/nonexistent&connect_timeout=1")
    try:
        response = client.get("/readyz")
    finally:
        app.extensions["onething.engine"].dispose()
        app.extensions["onething.engine"] = working
    assert response.status_code == 503 and response.json["status"] == "unavailable"


def test_metrics_are_not_found_unless_a_token_is_set(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_answer_only_the_token_and_count_cases(blank_engine, tmp_path):
    from test_web import fill, start, submit, upload_everything

    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "METRICS_TOKEN": "s3cret",
                      "WEBHOOK_INTERVAL": 0}, instance_path=tmp_path / "instance")
    client = app.test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert "<html" not in refused.text
    wrong = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert wrong.status_code == 401 and wrong.text == "this bearer token is not METRICS_TOKEN\n"
    basic = client.get("/metrics", headers={"Authorization": "Basic s3cret"})
    assert basic.status_code == 401 and basic.text.startswith("a bearer token is needed")
    # The scheme's name in any case, as HTTP says.
    assert client.get("/metrics", headers={"Authorization": "bearer s3cret"}).status_code == 200
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)

    page = client.get("/metrics", headers={"Authorization": "Bearer s3cret"}).text
    assert "onething_submissions_total 1.0" in page
    assert re.search(r'onething_tasks\{status="\w+"\} [1-9]', page)
    # Requests grouped by route, not by path: one series for every draft's form.
    assert 'url_rule="/d/<public_id>/form"' in page
    assert draft.rsplit("/", 1)[-1] not in page
    assert "onething_outbox_depth 0.0" in page and "onething_webhook_failed 0.0" in page
    app.extensions["onething.engine"].dispose()


def failures_from(app, addresses: list[str]) -> list[int]:
    """A failed sign-in from each address (as a proxy reports it), each at another name."""
    codes = []
    for n, address in enumerate(addresses):
        browser = app.test_client()
        token = token_of(browser.get("/login").text)
        codes.append(browser.post("/login", data={"username": f"name{n}", "password": "wrong",
                                                  "csrf_token": token},
                                  headers={"X-Forwarded-For": address}).status_code)
    return codes


def test_a_trusted_proxy_tells_the_clients_address(blank_engine, tmp_path):
    url = blank_engine.url.render_as_string(hide_password=False)
    config = {"DATABASE_URL": url, "TESTING": True, "LOGIN_RATE_LIMIT": "2 per minute"}
    # An address may fail 10 times a name's limit (2): 20. Untrusted, the header is the
    # client's own word: every try counts against the address the connection came from.
    direct = create_app(config, instance_path=tmp_path / "a")
    codes = failures_from(direct, [f"203.0.113.{n}" for n in range(21)])
    assert codes == [401] * 20 + [429]
    direct.extensions["onething.engine"].dispose()

    behind = create_app({**config, "TRUSTED_PROXIES": 1}, instance_path=tmp_path / "b")
    # Behind the proxy, another client is not held back by the first one's failures.
    codes = failures_from(behind, ["198.51.100.1"] * 20 + ["198.51.100.2", "198.51.100.1"])
    assert codes == [401] * 21 + [429]
    behind.extensions["onething.engine"].dispose()


def test_metrics_with_a_header_beyond_ascii_is_refused_not_a_500(blank_engine, tmp_path):
    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "METRICS_TOKEN": "s3cret"},
                     instance_path=tmp_path / "instance")
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer 令牌"})
    assert response.status_code == 401
    app.extensions["onething.engine"].dispose()


def test_a_connection_the_database_ended_is_replaced_before_a_request_uses_it(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as victim, engine.connect() as other:
            ended = victim.connection.driver_connection.info.backend_pid
            victim.close()  # back to the pool, idle there
            # Waits until that server process has ended (PostgreSQL 14+), not a sleep.
            assert other.execute(text("SELECT pg_terminate_backend(:pid, 10000)"),
                                 {"pid": ended}).scalar_one()
            other.commit()
        # Both pooled connections checked out at once: the ended one is among them.
        with engine.connect() as first, engine.connect() as second:
            pids = {connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                    for connection in (first, second)}
        assert ended not in pids and len(pids) == 2
    finally:
        engine.dispose()


def test_readyz_is_503_when_uploads_cannot_be_kept(app, client, tmp_path):
    # A folder not there yet is made at the first upload: ready.
    app.config["UPLOAD_DIR"] = str(tmp_path / "not-yet" / "files")
    assert client.get("/readyz").json == {"status": "ready"}
    # A file where the folder should be (a mount gone wrong): every upload would fail.
    (tmp_path / "a-file").write_text("x")
    app.config["UPLOAD_DIR"] = str(tmp_path / "a-file" / "files")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable",
                             "uploads": f"{tmp_path / 'a-file'} is not a folder"}
