"""One case, one truth: a correction reaches every slice; a refused matter ends the case cleanly."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from onething.departments.webhooks import set_webhook
from onething.storage.models import AuditEntry, OutboxEvent, Submission, Task
from test_decisions import post_decision, tasks_by_matter
from test_inbox import DEPARTMENTS, routed, staff  # noqa: F401  (fixture and helper)
from test_web import fill, start, submit, upload_everything  # noqa: F401

OLD_DETAIL, NEW_DETAIL = "香港中路10号", "香港中路88号"
# The tasks whose slices hold the premises address, besides the one asking (registration).
HOLDERS = {"food-business-licence": "sn-amr", "fire-safety-check": "sn-fire",
           "outdoor-signboard": "sn-urban-mgmt", "tobacco-retail-licence": "sn-tobacco"}


def listen(app) -> None:
    """Every department of the case wants events (so they are written to the outbox)."""
    with Session(app.extensions["onething.engine"]) as session:
        for department in DEPARTMENTS:
            set_webhook(session, department, "http://127.0.0.1:9/hook")


def events_of(app, event: str) -> list[OutboxEvent]:
    with Session(app.extensions["onething.engine"]) as session:
        return list(session.exec(select(OutboxEvent).where(OutboxEvent.event == event)
                                 .order_by(OutboxEvent.id)).all())


def tracking_number(app) -> str:
    with Session(app.extensions["onething.engine"]) as session:
        return session.exec(select(Submission)).one().tracking_number


def approve(browser, task: Task, number: str):
    assert post_decision(browser, task.id, action="accept").status_code == 200
    approved = post_decision(browser, task.id, action="approve", certificate_number=number)
    assert approved.status_code == 200, approved.text


def correct_premises(app, client) -> None:
    """The market regulator asks for the premises address; the applicant corrects it."""
    amr = staff(app, "sn-amr")
    registration = tasks_by_matter(app)["business-registration"]
    asked = post_decision(amr, registration.id, action="supplement",
                          fields=["premises_address"], reason="门牌号有误")
    assert asked.status_code == 200
    status = client.get(f"/s/{tracking_number(app)}").text
    link = re.search(r'href="(/s/[^"]+/corrections/\d+)"', status).group(1)
    sent = client.post(link, data={"premises_address.division_code": "370202",
                                   "premises_address.detail": NEW_DETAIL},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, sent.text


def test_a_correction_of_a_shared_field_reaches_every_slice(app, client, routed):  # noqa: F811
    listen(app)
    # The fire brigade decided already: it is told, and its decision stands.
    approve(staff(app, "sn-fire"), tasks_by_matter(app)["fire-safety-check"], "消检-001")
    correct_premises(app, client)
    tasks = tasks_by_matter(app)
    for matter in ["business-registration", *HOLDERS]:
        assert tasks[matter].slice_data["premises_address"]["detail"] == NEW_DETAIL, matter
    assert tasks["fire-safety-check"].status == "approved"  # not reopened
    with Session(app.extensions["onething.engine"]) as session:
        submission = session.exec(select(Submission)).one()
        assert submission.data["premises_address"]["detail"] == NEW_DETAIL
        logged = {entry.subject: entry for entry in session.exec(
            select(AuditEntry).where(AuditEntry.action == "correct")).all()}
    assert logged[f"submission:{submission.id}"].after["fields"]["premises_address"][
        "detail"] == NEW_DETAIL
    for matter in HOLDERS:
        entry = logged[f"task:{tasks[matter].id}"]
        assert entry.before["fields"]["premises_address"]["detail"] == OLD_DETAIL
        assert entry.after["fields"]["premises_address"]["detail"] == NEW_DETAIL
    # The asking task records what came back too: before and after.
    asked = logged[f"task:{tasks['business-registration'].id}"]
    assert asked.actor == "applicant"
    assert asked.before["fields"]["premises_address"]["detail"] == OLD_DETAIL
    assert asked.after["fields"]["premises_address"]["detail"] == NEW_DETAIL
    # Each other department sees what changed, before and after, on its task page.
    for matter, department in HOLDERS.items():
        page = staff(app, department).get(f"/inbox/tasks/{tasks[matter].id}").text
        notice = page[page.index('id="corrections"'):page.index('id="slice-fields"')]
        assert "内容已更正" in notice
        assert OLD_DETAIL in notice and NEW_DETAIL in notice and "经营场所" in notice
    fire = staff(app, "sn-fire").get(f"/inbox/tasks/{tasks['fire-safety-check'].id}").text
    assert "决定仍然有效" in fire or "decision stands" in fire
    # The department that asked sees the answer to its request, value by value.
    asker = staff(app, "sn-amr").get(f"/inbox/tasks/{tasks['business-registration'].id}").text
    notice = asker[asker.index('id="corrections"'):asker.index('id="slice-fields"')]
    assert "答复本部门的补正要求" in notice
    assert OLD_DETAIL in notice and NEW_DETAIL in notice
    assert "申请人 · 内容已更正" in asker[asker.index('id="audit"'):]
    assert "· applicant ·" not in asker
    # One event per other task, naming the field, never its value.
    corrected = events_of(app, "task.corrected")
    assert sorted((e.department_code, e.payload["matter"]) for e in corrected) == sorted(
        (department, matter) for matter, department in HOLDERS.items())
    assert all(e.payload["fields"] == ["premises_address"] for e in corrected)
    assert not any("香港中路" in str(e.payload) for e in corrected)


def test_a_refusal_ends_the_case_and_releases_what_was_approved(app, client, routed):  # noqa: F811
    listen(app)
    approve(staff(app, "sn-fire"), tasks_by_matter(app)["fire-safety-check"], "消检-001")
    amr, urban = staff(app, "sn-amr"), staff(app, "sn-urban-mgmt")
    signboard = tasks_by_matter(app)["outdoor-signboard"]
    # Closing needs a case that cannot complete: a conflict with its state, changing nothing.
    early = post_decision(urban, signboard.id, action="close", reason="x")
    assert early.status_code == 409 and 'id="decision-refused"' in early.text
    assert tasks_by_matter(app)["outdoor-signboard"].status == "pending"
    registration = tasks_by_matter(app)["business-registration"]
    post_decision(amr, registration.id, action="reject", reason="名称与已登记企业重复")
    tasks = tasks_by_matter(app)
    assert tasks["food-business-licence"].status == "stopped"
    assert tasks["tobacco-retail-licence"].status == "stopped"
    assert tasks["outdoor-signboard"].status == "pending"
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).one().status == "ending"
        told = session.exec(select(AuditEntry).where(
            AuditEntry.action == "case_refused")).all()
    assert [e.subject for e in told] == [f"task:{signboard.id}"]
    assert told[0].after["refused"] == "business-registration"
    refused = events_of(app, "task.case_refused")
    assert [(e.department_code, e.payload["task_id"], e.payload["refused_matter"])
            for e in refused] == [("sn-urban-mgmt", signboard.id, "business-registration")]
    # The parallel department is told, and may close its task.
    page = urban.get(f"/inbox/tasks/{signboard.id}").text
    assert 'id="case-refused"' in page and "市场主体设立登记" in page
    assert 'name="action" value="close"' in page
    stopped = amr.get(f"/inbox/tasks/{tasks['tobacco-retail-licence'].id}")
    assert stopped.status_code == 404  # the tobacco bureau's, not the regulator's
    tobacco = staff(app, "sn-tobacco").get(
        f"/inbox/tasks/{tasks['tobacco-retail-licence'].id}").text
    assert 'name="action"' not in tobacco  # stopped: nothing to decide or close
    # While a task is open, the applicant reads one explanation, not two that contradict.
    status = client.get(f"/s/{tracking_number(app)}").text
    assert 'id="case-outcome"' in status and "消检-001" not in status
    assert "一并发放" not in status and "多证联发" not in status
    empty = post_decision(urban, signboard.id, action="close", reason=" ")
    assert empty.status_code == 422
    closed = post_decision(urban, signboard.id, action="close", reason="主体未设立，无法办理")
    assert closed.status_code == 200
    assert tasks_by_matter(app)["outdoor-signboard"].status == "closed"
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).one().status == "partly_approved"
    status = client.get(f"/s/{tracking_number(app)}").text
    outcome = re.search(r'id="case-outcome">([^<]+)<', status).group(1)
    assert ("未能全部办成" in outcome or "could not be done in full" in outcome) \
        and re.search(r"(?<!\d)1(?!\d)", outcome)
    assert "消检-001" in status and 'id="certificates"' in status
    assert "主体未设立，无法办理" in status  # the closing reason, next to its matter
    assert "一并发放" not in status


def test_a_refusal_with_nothing_approved_ends_rejected(app, client, routed):  # noqa: F811
    amr = staff(app, "sn-amr")
    post_decision(amr, tasks_by_matter(app)["business-registration"].id, action="reject",
                  reason="名称与已登记企业重复")
    tasks = tasks_by_matter(app)
    for matter, department in [("fire-safety-check", "sn-fire"),
                               ("outdoor-signboard", "sn-urban-mgmt")]:
        refused = post_decision(staff(app, department), tasks[matter].id, action="reject",
                                reason="不符合条件")
        assert refused.status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).one().status == "rejected"
    status = client.get(f"/s/{tracking_number(app)}").text
    assert 'id="certificates"' not in status and "12345" in status


def test_the_consoles_audit_log_names_a_corrected_field_but_never_its_values(
        app, client, routed):  # noqa: F811
    from test_admin import add_account, sign_in

    correct_premises(app, client)
    add_account(app, "admin", "administrator")
    console = app.test_client()
    sign_in(console)
    log = console.get("/admin/audit", query_string={"action": "correct"}).text
    assert "premises_address" in log  # the entry is there, naming the field
    assert OLD_DETAIL not in log and NEW_DETAIL not in log
    # The departments holding the field still see before and after.
    fire = staff(app, "sn-fire").get(
        f"/inbox/tasks/{tasks_by_matter(app)['fire-safety-check'].id}").text
    assert OLD_DETAIL in fire and NEW_DETAIL in fire


def test_two_departments_closing_the_last_open_tasks_at_once_end_the_case(
        app, routed, monkeypatch):  # noqa: F811
    import threading

    from onething.cases import decisions
    from onething.storage.db import session_for

    post_decision(staff(app, "sn-amr"), tasks_by_matter(app)["business-registration"].id,
                  action="reject", reason="名称与已登记企业重复")
    open_tasks = [tasks_by_matter(app)[m] for m in ("fire-safety-check", "outdoor-signboard")]
    # Each close waits, once it has read the case, for the other to have read it too: the
    # interleaving that left a case "ending" for ever. Taking turns, the second never
    # reads it before the first commits, and the wait gives up.
    meeting = threading.Barrier(2)
    read = decisions.refused_matters

    def reading_together(siblings):
        try:
            meeting.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass
        return read(siblings)

    monkeypatch.setattr(decisions, "refused_matters", reading_together)
    failures = []

    def close(task_id: int, actor: str):
        with session_for(app.extensions["onething.engine"]) as session:
            try:
                decisions.decide(session, session.get(Task, task_id), "close", actor,
                                 reason="主体未设立，无法办理")
            except Exception as error:  # reported below, not lost in the thread
                failures.append(error)

    threads = [threading.Thread(target=close, args=(task.id, f"staff-{task.department_code}"))
               for task in open_tasks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Submission)).one().status == "rejected"


def test_a_file_handed_in_again_reaches_every_slice_holding_it(app, client, routed):  # noqa: F811
    import io

    from test_web import PDF

    listen(app)
    tasks = tasks_by_matter(app)
    registration = tasks["business-registration"]
    shared = {m["id"] for m in registration.slice_materials if m.get("state") == "uploaded"}
    # A file of the registration's that another slice holds too (the first, in a fixed
    # order: a set's order changes from run to run), and every slice holding it.
    material = min(shared & {m["id"] for matter, task in tasks.items()
                             if matter != registration.matter_code
                             for m in task.slice_materials})
    holders = {matter: task for matter, task in tasks.items() if matter != registration.matter_code
               and material in {m["id"] for m in task.slice_materials}}
    assert holders, "the demo case shares a file between two slices"
    old_file = next(m["file"] for m in registration.slice_materials if m["id"] == material)
    amr = staff(app, "sn-amr")
    assert post_decision(amr, registration.id, action="supplement", materials=[material],
                         reason="租赁合同缺页").status_code == 200
    status = client.get(f"/s/{tracking_number(app)}").text
    link = re.search(r'href="(/s/[^"]+/corrections/\d+)"', status).group(1)
    new_pdf = PDF + b"\n% the whole contract\n"
    sent = client.post(link, data={f"material.{material}": (io.BytesIO(new_pdf), "lease.pdf")},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, sent.text
    now = tasks_by_matter(app)
    files = {matter: next(m for m in now[matter].slice_materials if m["id"] == material)
             for matter in [registration.matter_code, *holders]}
    # One case, one set of materials: every department examines the new file.
    assert {entry["file"] for entry in files.values()} != {old_file}
    assert len({entry["file"] for entry in files.values()}) == 1
    assert all(entry["filename"] == "lease.pdf" for entry in files.values())
    corrected = {e.payload["matter"]: e.payload for e in events_of(app, "task.corrected")}
    for matter in holders:
        assert corrected[matter]["materials"] == [material]


def test_a_stored_request_naming_part_of_a_field_asks_the_field_holding_it(
        app, client, routed):  # noqa: F811
    # Requests naming a part of a field (an address's detail) are refused since; one
    # stored before still gets a page the applicant can answer, not an empty form.
    registration = tasks_by_matter(app)["business-registration"]
    with Session(app.extensions["onething.engine"]) as session:
        task = session.get(Task, registration.id)
        task.status = "supplement"
        task.supplement = {"fields": ["premises_address.detail"], "materials": [],
                           "reason": "门牌号有误", "from": "pending"}
        session.add(task)
        session.commit()
    status = client.get(f"/s/{tracking_number(app)}").text
    link = re.search(r'href="(/s/[^"]+/corrections/\d+)"', status).group(1)
    page = client.get(link).text
    assert 'name="premises_address.detail"' in page and 'name="entity_name"' not in page
    sent = client.post(link, data={"premises_address.division_code": "370202",
                                   "premises_address.detail": NEW_DETAIL},
                       content_type="multipart/form-data")
    assert sent.status_code == 302, sent.text
    task = tasks_by_matter(app)["business-registration"]
    assert task.status == "pending"
    assert task.slice_data["premises_address"]["detail"] == NEW_DETAIL
