"""Values handed over between matters (办结产出): the business registration's approval
gives the new company its credit code, which the applicant is never asked for and the
licences waiting for the registration receive."""

from __future__ import annotations

import re
import urllib.request

import pytest
from referencing.exceptions import Unresolvable
from sqlmodel import Session, select

from onething.cases.decisions import DecisionRefused, decide
from onething.composer.compose import compose
from onething.composer.routing import nearest_waits
from onething.composer.scenario import holds
from onething.composer.validation import field_errors
from onething.publishing.check import load_catalog
from onething.storage.models import AuditEntry, Draft, Submission, Task
from test_api import auth, token_for
from test_decisions import post_decision, tasks_by_matter
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)
from test_web import FORM, start, upload_everything

from conftest import NEW_ENTITY_USCC, apply_edits

CODE = NEW_ENTITY_USCC
NEW = {"has_business_licence": False, "public_gathering_place": False,
       "outdoor_signboard": False, "sells_tobacco": True}


def _entry(composition, path):
    return next(f for s in composition.layout["sections"] for f in s["fields"]
                if f["path"] == path)


def test_the_applicant_is_not_asked_for_what_the_registration_yields(demo_catalog):
    bundle = demo_catalog.bundles["open-restaurant"]
    new = compose(bundle, NEW)
    entry = _entry(new, "entity_uscc")
    assert entry["required"] == "produced" and entry["produced_by"] == ["business-registration"]
    assert "entity_uscc" not in field_errors(new, {"answers": NEW})
    assert new.plan.step("food-business-licence").receives == ["entity_uscc"]
    assert new.plan.step("business-registration").produces == ["entity_uscc"]
    # A business that has its licence is asked for its code: nothing yields it.
    existing = compose(bundle, {**NEW, "has_business_licence": True})
    assert _entry(existing, "entity_uscc")["required"] == "always"
    assert "entity_uscc" in field_errors(existing, {"answers": existing.answers})
    # The schema for every answer says the same through its scenario logic.
    general = compose(bundle)
    assert "entity_uscc" not in field_errors(general, {"answers": NEW})
    assert "entity_uscc" in field_errors(general, {"answers": {**NEW,
                                                               "has_business_licence": True}})


def test_the_form_shows_no_input_and_ignores_a_typed_value(app, client):
    draft = start(client)
    page = client.get(f"{draft}/form").text
    assert 'name="entity_uscc"' not in page
    assert "市场主体设立登记" in re.search(r'class="hint produced">([^<]*)', page).group(1)
    client.post(f"{draft}/form", data={**FORM, "entity_uscc": CODE})
    with Session(app.extensions["onething.engine"]) as session:
        assert "entity_uscc" not in session.exec(select(Draft)).one().data


def test_approving_the_registration_hands_the_code_to_the_waiting_licences(app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    tasks = tasks_by_matter(app)
    registration, food = tasks["business-registration"], tasks["food-business-licence"]
    assert "entity_uscc" not in food.slice_data
    post_decision(amr, registration.id, action="accept")
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    assert 'name="produced.entity_uscc"' in page
    missing = post_decision(amr, registration.id, action="approve", certificate_number="A-1")
    assert missing.status_code == 422 and "decision-refused" in missing.text
    wrong = post_decision(amr, registration.id, action="approve", certificate_number="A-1",
                          **{"produced.entity_uscc": "91370202MA3C00001X"})
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text
    assert 'value="91370202MA3C00001X"' in wrong.text  # kept as typed, to correct
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    approved = post_decision(amr, registration.id, action="approve", certificate_number="A-1",
                             **{"produced.entity_uscc": f" {CODE} "})
    assert approved.status_code == 200 and CODE in approved.text
    tasks = tasks_by_matter(app)
    assert tasks["business-registration"].handover["values"] == {"entity_uscc": CODE}
    assert tasks["food-business-licence"].slice_data["entity_uscc"] == CODE
    assert tasks["food-business-licence"].status == "pending"
    # Only the tasks whose matters declared the field receive it.
    assert "entity_uscc" not in tasks["outdoor-signboard"].slice_data
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).one().data["entity_uscc"] == CODE
        logged = session.exec(select(AuditEntry).where(
            AuditEntry.action == "hand_over")).all()
    assert {e.subject for e in logged} >= {f"task:{tasks['food-business-licence'].id}"}


def test_a_departments_system_hands_the_value_over_through_the_api(app, routed, client):  # noqa: F811

    token = token_for(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    url = f"/api/v1/tasks/{registration.id}/decisions?lang=en"
    listed = client.get(f"/api/v1/tasks/{registration.id}", headers=auth(token)).get_json()
    assert listed["produces"] == ["entity_uscc"]
    client.post(url, headers=auth(token), json={"idempotency_key": "accept-0001",
                                                "action": "accept"})
    refused = client.post(url, headers=auth(token), json={
        "idempotency_key": "approve-0001", "action": "approve", "certificate_number": "A-1",
        "produced": {"entity_uscc": "not a code"}})
    assert refused.status_code == 422 and refused.get_json()["error"] == "produced"
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    approved = client.post(url, headers=auth(token), json={
        "idempotency_key": "approve-0002", "action": "approve", "certificate_number": "A-1",
        "produced": {"entity_uscc": CODE}})
    assert approved.status_code == 200, approved.get_json()
    assert tasks_by_matter(app)["food-business-licence"].slice_data["entity_uscc"] == CODE


def test_a_rule_between_fields_does_not_ask_for_a_handed_over_value(demo_root):

    apply_edits(demo_root, [{"file": "catalog/matters/food-business-licence.json",
                             "pointer": "/form/dependentRequired",
                             "value": {"entity_name": ["entity_uscc"]}}])
    catalog = load_catalog(demo_root)
    new = compose(catalog.bundles["open-restaurant"], NEW)
    assert "entity_uscc" not in field_errors(new, {"answers": NEW, "entity_name": "海风餐饮"})
    existing = compose(catalog.bundles["open-restaurant"], {**NEW, "has_business_licence": True})
    assert "entity_uscc" in field_errors(existing, {"answers": existing.answers,
                                                    "entity_name": "海风餐饮"})


def test_a_joint_matter_yields_its_values_through_its_own_department_only(demo_root):

    apply_edits(demo_root, [{"file": "catalog/matters/construction-waste-disposal.json",
                             "pointer": "/produces", "value": ["uscc"]}])
    catalog = load_catalog(demo_root)
    bundle = next(b for b in catalog.bundles.values()
                  if "construction-waste-disposal" in b.matter_codes())
    steps = [s for s in compose(bundle).plan.steps if s.matter == "construction-waste-disposal"]
    assert len(steps) == 2
    assert [s.produces for s in steps] == [["uscc"], []]


def test_a_task_decided_already_keeps_its_slice(app, client):

    answers = {"has_business_licence": "false", "public_gathering_place": "true",
               "fire_route": "commitment", "outdoor_signboard": "false",
               "sells_tobacco": "false"}
    response = client.post("/b/open-restaurant", data=answers)
    draft = response.headers["Location"].removesuffix("/form")
    form = {k: v for k, v in FORM.items() if not k.startswith(("matters.outdoor-signboard",
                                                                "matters.tobacco"))}
    assert client.post(f"{draft}/form", data=form).status_code == 302
    upload_everything(client, draft)
    review = client.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    assert client.post(f"{draft}/submit", data={"idempotency_key": key}).status_code == 302
    with Session(app.extensions["onething.engine"]) as session:
        tasks = {t.matter_code: t for t in session.exec(select(Task)).all()}
        fire, registration = tasks["fire-safety-check"], tasks["business-registration"]
        assert fire.handover == {"produces": [], "receives": ["entity_uscc"]}
        decide(session, fire, "accept", "tester")
        decide(session, fire, "approve", "tester", certificate_number="F-1")
        decide(session, registration, "accept", "tester")
        decide(session, registration, "approve", "tester", certificate_number="R-1",
               produced={"entity_uscc": CODE})
        session.refresh(fire)
        assert "entity_uscc" not in fire.slice_data
        entries = session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{registration.id}",
            AuditEntry.action == "approve")).all()
    assert entries[0].after["handover"] == {"entity_uscc": CODE}


def test_a_matter_waits_through_one_the_answers_leave_out(mini_root):

    # beta waits for gamma (only with a sign), which waits for alpha, which yields the code
    # beta needs: without a sign, beta waits for alpha itself.
    apply_edits(mini_root, [
        {"file": "catalog/matters/alpha.json", "pointer": "/produces", "value": ["entity_uscc"]},
        {"file": "catalog/matters/beta.json", "pointer": "/form/properties/entity_uscc",
         "value": {"$ref": "https://onething.example/fields/entity_uscc"}},
        {"file": "catalog/matters/beta.json", "pointer": "/form/required",
         "value": ["entity_name", "note", "entity_uscc"]},
        {"file": "catalog/bundles/mini-bundle.json", "pointer": "/after",
         "value": {"beta": ["gamma"], "gamma": ["alpha"]}}])
    catalog = load_catalog(mini_root)
    bundle = catalog.bundles["mini-bundle"]
    no_sign = compose(bundle, {"wants_sign": False})
    assert no_sign.plan.step("beta").waits_for == ["alpha"]
    assert no_sign.plan.step("beta").receives == ["entity_uscc"]
    assert compose(bundle, {"wants_sign": True}).plan.step("beta").waits_for == ["gamma"]
    edges = {"c": {"b": ("", "")}, "b": {"a": ("", "")}, "a": {"c": ("", "")}}
    assert nearest_waits("c", edges, {"a", "c"}) == ["a"]  # a cycle through c ends at c


def test_a_condition_never_fetches_a_document(monkeypatch):


    def fetch(*args, **kwargs):
        raise AssertionError("a condition fetched a URL")

    monkeypatch.setattr(urllib.request, "urlopen", fetch)
    with pytest.raises(Unresolvable):
        holds({"$ref": "http://127.0.0.1:9/condition.json"}, {})


def test_a_handed_over_value_is_not_the_applicants_to_correct(app, routed):  # noqa: F811
    tasks = tasks_by_matter(app)
    with Session(app.extensions["onething.engine"]) as session:
        registration = session.get(Task, tasks["business-registration"].id)
        decide(session, registration, "accept", "tester")
        decide(session, registration, "approve", "tester", certificate_number="R-1",
               produced={"entity_uscc": CODE})
        food = session.get(Task, tasks["food-business-licence"].id)
        with pytest.raises(DecisionRefused, match="supplement_items"):
            decide(session, food, "supplement", "tester", fields=["entity_uscc"])
        assert session.get(Task, food.id).status == "pending"
    page = staff(app, "sn-amr").get(f"/inbox/tasks/{food.id}").text
    assert 'name="fields" value="entity_uscc"' not in page
    assert 'name="fields" value="entity_name"' in page
