"""The departments' JSON API: tokens, isolation, idempotent decisions, the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlmodel import Session, select

from onething.departments.api import new_token
from onething.storage.models import ApiToken, AuditEntry, Task
from test_inbox import PRIVATE, routed  # noqa: F401  (the routed restaurant case)


def token_for(app, department: str, days: int = 30) -> str:
    with Session(app.extensions["onething.engine"]) as session:
        return new_token(session, department, f"{department} system", days)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def tasks_of(app, department: str) -> list[Task]:
    with Session(app.extensions["onething.engine"]) as session:
        return list(session.exec(select(Task).where(Task.department_code == department)))


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ot_forged", "Basic dXNlcjpwdw=="])
def test_a_missing_or_forged_token_is_401(app, routed, client, header):  # noqa: F811
    response = client.get("/api/v1/tasks", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["error"] == "unauthorized"


def test_an_expired_or_revoked_token_is_401(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    assert client.get("/api/v1/tasks", headers=auth(token)).status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        stored = session.exec(select(ApiToken)).one()
        stored.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.add(stored)
        session.commit()
    assert client.get("/api/v1/tasks", headers=auth(token)).status_code == 401


@pytest.mark.parametrize("department", ["sn-amr", "sn-fire", "sn-urban-mgmt", "sn-tobacco"])
def test_the_api_gives_a_department_its_slices_only(app, routed, client, department):  # noqa: F811
    token = token_for(app, department)
    listed = client.get("/api/v1/tasks", headers=auth(token)).json["tasks"]
    assert {t["id"] for t in listed} == {t.id for t in tasks_of(app, department)}
    bodies = [client.get(f"/api/v1/tasks/{t['id']}", headers=auth(token)).get_data(as_text=True)
              for t in listed]
    text = "\n".join(bodies)
    for value, allowed in PRIVATE.items():
        assert (value in text) == (department in allowed), (department, value)


def test_another_departments_task_is_404(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-urban-mgmt")
    tobacco = tasks_of(app, "sn-tobacco")[0]
    assert client.get(f"/api/v1/tasks/{tobacco.id}", headers=auth(token)).status_code == 404
    decision = client.post(f"/api/v1/tasks/{tobacco.id}/decisions", headers=auth(token),
                           json={"idempotency_key": "k-12345678", "action": "accept"})
    assert decision.status_code == 404
    assert tasks_of(app, "sn-tobacco")[0].status == tobacco.status


def test_a_decision_post_is_idempotent(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    body = {"idempotency_key": "decision-0001", "action": "accept"}
    first = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                        json=body)
    again = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                        json=body)
    assert first.status_code == again.status_code == 200
    assert first.json == again.json and first.json["status"] == "accepted"
    with Session(app.extensions["onething.engine"]) as session:
        accepted = session.exec(select(AuditEntry).where(AuditEntry.action == "accept")).all()
    assert len(accepted) == 1
    reused = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                         json={"idempotency_key": "decision-0001", "action": "reject",
                               "reason": "x"})
    assert reused.status_code == 422 and reused.json["error"] == "key_reused"


def test_a_decision_out_of_turn_is_409_with_the_reason(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    food = next(t for t in tasks_of(app, "sn-amr") if t.matter_code == "food-business-licence")
    refused = client.post(f"/api/v1/tasks/{food.id}/decisions?lang=en", headers=auth(token),
                          json={"idempotency_key": "decision-0002", "action": "accept"})
    assert refused.status_code == 409
    assert refused.json["error"] == "not_decidable"
    assert "present state" in refused.json["message"]
    assert refused.json["task"]["status"] == "waiting"


@pytest.mark.parametrize("body", [
    None, [], {"action": "accept"}, {"idempotency_key": "short", "action": "accept"},
    {"idempotency_key": "decision-0003", "action": "delete"},
    {"idempotency_key": "decision-0003", "action": "accept", "fields": ["entity_name"]},
    {"idempotency_key": "decision-0003", "action": "reject", "reason": 42},
    {"idempotency_key": "decision-0003", "action": "approve", "certificate_number": ["A"]},
    {"idempotency_key": "decision-0003", "action": "approve", "certificate_number": "A",
     "produced": ["entity_uscc"]},
])
def test_a_malformed_decision_is_422_and_changes_nothing(app, routed, client, body):  # noqa: F811
    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    response = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                           json=body)
    assert response.status_code == 422
    assert next(t for t in tasks_of(app, "sn-amr")
                if t.id == registration.id).status == registration.status


def test_the_openapi_document_describes_every_route(app, client):
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    api_rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
                 for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
                 and not rule.rule.endswith("openapi.json") and "materials" not in rule.rule}
    assert api_rules == set(document["paths"])
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_an_impossible_task_id_is_a_json_404(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    for task_id in ("9223372036854775808", "0"):
        response = client.get(f"/api/v1/tasks/{task_id}", headers=auth(token))
        assert response.status_code == 404 and response.json["error"] == "not_found"
    unrouted = client.get("/api/v1/nowhere", headers=auth(token))
    assert unrouted.status_code == 404 and unrouted.mimetype == "application/json"


def test_a_nul_character_is_a_clear_400_not_a_database_error(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    assert client.get("/api/v1/tasks?status=%00", headers=auth(token)).status_code == 400
    assert client.get("/api/v1/tasks?status=unknown", headers=auth(token)).status_code == 422
    assert client.get("/d/abc%00def/form").status_code == 400
    login = client.get("/login").text
    import re

    token_field = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    # A NUL in a posted form is refused before any view reads it.
    refused = client.post("/login", data={"username": "ad\x00min", "password": "x",
                                          "csrf_token": token_field})
    assert refused.status_code == 400
