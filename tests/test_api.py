"""The departments' JSON API: tokens, isolation, idempotent decisions, the OpenAPI document."""

from __future__ import annotations

import collections
import datetime as dt
import re

import pytest
from sqlmodel import Session, select

from onething.departments.api import new_token
from onething.storage.models import ApiToken, AuditEntry, Task
from test_inbox import PRIVATE, routed  # noqa: F401  (the routed restaurant case)

from conftest import uploaded_material


def token_for(app, department: str, days: int = 30) -> str:
    with Session(app.extensions["onething.engine"]) as session:
        return new_token(session, department, f"{department} system", days)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def tasks_of(app, department: str) -> list[Task]:
    with Session(app.extensions["onething.engine"]) as session:
        return list(session.exec(select(Task).where(Task.department_code == department)))


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_token_scheme_is_read_in_any_case(app, routed, client, scheme):  # noqa: F811
    # RFC 9110: an authentication scheme's name is case-insensitive.
    token = token_for(app, "sn-amr")
    response = client.get("/api/v1/tasks", headers={"Authorization": f"{scheme} {token}"})
    assert response.status_code == 200 and response.json["tasks"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ot_forged", "Basic dXNlcjpwdw==",
                                    "Bearerot_forged", "bearer  "])
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


def test_a_refused_decision_names_its_field_and_leaves_the_key_for_the_corrected_one(
        app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    task = next(t for t in tasks_of(app, "sn-amr") if t.matter_code == "business-registration")
    url = f"/api/v1/tasks/{task.id}/decisions?lang=en"
    body = {"idempotency_key": "decision-0005", "action": "reject"}
    refused = client.post(url, headers=auth(token), json=body)
    assert refused.status_code == 422 and refused.json["error"] == "reason"
    assert refused.json["field"] == "reason" and refused.json["task"]["status"] == "pending"
    # Nothing was decided: the same key carries the request with its reason.
    fixed = client.post(url, headers=auth(token), json={**body, "reason": "名称不符合规定"})
    assert fixed.status_code == 200 and fixed.json["status"] == "rejected"
    assert client.post(url, headers=auth(token), json={**body, "reason": "名称不符合规定"}
                       ).json == fixed.json  # and from then on, its first answer


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
    {"idempotency_key": "decision-0003", "action": "supplement", "reason": "x"},
    {"idempotency_key": "decision-0003", "action": "supplement", "fields": "entity_name"},
    {"idempotency_key": "decision-0003", "action": "supplement", "fields": [1]},
    {"idempotency_key": "decision-0003", "action": "supplement", "fields": ["no_such_field"]},
    {"idempotency_key": "decision-0003", "action": "supplement", "materials": ["no-such"]},
    # Parts of a field: the applicant's correction page asks whole fields again.
    {"idempotency_key": "decision-0003", "action": "supplement", "reason": "x",
     "fields": ["shareholders.0.name"]},
    {"idempotency_key": "decision-0003", "action": "supplement", "reason": "x",
     "fields": ["shareholders.0"]},
    {"idempotency_key": "decision-0003", "action": "supplement", "reason": "x",
     "fields": ["premises_address.detail"]},
    {"idempotency_key": "decision-0003", "action": "supplement", "reason": "x",
     "fields": ["entity_name", "legal_representative.name"]},
])
def test_a_malformed_decision_is_422_and_changes_nothing(app, routed, client, body):  # noqa: F811
    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    response = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                           json=body)
    assert response.status_code == 422
    if isinstance(body, dict) and isinstance(body.get("fields"), list) and body.get("reason"):
        assert response.json["field"] == "fields"
    assert next(t for t in tasks_of(app, "sn-amr")
                if t.id == registration.id).status == registration.status


@pytest.mark.parametrize(("body", "field", "said"), [
    (None, "body", "not a JSON object"), ([], "body", "not a JSON object"),
    ({"action": "accept"}, "idempotency_key", "8 to 200 characters"),
    ({"idempotency_key": "decision-0004", "action": "fly"}, "action", "one of: accept"),
    ({"idempotency_key": "decision-0004", "action": "accept", "note": "x"}, "note",
     "takes only idempotency_key"),
    ({"idempotency_key": "decision-0004", "action": "accept", "fields": ["x"]}, "fields",
     "correction (action supplement) only"),
    ({"idempotency_key": "decision-0004", "action": "supplement", "materials": "x"},
     "materials", "lists of texts"),
    ({"idempotency_key": "decision-0004", "action": "reject", "reason": 42}, "reason",
     "are texts"),
    ({"idempotency_key": "decision-0004", "action": "approve", "produced": []}, "produced",
     "is an object"),
])
def test_a_malformed_decision_names_the_field_at_fault(
        app, routed, client, body, field, said):  # noqa: F811
    token = token_for(app, "sn-amr")
    task = tasks_of(app, "sn-amr")[0]
    response = client.post(f"/api/v1/tasks/{task.id}/decisions?lang=en", headers=auth(token),
                           json=body)
    assert response.status_code == 422 and response.json["error"] == "invalid"
    assert response.json["field"] == field and said in response.json["message"]
    chinese = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token), json=body)
    assert chinese.json["field"] == field and "请求内容不是有效的审批决定" not in (
        chinese.json["message"])


def test_the_openapi_document_describes_every_route(app, client):
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    api_rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
                 for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
                 and not rule.rule.endswith("openapi.json")}
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


# --- syncing: the task list a page at a time -------------------------------------------------


def walk(client, token: str, url: str = "/api/v1/tasks?limit=100", between=None) -> list[dict]:
    """Every task listed by following `next` while `has_more`; `between(page)` runs between."""
    listed, number = [], 0
    while True:
        page = client.get(url, headers=auth(token))
        assert page.status_code == 200, page.json
        listed += page.json["tasks"]
        if not page.json["has_more"]:
            return listed
        number += 1
        if between:
            between(number)
        url = page.json["next"].removeprefix("http://localhost")


def test_syncing_walks_every_task_once_also_when_tasks_change_between_pages(app, client):
    from conftest import bulk_route

    ids = bulk_route(app, 2500)
    token = token_for(app, "sn-amr")
    seen_early, unseen = ids[150], ids[2000]

    def decide_two(page: int) -> None:
        # Between the third and fourth page: one task already listed, one not yet.
        if page == 3:
            for task_id in (seen_early, unseen):
                response = client.post(f"/api/v1/tasks/{task_id}/decisions", headers=auth(token),
                                       json={"idempotency_key": f"sync-{task_id}",
                                             "action": "accept"})
                assert response.status_code == 200

    listed = walk(client, token, between=decide_two)
    counted = collections.Counter(task["id"] for task in listed)
    assert set(counted) == set(ids)  # none skipped, no other department's
    assert {task_id for task_id, n in counted.items() if n > 1} == {seen_early}
    # The changed tasks come last, as they are now; the rest in the order they changed.
    assert [(t["id"], t["status"]) for t in listed[-2:]] == [(seen_early, "accepted"),
                                                            (unseen, "accepted")]
    assert [t["id"] for t in listed[:-2]] == [i for i in ids if i != unseen]
    stamps = [(t["updated_at"], t["id"]) for t in listed[150:]]
    assert stamps == sorted(stamps)


def test_a_status_filter_and_page_size_are_kept_by_next(app, client):
    from conftest import bulk_route

    ids = bulk_route(app, 250, statuses=("pending", "accepted", "approved"))
    token = token_for(app, "sn-amr")
    first = client.get("/api/v1/tasks?status=accepted&limit=20", headers=auth(token)).json
    assert len(first["tasks"]) == 20 and first["has_more"]
    assert "status=accepted" in first["next"] and "limit=20" in first["next"]
    listed = walk(client, token, "/api/v1/tasks?status=accepted&limit=20")
    assert [t["id"] for t in listed] == ids[1::3]
    assert {t["status"] for t in listed} == {"accepted"}


def test_updated_after_lists_only_what_changed_after_it(app, client):
    from conftest import bulk_route

    ids = bulk_route(app, 30)
    token = token_for(app, "sn-amr")
    everything = client.get("/api/v1/tasks", headers=auth(token)).json["tasks"]
    moment = dt.datetime.fromisoformat(everything[9]["updated_at"])
    china = moment.astimezone(dt.timezone(dt.timedelta(hours=8)))
    for given in (moment.isoformat(), moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                  china.isoformat(), china.isoformat().replace("+", " ")):
        after = client.get("/api/v1/tasks", query_string={"updated_after": given},
                           headers=auth(token)).json
        assert [t["id"] for t in after["tasks"]] == ids[10:], given
    # The cursor of an empty page stays where it was: nothing is missed by polling it later.
    later = (moment + dt.timedelta(days=1)).isoformat()
    empty = client.get("/api/v1/tasks", query_string={"updated_after": later},
                       headers=auth(token)).json
    assert empty["tasks"] == [] and not empty["has_more"]
    assert client.get(f"/api/v1/tasks?cursor={empty['next_cursor']}",
                      headers=auth(token)).json["tasks"] == []


@pytest.mark.parametrize(("query", "parameter"), [
    ("cursor=not-a-cursor", "cursor"),
    ("cursor=" + "A" * 65, "cursor"),
    ("cursor=MTIzNDU2", "cursor"),  # base64 of "123456": no id
    ("cursor=LTEuOTk5OTk5OTk5OTk5", "cursor"),  # an id past every row id
    ("cursor=%C3%A9t%C3%A9", "cursor"),
    ("updated_after=2026-12-01", "updated_after"),
    ("updated_after=2026-12-01T08:00:00", "updated_after"),  # no offset: which clock?
    ("updated_after=2026-13-01T08:00:00Z", "updated_after"),
    ("updated_after=2026-12-01T08:00:00%2B08:61", "updated_after"),
    ("updated_after=0000-01-01T00:00:00Z", "updated_after"),
    ("updated_after=yesterday", "updated_after"),
    ("limit=0", "limit"), ("limit=501", "limit"), ("limit=ten", "limit"), ("limit=-1", "limit"),
    ("limit=", "limit"),
    ("status=unknown", "status"), ("status=", "status"),
    ("cursor=MTIuMw&updated_after=2026-12-01T08:00:00Z", "cursor"),
    # One the list does not take, or one given twice: named, as the others are.
    ("page=2", "page"), ("since=2026-12-01", "since"), ("limit=5&limit=6", "limit"),
])
def test_a_bad_list_parameter_is_a_clear_422(app, routed, client, query, parameter):  # noqa: F811
    token = token_for(app, "sn-amr")
    response = client.get(f"/api/v1/tasks?{query}&lang=en", headers=auth(token))
    assert response.status_code == 422
    assert response.json["error"] == "invalid_parameter"
    assert response.json["parameter"] == parameter
    if parameter in ("cursor", "limit", "updated_after", "status"):
        assert parameter in response.json["message"]


def test_a_change_is_listed_once_it_has_settled(app, client):
    from conftest import bulk_route

    ids = bulk_route(app, 5)  # routed two hours ago
    token = token_for(app, "sn-amr")
    app.config["API_SETTLE_SECONDS"] = 3600
    page = client.get("/api/v1/tasks", headers=auth(token)).json
    assert [t["id"] for t in page["tasks"]] == ids
    client.post(f"/api/v1/tasks/{ids[0]}/decisions", headers=auth(token),
                json={"idempotency_key": "settle-0001", "action": "accept"})
    # Changed a moment ago: not listed yet, and the cursor stays before it.
    later = client.get(f"/api/v1/tasks?cursor={page['next_cursor']}", headers=auth(token)).json
    assert later["tasks"] == [] and later["next_cursor"] == page["next_cursor"]
    app.config["API_SETTLE_SECONDS"] = 0
    settled = client.get(later["next"].removeprefix("http://localhost"), headers=auth(token)).json
    assert [(t["id"], t["status"]) for t in settled["tasks"]] == [(ids[0], "accepted")]


def test_the_openapi_document_describes_syncing(app, routed, client):  # noqa: F811
    from jsonschema import Draft202012Validator

    document = client.get("/api/v1/openapi.json").json
    listing = document["paths"]["/tasks"]["get"]
    assert [p["name"] for p in listing["parameters"]] == ["status", "limit", "cursor",
                                                          "updated_after"]
    assert {"422", "200"} <= set(listing["responses"])
    page = client.get("/api/v1/tasks?limit=2", headers=auth(token_for(app, "sn-amr"))).json
    validator = Draft202012Validator({"$ref": "#/components/schemas/TaskPage",
                                      "components": document["components"]})
    assert list(validator.iter_errors(page)) == []
    assert {"next_cursor", "next", "has_more"} <= set(
        document["components"]["schemas"]["TaskPage"]["required"])


def test_every_change_of_a_task_moves_its_updated_at(app, client, routed):  # noqa: F811
    """Decisions, unlocking, stopping, values handed over, corrections: each bumps the time."""
    from onething.cases.decisions import decide, resubmit
    from onething.storage.models import Submission

    from conftest import yielded

    engine = app.extensions["onething.engine"]

    def stamps() -> dict[str, dt.datetime]:
        with Session(engine) as session:
            return {t.matter_code: t.updated_at for t in session.exec(select(Task)).all()}

    with Session(engine) as session:
        tasks = {t.matter_code: t for t in session.exec(select(Task)).all()}
        before = stamps()
        assert all(t.updated_at == t.created_at for t in tasks.values())
        registration = tasks["business-registration"]
        decide(session, registration, "supplement", "tester", fields=["business_scope"],
               reason="x")
        asked = stamps()
        assert asked["business-registration"] > before["business-registration"]
        resubmit(session, registration, session.get(Submission, registration.submission_id),
                 {"business_scope": "餐饮服务"}, {}, "applicant")
        corrected = stamps()
        assert corrected["business-registration"] > asked["business-registration"]
        decide(session, registration, "accept", "tester")
        decide(session, registration, "approve", "tester", certificate_number="C-1",
               produced=yielded(registration))
        approved = stamps()
        # Approving handed the new code over and unlocked what waited for it; what waited
        # for nothing did not change.
        waited = {m for m, t in tasks.items() if "business-registration" in t.waits_for}
        assert {"food-business-licence", "tobacco-retail-licence"} <= waited
        for matter in {"business-registration"} | waited:
            assert approved[matter] > corrected[matter], matter
        assert approved["outdoor-signboard"] == before["outdoor-signboard"]
        decide(session, tasks["outdoor-signboard"], "reject", "tester", reason="不符合")
        assert stamps()["outdoor-signboard"] > before["outdoor-signboard"]


def test_tasks_routed_before_the_sync_order_get_their_times_and_bundle(app, routed, client):  # noqa: F811
    from alembic import command
    from sqlalchemy import text

    from onething.storage.db import alembic_config, migrate

    staff_tasks = tasks_of(app, "sn-amr")
    amr = staff_tasks
    registration = next(t for t in amr if t.matter_code == "business-registration")
    token = token_for(app, "sn-amr")
    client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                json={"idempotency_key": "backfill-1", "action": "accept"})
    engine = app.extensions["onething.engine"]
    engine.dispose()
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    migrate(engine)
    with Session(engine) as session:
        accepted_at = session.exec(select(AuditEntry.at).where(
            AuditEntry.subject == f"task:{registration.id}")).one()
        rows = {t.id: t for t in session.exec(select(Task)).all()}
        assert session.execute(text("SELECT COUNT(*) FROM task WHERE bundle_code IS NULL "
                                    "OR bundle_code <> 'open-restaurant'")).scalar() == 0
    assert rows[registration.id].updated_at == accepted_at
    for task in staff_tasks:
        if task.id != registration.id:
            assert rows[task.id].updated_at == task.created_at


def test_a_department_asks_for_a_correction_through_the_api(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    material = uploaded_material(registration)["id"]
    asked = client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                        json={"idempotency_key": "correct-0001", "action": "supplement",
                              "fields": ["entity_name"], "materials": [material],
                              "reason": "名称与核准的不一致"})
    assert asked.status_code == 200 and asked.json["status"] == "supplement"
    shown = client.get(f"/api/v1/tasks/{registration.id}", headers=auth(token)).json
    # What a correction may name: whole fields the slice holds, never a part of one.
    assert {"entity_name", "shareholders", "premises_address"} <= set(shown["correctable"])
    assert not any("." in path and not path.startswith("matters.")
                   for path in shown["correctable"])
    assert shown["supplement"] == {"fields": ["entity_name"], "materials": [material],
                                   "note": "名称与核准的不一致"}
    # The applicant is asked on the status page, as when the inbox asks.
    with Session(app.extensions["onething.engine"]) as session:
        task = session.get(Task, registration.id)
        assert task.paused_since is not None  # the clock stopped for the applicant's turn


def test_a_certificate_file_is_attached_through_the_api(app, routed, client):  # noqa: F811
    from test_web import PDF

    token = token_for(app, "sn-fire")
    fire = tasks_of(app, "sn-fire")[0]
    url = f"/api/v1/tasks/{fire.id}/certificate"
    headers = {**auth(token), "Content-Type": "application/pdf",
               "Content-Disposition": 'attachment; filename="消防检查合格证.pdf"'}
    early = client.put(url, headers=headers, data=PDF)
    assert early.status_code == 409 and early.json["error"] == "certificate_not_approved"
    for action, extra in (("accept", {}), ("approve", {"certificate_number": "XF-2026-1"})):
        client.post(f"/api/v1/tasks/{fire.id}/decisions", headers=auth(token),
                    json={"idempotency_key": f"fire-{action}-01", "action": action, **extra})
    wrong = client.put(url, headers=headers, data=b"MZ\x90\x00 not a certificate")
    assert wrong.status_code == 415 and wrong.json["error"] == "certificate_wrong_type"
    empty = client.put(url, headers=headers, data=b"")
    assert empty.status_code == 422 and empty.json["error"] == "certificate_empty"
    big = client.put(url, headers=headers, data=PDF + b"0" * (65 * 1024))
    assert big.status_code == 413
    assert tasks_of(app, "sn-fire")[0].certificate_file is None  # refused: nothing attached
    attached = client.put(url, headers=headers, data=PDF)
    assert attached.status_code == 200
    assert attached.json["certificate_file"] == {"filename": "消防检查合格证.pdf",
                                                 "content_type": "application/pdf"}
    assert client.put(url, headers=headers, data=PDF).json == attached.json  # again: the same
    other = client.put(url.replace(str(fire.id), str(tasks_of(app, "sn-amr")[0].id)),
                       headers=headers, data=PDF)
    assert other.status_code == 404
    with Session(app.extensions["onething.engine"]) as session:
        logged = session.exec(select(AuditEntry).where(
            AuditEntry.action == "attach_certificate")).all()
    assert len(logged) == 1 and logged[0].actor == "api:sn-fire"


def test_a_retry_racing_its_request_gets_the_decision_not_a_refusal(
        app, routed, client, monkeypatch):  # noqa: F811
    from onething.departments import api

    token = token_for(app, "sn-amr")
    task = next(t for t in tasks_of(app, "sn-amr") if t.status == "pending")
    body = {"idempotency_key": "race-0001", "action": "accept"}
    first = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token), json=body)
    assert first.status_code == 200
    # The retry read the key before the first request committed: it finds no answer, then
    # finds the task decided. That decision is its own, stored with its answer.
    found = api._answered
    calls = []

    def late(body):
        calls.append(body)
        return None if len(calls) == 1 else found(body)

    monkeypatch.setattr(api, "_answered", late)
    retry = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token), json=body)
    assert len(calls) > 1
    assert retry.status_code == 200 and retry.json == first.json
    # Another request finding the task decided is still refused, as before.
    other = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token),
                        json={"idempotency_key": "race-0002", "action": "accept"})
    assert other.status_code == 409


def test_retries_sent_at_once_all_get_the_one_decision(app, routed):  # noqa: F811
    import threading

    token = token_for(app, "sn-amr")
    task = next(t for t in tasks_of(app, "sn-amr") if t.status == "pending")
    body = {"idempotency_key": "burst-0001", "action": "reject", "reason": "材料不全"}
    answers, start = [], threading.Barrier(6)

    def send():
        client = app.test_client()
        start.wait()
        answers.append(client.post(f"/api/v1/tasks/{task.id}/decisions",
                                   headers=auth(token), json=body))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [200] * 6
    assert len({repr(a.json) for a in answers}) == 1
    with Session(app.extensions["onething.engine"]) as session:
        assert len(session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{task.id}", AuditEntry.action == "reject")).all()) == 1


def test_another_departments_refusal_reaches_a_syncing_system(app, routed, client):  # noqa: F811
    amr, fire = token_for(app, "sn-amr"), token_for(app, "sn-fire")
    listed = client.get("/api/v1/tasks", headers=auth(amr)).json
    assert all(client.get(f"/api/v1/tasks/{t['id']}", headers=auth(amr)).json["case_refused"]
               == [] for t in listed["tasks"])
    refused = next(t for t in tasks_of(app, "sn-fire") if t.status == "pending")
    answer = client.post(f"/api/v1/tasks/{refused.id}/decisions", headers=auth(fire),
                         json={"idempotency_key": "refuse-0001", "action": "reject",
                               "reason": "消防通道不符合要求"})
    assert answer.status_code == 200
    # The market regulator's open tasks of the case changed: its next sync lists them, and
    # each says which matter was refused, so that the department may close it.
    caught_up = client.get(f"/api/v1/tasks?cursor={listed['next_cursor']}",
                           headers=auth(amr)).json["tasks"]
    still_open = {t.id for t in tasks_of(app, "sn-amr")
                  if t.status not in ("approved", "rejected", "closed", "stopped")}
    assert still_open and {t["id"] for t in caught_up} >= still_open
    for task_id in still_open:
        shown = client.get(f"/api/v1/tasks/{task_id}", headers=auth(amr)).json
        assert shown["case_refused"] == [refused.matter_code]


def test_a_special_procedure_shows_in_the_task_and_holds_decisions_as_a_conflict(
        app, routed, client):  # noqa: F811
    from onething.cases import clock

    token = token_for(app, "sn-amr")
    task = next(t for t in tasks_of(app, "sn-amr") if t.status == "pending")
    assert client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token),
                       json={"idempotency_key": "sp-accept-1", "action": "accept"}
                       ).status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        clock.begin_special_procedure(session, session.get(Task, task.id), "hearing",
                                      "申请人申请听证", "amr")
    shown = client.get(f"/api/v1/tasks/{task.id}", headers=auth(token)).json
    assert shown["special_procedure"]["kind"] == "hearing" and shown["paused_since"]
    # A state the system can see, and a conflict (409) as other states are.
    refused = client.post(f"/api/v1/tasks/{task.id}/decisions", headers=auth(token),
                          json={"idempotency_key": "sp-reject-1", "action": "reject",
                                "reason": "x"})
    assert refused.status_code == 409
    assert refused.json["error"] == "special_procedure_decision"
    assert refused.json["task"]["status"] == "accepted"


def test_a_value_handed_over_is_refused_by_name_and_never_dropped(app, routed, client):  # noqa: F811
    from conftest import NEW_ENTITY_USCC

    token = token_for(app, "sn-amr")
    registration = next(t for t in tasks_of(app, "sn-amr")
                        if t.matter_code == "business-registration")
    assert client.post(f"/api/v1/tasks/{registration.id}/decisions", headers=auth(token),
                       json={"idempotency_key": "hand-accept-1", "action": "accept"}
                       ).status_code == 200

    def approve(key: str, produced: dict):
        return client.post(f"/api/v1/tasks/{registration.id}/decisions?lang=en",
                           headers=auth(token),
                           json={"idempotency_key": key, "action": "approve",
                                 "certificate_number": "C-1", "produced": produced})

    # A check digit that does not add up: the value named, and what is wrong with it.
    typo = approve("hand-approve-1", {"entity_uscc": NEW_ENTITY_USCC[:-1] + (
        "0" if NEW_ENTITY_USCC[-1] != "0" else "1")})
    assert typo.status_code == 422 and typo.json["field"] == "produced.entity_uscc"
    assert "below" not in typo.json["message"]
    missing = approve("hand-approve-2", {})
    assert missing.status_code == 422 and missing.json["field"] == "produced.entity_uscc"
    # A key the matter does not hand over would be dropped: it is refused, by name.
    extra = approve("hand-approve-3", {"entity_uscc": NEW_ENTITY_USCC, "bogus_key": "x"})
    assert extra.status_code == 422 and extra.json["field"] == "produced.bogus_key"
    assert "entity_uscc" in extra.json["message"]
    assert next(t for t in tasks_of(app, "sn-amr") if t.id == registration.id
                ).status == "accepted"
    assert approve("hand-approve-4", {"entity_uscc": NEW_ENTITY_USCC}).status_code == 200


def test_the_http_layers_refusals_speak_to_a_system(app, routed, client):  # noqa: F811
    token = token_for(app, "sn-amr")
    wrong = client.delete("/api/v1/tasks", headers=auth(token))
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    assert "Allow" in wrong.json["message"] or "Allow" in wrong.json["message"].upper()
    missing = client.get("/api/v1/tasks/0", headers=auth(token))
    assert missing.status_code == 404 and "12345" not in missing.json["message"]
    nul = client.get("/api/v1/tasks?limit=1%00", headers=auth(token))
    assert nul.status_code == 400 and "刷新" not in nul.json["message"]
