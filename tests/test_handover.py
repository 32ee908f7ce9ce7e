"""Values handed over between matters (办结产出): the business registration's approval
gives the new company its credit code, which the applicant is never asked for and the
licences waiting for the registration receive."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from onething.composer.compose import compose
from onething.composer.validation import field_errors
from onething.storage.models import AuditEntry, Submission
from test_decisions import post_decision, tasks_by_matter
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)
from test_web import FORM, start

from conftest import NEW_ENTITY_USCC

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
        from onething.storage.models import Draft

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
    from test_api import auth, token_for

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
