"""Decisions on tasks: unlocking, stopping, certificates released together, the audit log."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import Session, select

from onething.cases.decisions import DecisionRefused, decide
from onething.storage.models import AuditEntry, Submission, Task
from test_inbox import routed, staff  # noqa: F401  (fixture and helper)
from test_web import fill, start, submit, upload_everything  # noqa: F401

from conftest import NEW_ENTITY_USCC, uploaded_material, yielded


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
    # A second tab accepting what the first accepted already: refused, saying who did what.
    post_decision(amr, registration.id, action="accept")
    again = post_decision(amr, registration.id, action="accept")
    assert again.status_code == 409
    assert re.search(r"最近一次操作：staff-sn-amr于\d{4}-\d{2}-\d{2} \d{2}:\d{2}已受理",
                     again.text)


@pytest.mark.parametrize(("accepted", "said"), [(False, "不予受理"), (True, "不予许可")])
def test_a_refusal_before_acceptance_reads_not_accepted_everywhere(
        app, routed, client, accepted, said):  # noqa: F811
    from test_api import auth, token_for

    task = tasks_by_matter(app)["outdoor-signboard"]
    urban = staff(app, task.department_code)
    if accepted:
        post_decision(urban, task.id, action="accept")
    answer = post_decision(urban, task.id, action="reject", reason="不在本部门受理范围")
    assert answer.status_code == 200, answer.text[:1000]
    refused = tasks_by_matter(app)["outdoor-signboard"]
    assert refused.status == "rejected" and refused.not_accepted is not accepted
    page = urban.get(f"/inbox/tasks/{task.id}").text
    state = re.search(r'id="task-state"><strong>([^<]*)<', page).group(1)
    assert state == said
    # The log says the same at the refusal.
    assert f"· {said}：" in page
    row = urban.get("/inbox/?status=rejected").text.split(f'data-task="{task.id}"')[1]
    assert said in row.split("</tr>")[0]
    # The applicant's receipt, and a department's system (the status stays rejected).
    with Session(app.extensions["onething.engine"]) as session:
        number = session.get(Submission, task.submission_id).tracking_number
    assert said in client.get(f"/s/{number}").text
    token = token_for(app, task.department_code)
    listed = client.get(f"/api/v1/tasks/{task.id}", headers=auth(token)).json
    assert listed["status"] == "rejected" and listed["not_accepted"] is not accepted


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
    material = uploaded_material(registration)["id"]
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
    # The receipt says what is asked and that the clock stands still meanwhile.
    assert "经营范围请按规范表述填写" in status and "暂停计时" in status
    link = re.search(r'href="(/s/[^"]+/corrections/\d+)"', status).group(1)
    page = client.get(link).text
    assert 'name="business_scope"' in page and 'name="entity_name"' not in page
    assert "经营范围请按规范表述填写" in page
    empty = client.post(link, data={"business_scope": ""}, content_type="multipart/form-data")
    assert empty.status_code == 422
    # The file asked for, not chosen: said so, not "the file could not be accepted".
    assert "请先选择文件" in empty.text
    assert tasks_by_matter(app)["business-registration"].status == "supplement"
    sent = client.post(link, data={"business_scope": "餐饮服务（不含网络销售）",
                                   f"material.{material}": (io.BytesIO(PDF + b"%v2"), "v2.pdf")},
                       content_type="multipart/form-data")
    assert sent.status_code == 302
    assert "补正已提交至" in client.get(sent.headers["Location"]).text
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
    assert actions == ["supplement", "correct", "resubmit"]
    assert client.get(link).status_code == 404  # answered: the link is closed
    # The department that asked sees what came back: the value before and after, the
    # file handed in again by its name.
    page = amr.get(f"/inbox/tasks/{task.id}").text
    notice = page[page.index('id="corrections"'):page.index('id="slice-fields"')]
    assert "餐饮服务（不含网络销售）" in notice and "经营范围" in notice
    files = re.search(r'id="corrected-files">([^<]+)<', notice).group(1)
    assert files.strip() and material not in files  # named, not coded


def test_a_correction_offers_the_files_the_applicant_handed_in_and_only_those(
        app, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    states = {m["id"]: m["state"] for m in registration.slice_materials}
    handed = {mid for mid, state in states.items() if state == "uploaded"}
    drawn = {mid for mid, state in states.items() if state != "uploaded"}
    assert "legal-rep-id-card" in handed and drawn  # an ID card, and a generated form
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    offered = set(re.findall(r'name="materials" value="([^"]+)"', page))
    assert offered == handed
    refused = post_decision(amr, registration.id, action="supplement", reason="请重新提交",
                            materials=[sorted(drawn)[0]])
    assert refused.status_code == 422
    assert tasks_by_matter(app)["business-registration"].status == "pending"


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
    # The department that issued it can check what went out, from its task.
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    link = re.search(r'id="certificate-file" href="([^"]+)"', page).group(1)
    with amr.get(link) as response:
        assert response.status_code == 200 and response.data == PDF
    assert staff(app, "sn-fire").get(link).status_code == 404
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


@pytest.mark.parametrize("javascript", [True, False])
def test_a_refused_decision_keeps_what_was_typed_and_says_what_is_wrong(app, routed,  # noqa: F811
                                                                       javascript):
    import html

    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    headers = {"HX-Request": "true"} if javascript else {}

    def post(**data):
        refused = amr.post(f"/inbox/tasks/{registration.id}/decide",
                           data={"csrf_token": token, **data}, headers=headers)
        assert refused.status_code == 422
        return html.unescape(refused.text)

    # A refusal's reason too long: said as such, and the 2,001 characters are all back.
    long = "理由" * 1000 + "。"
    refused = post(action="reject", reason=long)
    assert "理由或说明最多2000个字" in refused and "证照编号" not in refused
    assert f">{long}</textarea>" in refused
    # A correction without its note: the boxes ticked stay ticked.
    refused = post(action="supplement", fields=["business_scope"])
    assert "一次性告知" in refused
    assert re.search(r'name="fields" value="business_scope" checked', refused)
    # A note without a box: the note stays.
    refused = post(action="supplement", reason="经营范围请规范表述")
    assert ">经营范围请规范表述</textarea>" in refused
    # Only the refused form gets the text back, not every form with a reason.
    assert refused.count(">经营范围请规范表述</textarea>") == 1
    assert tasks_by_matter(app)["business-registration"].status == "pending"
    # Approving with a file that is no certificate: the number typed stays.
    post_decision(amr, registration.id, action="accept")
    refused = amr.post(f"/inbox/tasks/{registration.id}/decide", data={
        "csrf_token": token, "action": "approve", "certificate_number": "370202000123457",
        "produced.entity_uscc": NEW_ENTITY_USCC,
        "certificate_file": (io.BytesIO(b"MZ not a pdf"), "licence.exe")},
        headers=headers, content_type="multipart/form-data")
    assert refused.status_code == 422
    assert 'value="370202000123457"' in refused.text
    assert f'value="{NEW_ENTITY_USCC}"' in refused.text
    assert tasks_by_matter(app)["business-registration"].status == "accepted"


@pytest.mark.parametrize(("action", "code", "words"), [
    ("reject", "reason", "均须写明申请人可据以改正的理由"),
    ("close", "close_reason", "结束办理需要写明理由"),
    ("supplement", "supplement_note", "一次性告知"),
])
def test_each_decision_without_its_reason_says_which_reason_it_needs(app, routed, action,  # noqa: F811
                                                                    code, words):
    from onething.cases.decisions import decision_problem

    registration = tasks_by_matter(app)["business-registration"]
    with Session(app.extensions["onething.engine"]) as session, app.test_request_context():
        task = session.get(Task, registration.id)
        with pytest.raises(DecisionRefused) as refused:
            decide(session, task, action, "tester", reason="  ", fields=["business_scope"])
        assert refused.value.code == code and words in decision_problem(refused.value)


def test_a_credit_code_the_registry_holds_for_another_business_is_refused(app, client,
                                                                          routed):  # noqa: F811
    from test_web import FORM

    amr = staff(app, "sn-amr")
    first = tasks_by_matter(app)["business-registration"]
    post_decision(amr, first.id, action="accept")
    approved = post_decision(amr, first.id, action="approve", certificate_number="370202000000001",
                             **{"produced.entity_uscc": NEW_ENTITY_USCC})
    assert approved.status_code == 200, approved.text[:300]
    # Another business, registered next, is given the same code by a slip of the keyboard
    # (typed in lower case, in groups): refused, nothing changed, the code still typed.
    draft = start(client)
    client.post(f"{draft}/form", data={**FORM, "entity_name": "青岛栈桥餐饮有限公司"})
    upload_everything(client, draft)
    submit(client, draft)
    with Session(app.extensions["onething.engine"]) as session:
        second = session.exec(select(Task).where(
            Task.matter_code == "business-registration", Task.id != first.id)).one()
    post_decision(amr, second.id, action="accept")
    typed = NEW_ENTITY_USCC.lower()[:9] + " " + NEW_ENTITY_USCC.lower()[9:]
    refused = post_decision(amr, second.id, action="approve",
                            certificate_number="370202000000002",
                            **{"produced.entity_uscc": typed})
    assert refused.status_code == 422
    assert "已被电子证照库中的其他市场主体使用" in refused.text
    assert f'value="{typed}"' in refused.text
    with Session(app.extensions["onething.engine"]) as session:
        assert session.get(Task, second.id).status == "accepted"
    # Its own code is accepted.
    assert post_decision(amr, second.id, action="approve", certificate_number="370202000000002",
                         **{"produced.entity_uscc": "91370202MA3C0002XC"}).status_code == 200


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



def test_a_decision_from_a_page_left_open_is_refused_when_the_task_moved_on(app, routed):  # noqa: F811
    first, second = staff(app, "sn-amr"), staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    page = first.get(f"/inbox/tasks/{registration.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    # A colleague accepts it meanwhile; the first page still offers 不予受理.
    assert post_decision(second, registration.id, action="accept").status_code == 200
    refused = first.post(f"/inbox/tasks/{registration.id}/decide", headers={"HX-Request": "true"},
                         data={"csrf_token": token, "action": "reject", "seen": seen,
                               "reason": "不符合受理条件"})
    # Refused, not recorded as 不予许可: the clerk is told to read it again, and what was
    # typed is not put into the 不予许可 form, one tap from a real refusal.
    assert refused.status_code == 409 and "刷新页面" in refused.text
    assert "不符合受理条件" not in refused.text and "已受理" in refused.text
    assert tasks_by_matter(app)["business-registration"].status == "accepted"
    # The same decision on the page as it is now is taken, as 不予许可.
    assert post_decision(first, registration.id, action="reject",
                         reason="不符合许可条件").status_code == 200
    assert tasks_by_matter(app)["business-registration"].not_accepted is False


def test_a_page_drawn_before_any_change_of_the_task_decides_nothing(app, routed):  # noqa: F811
    from sqlalchemy import update

    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    # Back in the same state after a change (a correction come back, a value handed
    # over): the page still shows what the task was.
    with Session(app.extensions["onething.engine"]) as session:
        session.execute(update(Task).where(Task.id == registration.id).values(
            slice_data={**registration.slice_data, "entity_name": "青岛新名称有限公司"}))
        session.commit()
    stale = amr.post(f"/inbox/tasks/{registration.id}/decide", headers={"HX-Request": "true"},
                     data={"csrf_token": token, "action": "accept", "seen": seen})
    assert stale.status_code == 409
    assert tasks_by_matter(app)["business-registration"].status == "pending"
    fresh = amr.get(f"/inbox/tasks/{registration.id}").text
    again = re.search(r'name="seen" value="([^"]+)"', fresh).group(1)
    assert amr.post(f"/inbox/tasks/{registration.id}/decide", headers={"HX-Request": "true"},
                    data={"csrf_token": token, "action": "accept", "seen": again}
                    ).status_code == 200


def test_the_last_change_named_on_a_stale_page_is_not_accepted_when_it_was(app, routed):  # noqa: F811
    first, second = staff(app, "sn-amr"), staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    page = first.get(f"/inbox/tasks/{registration.id}").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert post_decision(second, registration.id, action="reject",
                         reason="不符合受理条件").status_code == 200
    seen = re.search(r'name="seen" value="([^"]+)"', page).group(1)
    stale = first.post(f"/inbox/tasks/{registration.id}/decide", headers={"HX-Request": "true"},
                       data={"csrf_token": token, "action": "accept", "seen": seen})
    assert stale.status_code == 409
    said = re.search(r"最近一次操作：[^<]*", stale.text).group(0)
    assert "不予受理" in said and "不予许可" not in said


@pytest.mark.parametrize("action", ["decide", "special-procedure", "revoke", "inspection"])
def test_an_actions_address_opened_leads_to_the_task(app, routed, action):  # noqa: F811
    # Without JavaScript a refused form leaves its address in the bar: reloading it, or a
    # copied link, opens the task, not a bare 405.
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    opened = amr.get(f"/inbox/tasks/{registration.id}/{action}")
    assert opened.status_code == 303
    assert opened.headers["Location"] == f"/inbox/tasks/{registration.id}"
    # Another department's task stays unknown.
    fire = tasks_by_matter(app)["fire-safety-check"]
    assert amr.get(f"/inbox/tasks/{fire.id}/{action}").status_code == 404


def test_a_task_with_nothing_to_correct_offers_no_correction_and_says_none(app, routed):  # noqa: F811
    from sqlalchemy import update

    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    assert 'value="supplement"' in amr.get(f"/inbox/tasks/{registration.id}").text
    with Session(app.extensions["onething.engine"]) as session:
        session.execute(update(Task).where(Task.id == registration.id).values(
            slice_data={}, slice_materials=[]))
        session.commit()
    page = amr.get(f"/inbox/tasks/{registration.id}").text
    assert 'value="supplement"' not in page and 'value="accept"' in page
    assert 'id="no-fields"' in page and 'id="no-materials"' in page
