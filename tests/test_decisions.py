"""Decisions on tasks: unlocking, stopping, certificates released together, the audit log."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from onething.cases.decisions import DecisionRefused, decide
from onething.storage.models import AuditEntry, Submission, Task
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)
from test_web import fill, start, submit, upload_everything  # noqa: F401

from conftest import NEW_ENTITY_USCC, yielded


def tasks_by_matter(app) -> dict[str, Task]:
    with Session(app.extensions["onething.engine"]) as session:
        return {t.matter_code: t for t in session.exec(select(Task)).all()}


def post_decision(browser, task_id: int, **data):
    page = browser.get(f"/inbox/tasks/{task_id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return browser.post(f"/inbox/tasks/{task_id}/decide", data={"csrf_token": token, **data},
                        headers={"HX-Request": "true"})


def test_approving_the_business_licence_unlocks_the_food_licence(app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    tasks = tasks_by_matter(app)
    registration, food = tasks["business-registration"], tasks["food-business-licence"]
    assert food.status == "waiting"
    assert post_decision(amr, registration.id, action="accept").status_code == 200
    approved = post_decision(amr, registration.id, action="approve",
                             certificate_number="91370202MA3C000001",
                             **{"produced.entity_uscc": NEW_ENTITY_USCC})
    assert approved.status_code == 200 and "91370202MA3C000001" in approved.text
    tasks = tasks_by_matter(app)
    assert tasks["food-business-licence"].status == "pending"
    assert tasks["tobacco-retail-licence"].status == "pending"  # waited for registration too
    with Session(app.extensions["onething.engine"]) as session:
        actions = [(e.actor, e.action, e.before["status"], e.after["status"]) for e in
                   session.exec(select(AuditEntry).where(
                       AuditEntry.subject == f"task:{food.id}")).all()]
    # The new company's code reached the food licence before it opened; its clock started
    # when it opened, which moved the plan's estimate of its due date.
    assert actions == [("system", "hand_over", "waiting", "waiting"),
                       ("system", "unlock", "waiting", "pending"),
                       ("system", "due_date", "pending", "pending")]
    assert tasks["food-business-licence"].slice_data["entity_uscc"] == NEW_ENTITY_USCC


def test_a_decision_out_of_turn_is_409_and_changes_nothing(app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    food = tasks_by_matter(app)["food-business-licence"]
    refused = post_decision(amr, food.id, action="approve", certificate_number="X")
    assert refused.status_code == 409
    assert 'id="decision-refused"' in refused.text
    assert tasks_by_matter(app)["food-business-licence"].status == "waiting"
    registration = tasks_by_matter(app)["business-registration"]
    missing = post_decision(amr, registration.id, action="reject", reason="")
    assert missing.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "pending"
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_a_refusal_upstream_stops_what_waits_and_says_why(app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    # Before: the tobacco licence waits, and names what for and which department has it.
    tobacco = staff(app, "sn-tobacco").get(
        f"/inbox/tasks/{tasks_by_matter(app)['tobacco-retail-licence'].id}").text
    waits = tobacco.split('id="waits-for">')[1].split("</p>")[0]
    assert "市场主体设立登记" in waits and "市场监管" in waits
    post_decision(amr, registration.id, action="reject", reason="名称与已登记企业重复")
    tasks = tasks_by_matter(app)
    assert tasks["business-registration"].status == "rejected"
    assert tasks["food-business-licence"].status == "stopped"
    assert tasks["tobacco-retail-licence"].status == "stopped"
    assert tasks["outdoor-signboard"].status == "pending"  # waits for nothing
    food = staff(app, "sn-amr").get(f"/inbox/tasks/{tasks['food-business-licence'].id}").text
    assert "市场主体设立登记" in food  # names the refused matter
    assert 'name="action"' not in food  # nothing left to decide
    assert 'id="due-date"' not in food  # and no deadline left to show
    row = staff(app, "sn-amr").get("/inbox/?status=stopped").text.split(
        f'data-task="{tasks["food-business-licence"].id}"')[1].split("</tr>")[0]
    assert 'class="due">—' in row
    with Session(app.extensions["onething.engine"]) as session:
        # The signboard is still open: the case is ending, not ended (tests/test_corrections.py).
        assert session.exec(select(Submission)).one().status == "ending"


def test_certificates_are_released_together_when_all_are_approved(app, client, routed):  # noqa: F811
    tasks = tasks_by_matter(app)
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        order = ["business-registration", "food-business-licence", "fire-safety-check",
                 "outdoor-signboard", "tobacco-retail-licence"]
        for number, matter in enumerate(order):
            task = session.get(Task, tasks[matter].id)
            decide(session, task, "accept", "tester")
            decide(session, task, "approve", "tester", certificate_number=f"CERT-{number}",
                   produced=yielded(task))
            if number == 0:
                status_page = client.get(f"/s/{submission.tracking_number}").text
                assert "CERT-0" not in status_page  # not yet: released together
        session.refresh(submission)
        assert submission.status == "approved"
    page = client.get(f"/s/{submission.tracking_number}").text
    assert all(f"CERT-{n}" in page for n in range(5))


def test_two_people_deciding_at_once_cannot_both_win(app, routed):  # noqa: F811
    engine = app.extensions["onething.engine"]
    task_id = tasks_by_matter(app)["business-registration"].id
    with Session(engine) as first, Session(engine) as second:
        mine, theirs = first.get(Task, task_id), second.get(Task, task_id)
        decide(first, mine, "accept", "a")
        with pytest.raises(DecisionRefused):
            decide(second, theirs, "accept", "b")


def test_a_correction_round_trip(app, client, routed):  # noqa: F811
    import io

    from test_web import PDF

    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    material = registration.slice_materials[0]["id"]
    unknown = post_decision(amr, registration.id, action="supplement",
                            fields=["signboard_text"], reason="x")
    assert unknown.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "pending"
    asked = post_decision(amr, registration.id, action="supplement",
                          fields=["business_scope"], materials=[material],
                          reason="经营范围请按规范表述填写")
    assert asked.status_code == 200 and 'id="supplement-open"' in asked.text
    # What was asked for stays on the task's page, for a colleague taking the call.
    again = amr.get(f"/inbox/tasks/{registration.id}").text
    asked_for = again.split('id="supplement-asked"')[1].split("</div>")[0]
    assert "经营范围" in asked_for and "经营范围请按规范表述填写" in asked_for
    assert asked_for.count("<li>") == 2 and material not in asked_for  # named, not coded
    with Session(app.extensions["onething.engine"]) as session:
        tracking = session.exec(select(Submission)).one().tracking_number
    status = client.get(f"/s/{tracking}").text
    link = re.search(r'href="(/s/[^"]+/corrections/\d+)"', status).group(1)
    page = client.get(link).text
    assert 'name="business_scope"' in page and 'name="entity_name"' not in page
    assert "经营范围请按规范表述填写" in page
    empty = client.post(link, data={"business_scope": ""}, content_type="multipart/form-data")
    assert empty.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "supplement"
    sent = client.post(link, data={"business_scope": "餐饮服务（不含网络销售）",
                                   f"material.{material}": (io.BytesIO(PDF + b"%v2"), "v2.pdf")},
                       content_type="multipart/form-data")
    assert sent.status_code == 302
    task = tasks_by_matter(app)["business-registration"]
    assert task.status == "pending" and task.supplement is None
    assert task.slice_data["business_scope"] == "餐饮服务（不含网络销售）"
    assert next(m for m in task.slice_materials if m["id"] == material)["filename"] == "v2.pdf"
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        assert submission.data["business_scope"] == "餐饮服务（不含网络销售）"
        assert submission.data["entity_name"] == "青岛海风餐饮有限公司"  # nothing else moved
        actions = [e.action for e in session.exec(select(AuditEntry).where(
            AuditEntry.subject == f"task:{task.id}")).all()]
    assert actions == ["supplement", "resubmit"]
    assert client.get(link).status_code == 404  # answered: the link is closed


def test_the_audit_log_cannot_be_changed_or_deleted(app, routed):  # noqa: F811
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DatabaseError

    with Session(app.extensions["onething.engine"]) as session:
        task = session.get(Task, tasks_by_matter(app)["business-registration"].id)
        decide(session, task, "accept", "tester")
        logged = [(e.id, e.actor, e.action) for e in session.exec(select(AuditEntry)).all()]
        assert ("tester", "accept") in [(actor, action) for _, actor, action in logged]
        for statement in (update(AuditEntry).values(actor="someone else"), delete(AuditEntry)):
            with pytest.raises(DatabaseError, match="append-only"):
                session.execute(statement)
                session.commit()
            session.rollback()
        assert [(e.id, e.actor, e.action)
                for e in session.exec(select(AuditEntry)).all()] == logged


def test_an_issued_certificate_file_reaches_the_applicant_once_released(app, client, routed):  # noqa: F811
    import io

    from test_web import PDF

    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    post_decision(amr, registration.id, action="accept")
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    wrong = amr.post(f"/inbox/tasks/{registration.id}/decide", data={
        "csrf_token": token, "action": "approve", "certificate_number": "91370202MA3C00001X",
        "certificate_file": (io.BytesIO(b"not a pdf"), "licence.txt")},
        content_type="multipart/form-data")
    assert wrong.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    issued = amr.post(f"/inbox/tasks/{registration.id}/decide", data={
        "csrf_token": token, "action": "approve", "certificate_number": "91370202MA3C00001X",
        "produced.entity_uscc": NEW_ENTITY_USCC,
        "certificate_file": (io.BytesIO(PDF), "营业执照.pdf")}, content_type="multipart/form-data")
    assert issued.status_code == 302
    with Session(app.extensions["onething.engine"]) as session:
        tracking = session.exec(select(Submission)).one().tracking_number
    url = f"/s/{tracking}/certificates/{registration.id}"
    assert client.get(url).status_code == 404  # released together: not yet
    with Session(app.extensions["onething.engine"]) as session:
        for task in session.exec(select(Task).where(Task.status != "approved")).all():
            decide(session, task, "accept", "tester")
            decide(session, task, "approve", "tester", certificate_number=f"C-{task.id}",
                   produced=yielded(task))
    with client.get(url) as response:
        assert response.status_code == 200 and response.data == PDF
    assert url in client.get(f"/s/{tracking}").text


@pytest.mark.parametrize(("action", "data"), [
    ("reject", {"reason": "理" * 2001}),
    ("approve", {"certificate_number": "9" * 101}),
])
def test_a_text_longer_than_its_column_is_refused_alike_on_both_databases(app, routed, action,  # noqa: F811
                                                                         data):
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    post_decision(amr, registration.id, action="accept")
    refused = post_decision(amr, registration.id, action=action,
                            **{"produced.entity_uscc": NEW_ENTITY_USCC}, **data)
    assert refused.status_code == 422 and 'id="decision-refused"' in refused.text
    assert tasks_by_matter(app)["business-registration"].status == "accepted"


def test_a_credit_code_is_read_as_staff_type_it(app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    post_decision(amr, registration.id, action="accept")
    typed = "９１３７０２０２ma3c 0001 1l"  # full-width, lower case, in groups
    approved = post_decision(amr, registration.id, action="approve",
                             certificate_number="９１３７０２０２ＭＡ３Ｃ０００００１",
                             **{"produced.entity_uscc": typed})
    assert approved.status_code == 200
    # The certificate number typed with an IME left on full-width is the printed one.
    assert tasks_by_matter(app)["business-registration"].certificate_number == \
        "91370202MA3C000001"
    assert tasks_by_matter(app)["food-business-licence"].slice_data["entity_uscc"] == \
        NEW_ENTITY_USCC

