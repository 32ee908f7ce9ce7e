"""Departments' inbox: each department sees only its tasks, each task only its slice."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import pytest
from sqlmodel import Session, select

from onething.catalog.workdays import CHINA_TZ, add_calendar_days, add_working_days
from onething.storage.models import Submission, Task
from test_admin import PASSWORD, add_account, token_of
from test_web import FORM, PDF, fill, start, submit, upload_everything

from conftest import NEW_ENTITY_USCC, uploaded_material

# Values of the restaurant case (tests/test_web.py FORM) and the only departments that need them.
PRIVATE = {
    "王海风": {"sn-amr", "sn-tobacco"},                 # legal representative
    "11010519491231002X": {"sn-amr", "sn-tobacco"},     # their ID number
    "李青": {"sn-amr", "sn-fire", "sn-urban-mgmt", "sn-tobacco"},  # contact: with the mobile
    "赵安": {"sn-amr"},                                 # food safety manager
    "13705322222": {"sn-amr"},                          # their mobile
    "海风小馆": {"sn-urban-mgmt"},                      # signboard text
    "餐饮服务；食品销售": {"sn-amr"},                   # business scope
}
DEPARTMENTS = ("sn-amr", "sn-fire", "sn-urban-mgmt", "sn-tobacco")


@pytest.fixture
def routed(app, client):
    """The whole restaurant case submitted; returns its tasks by department."""
    draft = start(client)
    fill(client, draft)
    upload_everything(client, draft)
    submit(client, draft)
    for department in DEPARTMENTS:
        add_account(app, f"staff-{department}", "department_staff", department)
    with Session(app.extensions["onething.engine"]) as session:
        tasks = session.exec(select(Task)).all()
    by_department: dict[str, list[Task]] = {}
    for task in tasks:
        by_department.setdefault(task.department_code, []).append(task)
    return by_department


def staff(app, department: str):
    browser = app.test_client()
    page = browser.get("/login").text
    response = browser.post("/login", data={"username": f"staff-{department}",
                                            "password": PASSWORD, "csrf_token": token_of(page)})
    assert response.headers["Location"] == "/inbox/"
    return browser


@pytest.mark.parametrize("department", DEPARTMENTS)
def test_no_page_of_a_department_holds_another_departments_values(app, routed, department):
    browser = staff(app, department)
    pages = [browser.get("/inbox/").text]
    for task in routed[department]:
        response = browser.get(f"/inbox/tasks/{task.id}")
        assert response.status_code == 200
        pages.append(response.text)
    text = "\n".join(pages)
    for value, allowed in PRIVATE.items():
        if department in allowed:
            assert value in text, f"{department} needs {value}"
        else:
            assert value not in text, f"{department} must not see {value}"


def test_a_task_of_another_department_is_not_found(app, routed):
    browser = staff(app, "sn-urban-mgmt")
    tobacco = routed["sn-tobacco"][0]
    assert browser.get(f"/inbox/tasks/{tobacco.id}").status_code == 404
    material = uploaded_material(tobacco)["id"]
    assert browser.get(f"/inbox/tasks/{tobacco.id}/materials/{material}").status_code == 404
    listed = browser.get("/inbox/").text
    assert f"/inbox/tasks/{tobacco.id}" not in listed


def test_a_department_downloads_only_its_own_materials(app, routed):
    browser = staff(app, "sn-tobacco")
    task = routed["sn-tobacco"][0]
    uploaded = next(m for m in task.slice_materials if m["state"] == "uploaded")
    with browser.get(f"/inbox/tasks/{task.id}/materials/{uploaded['id']}") as response:
        assert response.status_code == 200 and response.data == PDF
        # Saved under the case's number and the material's name, not the applicant's a.pdf.
        with Session(app.extensions["onething.engine"]) as session:
            number = session.get(Submission, task.submission_id).tracking_number
        disposition = unquote(response.headers["Content-Disposition"])
        assert f"{number}-" in disposition and disposition.endswith(".pdf")
        assert re.search(r"[\u4e00-\u9fff]", disposition)
    food = routed["sn-amr"][0].slice_materials
    theirs = next(m["id"] for m in food if m["id"] not in
                  {own["id"] for own in task.slice_materials})
    assert browser.get(f"/inbox/tasks/{task.id}/materials/{theirs}").status_code == 404


# A count by status: its link, then its number (kept with its colon).
COUNT = r'status=(\w+)">[^<]+</a><span class="count">[:：]\s*<strong>(\d+)</strong>'


def test_the_inbox_filters_by_status_and_due_date_and_counts(app, routed):
    browser = staff(app, "sn-amr")
    page = browser.get("/inbox/").text
    counts = dict(re.findall(COUNT, page))
    statuses = [t.status for t in routed["sn-amr"]]
    # The states the department has no task in are left out.
    assert counts == {status: str(statuses.count(status)) for status in
                      ("pending", "accepted", "supplement", "waiting", "approved", "rejected",
                       "stopped", "closed") if status in statuses}
    waiting = browser.get("/inbox/?status=waiting", headers={"HX-Request": "true"}).text
    assert "<html" not in waiting
    waiting_ids = {t.id for t in routed["sn-amr"] if t.status == "waiting"}
    assert set(map(int, re.findall(r'data-task="(\d+)"', waiting))) == waiting_ids
    assert 'data-task=' not in browser.get("/inbox/?due=overdue").text
    # On a phone a row is a card: each cell says what it is, in the page's language.
    row = re.search(r'<tr [^>]*data-task=.*?</tr>', page, re.S).group(0)
    assert re.findall(r'data-label="([^"]+)"', row) == [
        "受理编号：", "申请人：", "事项：", "提交日期：", "状态：", "办结期限："]


def test_only_department_staff_have_an_inbox(app, routed, client):
    assert client.get("/inbox/").headers["Location"].startswith("/login")
    add_account(app, "desk", "front_desk")
    desk = app.test_client()
    page = desk.get("/login").text
    desk.post("/login", data={"username": "desk", "password": PASSWORD,
                              "csrf_token": token_of(page)})
    assert desk.get("/inbox/").status_code == 403


def test_an_impossible_task_id_is_not_found(app, routed):
    browser = staff(app, "sn-amr")
    assert browser.get("/inbox/tasks/9223372036854775808").status_code == 404


def test_a_task_page_has_one_decision_panel(app, routed):
    browser = staff(app, "sn-amr")
    task = next(t for t in routed["sn-amr"] if t.status == "pending")
    page = browser.get(f"/inbox/tasks/{task.id}").text
    assert page.count('id="decision"') == 1
    assert "<title>" in page and 'id="decision"' not in page.split("</title>")[0]


def test_a_calendar_day_task_says_its_days_and_is_due_by_them(app, client):
    # The EIA report form alone (环境影响评价法 art. 22: 30 calendar days, 15 promised).
    response = client.post("/b/eia-report-form-approval?lang=en", data={})
    assert response.status_code == 302, response.text[:500]
    draft = response.headers["Location"].removesuffix("/form")
    response = client.post(f"{draft}/form", data={
        "project_name": "青岛海风食品加工厂建设项目", "entity_name": "青岛海风食品有限公司",
        "project_address.division_code": "370214", "project_address.detail": "海风路1号",
        "entity_uscc": "91350100M000100Y43", "legal_representative.name": "王海风",
        "legal_representative.id_number": "11010519491231002X",
        "legal_representative.mobile": "13805320000", "contact_name": "李青",
        "contact_mobile": "13905321111",
        "matters.eia-report-form-approval.eia_industry_category": "十、农副食品加工业",
        "matters.eia-report-form-approval.total_investment": "800",
        "matters.eia-report-form-approval.environmental_investment": "40",
        "matters.eia-report-form-approval.pollutant_kinds": "生产废水经预处理后排入市政管网"})
    assert response.status_code == 302, re.findall(r'class="error">([^<]*)', response.text)
    upload_everything(client, draft)
    assert "15 calendar days" in client.get(f"{draft}/review").text
    submit(client, draft)
    with Session(app.extensions["onething.engine"]) as session:
        task = session.exec(select(Task)).one()
    assert task.department_code == "qd-ecology-environment" and task.promised_days == 15
    submitted = task.created_at.astimezone(CHINA_TZ).date()
    assert task.due_date == add_calendar_days(submitted, 15).date
    add_account(app, "staff-qd-ecology-environment", "department_staff",
                "qd-ecology-environment")
    page = staff(app, "qd-ecology-environment").get(f"/inbox/tasks/{task.id}?lang=en").text
    assert "Promised: 15 calendar days; by law: 30 calendar days" in page


def test_the_audit_log_reads_in_the_staffs_language(app, routed):
    # Registration is approved: the food licence waiting for it is unlocked by the platform.
    browser = staff(app, "sn-amr")
    registration = next(t for t in routed["sn-amr"] if t.matter_code == "business-registration")
    page = browser.get(f"/inbox/tasks/{registration.id}").text
    token = token_of(page)
    for data in ({"action": "accept"}, {"action": "approve", "certificate_number": "91370202MA",
                                           "produced.entity_uscc": NEW_ENTITY_USCC}):
        assert browser.post(f"/inbox/tasks/{registration.id}/decide",
                            data={**data, "csrf_token": token}).status_code == 302
    log = re.search(r'<ol class="audit" id="audit">(.*?)</ol>',
                    browser.get(f"/inbox/tasks/{registration.id}").text, re.S).group(1)
    assert "staff-sn-amr · 已受理：" in log and "staff-sn-amr · 已办结：" in log
    # The approval names its certificate; the log starts with the submission that routed
    # the task here; an entry that changed no state shows no empty arrow.
    approval = re.search(r"staff-sn-amr · 已办结：.*?</li>", log, re.S).group(0)
    assert "证照编号 91370202MA" in approval
    assert re.search(r'id="audit-routed">[^<]*申请人 · 提交申请，分送本部门', log)
    assert "— →" not in log and not re.search(r"：(\S+) → \1", log)
    licence = next(t for t in routed["sn-amr"] if t.matter_code == "food-business-licence")
    english = browser.get(f"/inbox/tasks/{licence.id}?lang=en").text
    log = re.search(r'<ol class="audit" id="audit">(.*?)</ol>', english, re.S).group(1)
    assert "the platform · Unlocked by an earlier approval:" in log
    assert "accept:" not in log and "unlock" not in log


def test_a_front_desk_application_is_on_record_as_theirs(app):
    from onething.storage.models import AuditEntry, Draft
    from test_web import ANSWERS, FORM

    add_account(app, "desk", "front_desk")
    desk = app.test_client()
    page = desk.get("/login").text
    desk.post("/login", data={"username": "desk", "password": PASSWORD,
                              "csrf_token": token_of(page)})
    # A signed-in clerk's posts need the CSRF token the pages carry: another site's
    # form riding the clerk's session is refused and starts nothing.
    assert desk.post("/b/open-restaurant", data=ANSWERS).status_code == 400
    token = token_of(desk.get("/b/open-restaurant").text)
    started = desk.post("/b/open-restaurant", data={**ANSWERS, "csrf_token": token})
    draft = started.headers["Location"].removesuffix("/form")
    assert desk.post(f"{draft}/form", data={**FORM, "csrf_token": token}).status_code == 302
    for material_id in re.findall(r'/materials/([a-z0-9-]+)"', desk.get(f"{draft}/materials").text):
        desk.post(f"{draft}/materials/{material_id}",
                  data={"action": "upload", "file": (io.BytesIO(PDF), "a.pdf"),
                        "csrf_token": token}, content_type="multipart/form-data")
    review = desk.get(f"{draft}/review").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    done = desk.post(f"{draft}/submit", data={"idempotency_key": key, "csrf_token": token})
    receipt = desk.get(done.headers["Location"]).text
    tracking = re.search(r"OT\d{8}-[0-9A-Z]{6}", receipt).group(0)
    with Session(app.extensions["onething.engine"]) as session:
        assert session.exec(select(Draft)).one().created_by == "desk"
        actions = {(e.actor, e.action) for e in session.exec(select(AuditEntry)).all()}
        assert {("desk", "start_for_applicant"), ("desk", "submit_for_applicant")} <= actions
    assert "qr.svg" in receipt  # the QR code and number to hand over
    assert tracking in receipt
    # Every department's task page says who filed it; an online case says the applicant.
    add_account(app, "staff-sn-fire", "department_staff", "sn-fire")
    with Session(app.extensions["onething.engine"]) as session:
        fire = session.exec(select(Task).where(Task.department_code == "sn-fire")).first()
    page = staff(app, "sn-fire").get(f"/inbox/tasks/{fire.id}?lang=en").text
    filed = page[page.index('id="filed-by"'):].split("</p>")[0]
    assert "filed at the front desk by" in filed and "(desk)" in filed


def test_an_online_case_says_the_applicant_filed_it(app, routed):
    page = staff(app, "sn-fire").get(f"/inbox/tasks/{routed['sn-fire'][0].id}?lang=en").text
    assert "filed online by the applicant" in page[page.index('id="filed-by"'):]


def test_a_matter_applied_for_alone_goes_the_one_form_way_to_its_departments_inbox(app, client):
    """Every matter is a service: its guide, the same form, review, receipt and inbox."""
    guide = client.get("/g/outdoor-signboard").text
    assert 'href="/b/outdoor-signboard"' in guide
    start_page = client.get("/b/outdoor-signboard")
    assert start_page.status_code == 200 and "户外招牌设施设置审核" in start_page.text
    # No questions to answer and nothing bundled to compare with: neither is shown.
    assert "您的情形" not in start_page.text and "依次办理" not in start_page.text
    assert "您的情形" in client.get("/b/open-restaurant").text
    started = client.post("/b/outdoor-signboard", data={})
    assert started.status_code == 302, started.text[:500]
    draft = started.headers["Location"].removesuffix("/form")
    form = {key: value for key, value in FORM.items()
            if not key.startswith("matters.") or key.startswith("matters.outdoor-signboard.")}
    filled = client.post(f"{draft}/form", data=form)
    assert filled.status_code == 302, re.findall(r'class="error">([^<]*)', filled.text)
    upload_everything(client, draft)
    receipt = submit(client, draft)
    assert client.get(receipt).status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        [task] = session.exec(select(Task)).all()
    assert (task.department_code, task.matter_code) == ("sn-urban-mgmt", "outdoor-signboard")
    assert task.status == "pending"
    # Its slice holds what the matter declared, nothing of the restaurant's other matters.
    assert task.slice_data["matters"]["outdoor-signboard"]["signboard_text"] == "海风小馆"
    assert "legal_representative" not in task.slice_data
    add_account(app, "staff-sn-urban-mgmt", "department_staff", "sn-urban-mgmt")
    inbox = staff(app, "sn-urban-mgmt").get("/inbox/").text
    assert f'href="/inbox/tasks/{task.id}"' in inbox and "outdoor-signboard" in inbox


def test_the_lead_department_follows_every_task_without_any_slice(app, routed):
    # 开办餐饮店 is led by the approval bureau, none of whose own matters applies.
    add_account(app, "staff-sn-approval", "department_staff", "sn-approval")
    lead = staff(app, "sn-approval")
    assert "data-task=" not in lead.get("/inbox/").text  # no task of its own
    listing = lead.get("/inbox/cases").text
    tracking = re.findall(r'data-case="([^"]+)"', listing)
    assert len(tracking) == 1 and "开办餐饮店" in listing
    every = [task for tasks in routed.values() for task in tasks]
    assert f"已批准 0 项，共 {len(every)} 项" in listing
    case = lead.get(f"/inbox/cases/{tracking[0]}").text
    assert sorted(map(int, re.findall(r'data-task="(\d+)"', case))) == sorted(
        task.id for task in every)
    for task in every:
        assert task.due_date.isoformat() in case
    # Coordination, not the case file: no department's personal fields reach the lead.
    for value in PRIVATE:
        assert value not in listing and value not in case, value
    # A department that does not lead the case neither lists nor opens it.
    other = staff(app, "sn-fire")
    assert "data-case=" not in other.get("/inbox/cases").text
    assert other.get(f"/inbox/cases/{tracking[0]}").status_code == 404


def test_cases_submitted_before_the_lead_department_was_kept_get_it(app, routed):
    from alembic import command

    from onething.storage.db import alembic_config, migrate
    from onething.storage.models import Submission

    engine = app.extensions["onething.engine"]
    engine.dispose()
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0011")
    migrate(engine)
    with Session(engine) as session:
        assert [s.lead_department for s in session.exec(select(Submission)).all()] == [
            "sn-approval"]


def test_the_lead_sees_that_a_task_was_refused_but_not_the_words_written_to_the_applicant(
        app, routed):
    from test_decisions import post_decision

    registration = next(t for t in routed["sn-amr"] if t.matter_code == "business-registration")
    refused = post_decision(staff(app, "sn-amr"), registration.id, action="reject",
                            reason="王海风（11010519491231002X）的名称与已登记企业重复")
    assert refused.status_code == 200
    add_account(app, "staff-sn-approval", "department_staff", "sn-approval")
    lead = staff(app, "sn-approval")
    listing = lead.get("/inbox/cases").text
    assert "有事项不予批准" in listing
    tracking = re.findall(r'data-case="([^"]+)"', listing)[0]
    case = lead.get(f"/inbox/cases/{tracking}").text
    assert "11010519491231002X" not in case and "王海风" not in case
    assert "rejected:" not in case
    assert "因“市场主体设立登记（营业执照办理）”未获准而终止" in case


# --- the inbox at volume: pages of 50, exact counts, order, search -----------------------


def page_ids(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-task="(\d+)"', text)]


def position(text: str) -> str:
    return re.search(r'id="inbox-position">([^<]*)<', text).group(1)


def link(text: str, rel: str) -> str | None:
    # With htmx a page link swaps the filters and the rows, and brings the rows into view.
    # Without it, the link opens the page at its rows.
    found = re.search(rf'<a href="([^"]+)#inbox-rows" hx-get="[^"]+" hx-target="#inbox-list" '
                      rf'hx-swap="innerHTML show:#inbox-rows:top" hx-push-url="true" '
                      rf'rel="{rel}">', text)
    return found.group(1).replace("&amp;", "&") if found else None


def test_the_inbox_pages_50_at_a_time_with_exact_counts(app):
    from conftest import bulk_route

    ids = bulk_route(app, 1056, other="sn-fire")
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    page = browser.get("/inbox/?lang=en").text
    assert len(page_ids(page)) == 50 and position(page) == "1–50 of 1,056"
    assert link(page, "prev") is None
    assert "第 1–50 条，共 1,056 条" not in page  # English asked for
    seen, url, pages = [], "/inbox/", []
    while url:
        text = browser.get(url).text
        pages.append(text)
        seen += page_ids(text)
        url = link(text, "next")
    assert len(pages) == 22 and sorted(seen) == sorted(ids)  # each once, no other department's
    assert position(pages[-1]).startswith("1,051–1,056")
    # Previous from the second page is the first page again, by due date then id.
    back = browser.get(link(pages[1], "prev")).text
    assert page_ids(back) == page_ids(pages[0])
    assert link(back, "prev") is None
    with Session(app.extensions["onething.engine"]) as session:
        due = {t.id: (t.due_date, t.id) for t in session.exec(select(Task)).all()}
    assert [due[i] for i in seen] == sorted(due[i] for i in ids)
    # Another department neither lists nor counts them.
    add_account(app, "staff-sn-fire", "department_staff", "sn-fire")
    fire = staff(app, "sn-fire").get("/inbox/?lang=en").text
    assert position(fire) == "1–50 of 1,056" and not set(page_ids(fire)) & set(ids)
    counts = dict(re.findall(COUNT, fire))
    assert counts["pending"] == "1056"


def test_the_newest_task_is_reachable_and_found_by_its_tracking_number(app):
    from conftest import bulk_route

    ids = bulk_route(app, 120, other=None)
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    newest = browser.get("/inbox/?sort=new").text
    assert page_ids(newest)[:3] == ids[::-1][:3]
    with Session(app.extensions["onething.engine"]) as session:
        from onething.storage.models import Submission

        number = session.exec(select(Submission.tracking_number).join(
            Task, Task.submission_id == Submission.id).where(Task.id == ids[-1])).one()
    day, suffix = number.split("-")
    for typed in (number, number.lower(), f" {day[2:]}-{suffix} ",
                  "ＯＴ" + day[2:] + "－" + suffix,
                  # The dash left out, or typed as a space or another dash.
                  day + suffix, f"{day} {suffix}", f"OT {day[2:]} {suffix}",
                  f"{day}—{suffix}", f"{day}_{suffix.lower()}"):
        found = browser.get("/inbox/", query_string={"q": typed, "lang": "en"}).text
        assert page_ids(found) == [ids[-1]], typed
        assert position(found) == "1–1 of 1"
    # A prefix: its day (all of them, here) and more of the number.
    by_day = browser.get("/inbox/", query_string={"q": day, "lang": "en"}).text
    assert position(by_day) == "1–50 of 120"
    by_prefix = browser.get("/inbox/", query_string={"q": number[:-1]}).text
    assert ids[-1] in page_ids(by_prefix) and len(page_ids(by_prefix)) <= 16
    for short in ("OT2026", "2026", "OT20261201-%", "x"):
        refused = browser.get("/inbox/", query_string={"q": short, "lang": "en"}).text
        assert page_ids(refused) == [] and 'id="search-problem"' in refused, short
    # Anything else is part of a name: quotes and wildcards are searched for as typed.
    for name in ("x' OR 1=1 --", "%%", "__"):
        nothing = browser.get("/inbox/", query_string={"q": name, "lang": "en"}).text
        assert page_ids(nothing) == [] and 'id="search-problem"' not in nothing, name


def test_paging_keeps_the_filters_with_and_without_htmx(app):
    from conftest import bulk_route

    ids = bulk_route(app, 300, statuses=("pending", "approved", "accepted"))
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    pending = ids[::3]
    first = browser.get("/inbox/?status=pending&sort=new&lang=en").text
    assert page_ids(first) == pending[::-1][:50] and position(first) == "1–50 of 100"
    url = link(first, "next")
    assert "status=pending" in url and "sort=new" in url
    swapped = browser.get(url, headers={"HX-Request": "true"})
    assert "<html" not in swapped.text and "HX-Request" in swapped.headers["Vary"]
    assert page_ids(swapped.text) == pending[::-1][50:100]
    assert position(swapped.text) == "51–100 of 100" and link(swapped.text, "next") is None
    previous = link(swapped.text, "prev")
    assert "status=pending" in previous and "sort=new" in previous
    assert page_ids(browser.get(previous).text) == page_ids(first)
    # Without JavaScript the same link is the whole page, filters and all.
    whole = browser.get(url).text
    assert "<html" in whole and page_ids(whole) == page_ids(swapped.text)
    assert 'option value="pending" selected' in whole and 'option value="new" selected' in whole


def test_the_inbox_opens_on_the_open_tasks_and_a_search_finds_decided_ones_too(app):
    from conftest import bulk_route

    ids = bulk_route(app, 300, statuses=("pending", "approved", "accepted"))
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    with Session(app.extensions["onething.engine"]) as session:
        from onething.storage.models import Submission

        tasks = {t.id: t for t in session.exec(select(Task)).all()}
        approved = next(i for i in ids if tasks[i].status == "approved")
        number = session.exec(select(Submission.tracking_number).where(
            Submission.id == tasks[approved].submission_id)).one()
    open_ids = [i for i in ids if tasks[i].status != "approved"]
    # Its first view is the work still to decide (未办结), soonest due first, every page.
    first = browser.get("/inbox/?lang=en").text
    assert position(first) == "1–50 of 200"
    assert 'option value="open" selected' in first
    assert re.search(r'href="/inbox/">Open \(未办结\)</a><span class="count">[:：]\s*'
                     r'<strong>200</strong>', first)
    seen, url = [], "/inbox/"
    while url:
        text = browser.get(url).text
        seen += page_ids(text)
        url = link(text, "next")
        assert url is None or "status=" not in url  # the default needs no parameter
    assert [(tasks[i].due_date, i) for i in seen] == sorted(
        (tasks[i].due_date, i) for i in open_ids)
    # Every status, when asked: its page links keep asking.
    every = browser.get("/inbox/?status=all&lang=en").text
    assert position(every) == "1–50 of 300" and "status=all" in link(every, "next")
    assert 'option value="all" selected' in every
    # A caller asks after their case whatever became of it: the search finds it, decided.
    found = browser.get("/inbox/", query_string={"q": number, "lang": "en"}).text
    assert page_ids(found) == [approved]
    # A filter left on does not hide it: the search looks through every task, and says so.
    filtered = browser.get("/inbox/", query_string={"q": number, "status": "pending",
                                                    "due": "overdue", "lang": "en"}).text
    assert page_ids(filtered) == [approved] and 'id="search-scope"' in filtered
    assert 'option value="pending" selected' in filtered  # kept, for when it is cleared
    # Cleared, the list is the filters' again: the open view, when that was the view.
    cleared = browser.get("/inbox/", query_string={"q": "", "status": "open"}).text
    assert approved not in page_ids(cleared) and position(cleared) == "1–50 of 200"
    assert 'id="search-scope"' not in found


def test_overdue_and_due_soon_are_open_tasks_only(app):
    from onething.catalog.workdays import china_today

    from conftest import bulk_route

    ids = bulk_route(app, 80, statuses=("pending", "approved"))
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    with Session(app.extensions["onething.engine"]) as session:
        tasks = {t.id: t for t in session.exec(select(Task)).all()}
    today = china_today()
    overdue = page_ids(browser.get("/inbox/?due=overdue").text)
    assert overdue and set(overdue) == {
        i for i in ids if tasks[i].status == "pending" and tasks[i].due_date < today}
    # A decided task's clock stands: asking for approved ones overdue says why none are.
    none = browser.get("/inbox/?status=approved&due=overdue").text
    assert not page_ids(none) and 'id="due-needs-running"' in none
    assert 'id="due-needs-running"' not in browser.get("/inbox/?status=pending&due=soon").text


def test_a_task_whose_clock_stands_is_neither_overdue_nor_due_soon(app):
    from sqlalchemy import update

    from onething.catalog.workdays import china_today

    from conftest import bulk_route

    ids = bulk_route(app, 80, statuses=("pending", "supplement", "waiting"))
    today = china_today()
    with Session(app.extensions["onething.engine"]) as session:
        # A correction asked (补正) pauses the clock until the applicant sends it.
        session.execute(update(Task).where(Task.status == "supplement").values(
            paused_since=today))
        session.commit()
        tasks = {t.id: t for t in session.exec(select(Task)).all()}
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")
    running = {i for i in ids if tasks[i].status == "pending"}
    for due, holds in (("overdue", lambda d: d < today),
                       ("soon", lambda d: today <= d <= add_working_days(today, 2).date)):
        shown = set(page_ids(browser.get(f"/inbox/?due={due}").text))
        assert shown and shown == {i for i in running if holds(tasks[i].due_date)}, due
    # The open list marks only those: a paused or waiting row says nothing of its due date.
    page = browser.get("/inbox/?status=all&sort=new").text
    for row in re.findall(r'<tr class="([^"]*)" data-task="(\d+)"', page):
        if int(row[1]) not in running:
            assert row[0] == "", row


@pytest.mark.parametrize(("query", "read"), [
    ("after=tomorrow", ""), ("after=2026-02-30.5", ""), ("before=12", ""),
    ("sort=new&after=2026-12-01.5", "sort=new"), ("sort=oldest", ""),
    ("after=99999999999", ""), ("status=bogus", ""), ("due=bogus", "")])
def test_a_link_that_cannot_be_read_opens_the_first_page_and_says_so(app, routed, query, read):
    browser = staff(app, "sn-amr")
    first = browser.get(f"/inbox/?{read}").text
    page = browser.get(f"/inbox/?{query}")
    # An old bookmark or an address cut short still opens the inbox, never an error page.
    assert page.status_code == 200
    assert 'id="link-problem"' in page.text and "无法识别" in page.text
    assert page_ids(page.text) == page_ids(first) and page_ids(first)
    assert 'id="link-problem"' not in first


def _renumber(app, number: str, party_name: str | None = None) -> None:
    from sqlalchemy import update

    from onething.storage.models import Submission

    with Session(app.extensions["onething.engine"]) as session:
        session.execute(update(Submission).values(tracking_number=number))
        if party_name:
            session.execute(update(Task).values(party_name=party_name))
        session.commit()


@pytest.mark.parametrize("typed", ["Z7E1B0", "z7e1b0", "-Z7E1B0", "－z7e1b0", "Ｚ７Ｅ１Ｂ０",
                                   " z7e1bo ", "z7eib0", "Z7ELBO"])
def test_a_tracking_numbers_last_six_characters_find_its_case(app, routed, typed):
    _renumber(app, "OT20261201-Z7E1B0")
    browser = staff(app, "sn-amr")
    # Read out on the phone, the end of a number, as people type it (lower case, a dash, O
    # for 0, I or L for 1): the case's tasks of this department, decided or not.
    page = browser.get("/inbox/", query_string={"q": typed}).text
    assert sorted(page_ids(page)) == sorted(t.id for t in routed["sn-amr"])
    assert 'id="search-problem"' not in page
    # Another end finds nothing, and says nothing is wrong with the search.
    other = browser.get("/inbox/", query_string={"q": "Z7E1B9"}).text
    assert page_ids(other) == [] and 'id="search-problem"' not in other


@pytest.mark.parametrize("typed", ["受理编号：OT20261201-Z7E1B0", "OT20261201-Z7E1B0。",
                                   "OT20261201-Z7E1B0 青岛海风餐饮有限公司 市场主体设立登记",
                                   "您的受理编号为 ot20261201 z7e1b0，请留存"])
def test_a_whole_number_pasted_with_words_around_it_finds_its_case(app, routed, typed):
    _renumber(app, "OT20261201-Z7E1B0")
    page = staff(app, "sn-amr").get("/inbox/", query_string={"q": typed}).text
    assert sorted(page_ids(page)) == sorted(t.id for t in routed["sn-amr"])


def test_an_end_of_letters_only_finds_a_number_or_a_name(app, routed):
    # One number in ten ends in letters only, which could also be part of a Latin name.
    _renumber(app, "OT20261201-KMNPQR", party_name="Harbour KMNPQS Trading")
    browser = staff(app, "sn-amr")
    mine = sorted(t.id for t in routed["sn-amr"])
    assert sorted(page_ids(browser.get("/inbox/?q=kmnpqr").text)) == mine
    assert sorted(page_ids(browser.get("/inbox/?q=kmnpqs").text)) == mine
    assert page_ids(browser.get("/inbox/?q=kmnpqt").text) == []
    # U is no character of a number: a name only ("HARBOU" is in one).
    assert sorted(page_ids(browser.get("/inbox/?q=harbou").text)) == mine


@pytest.mark.parametrize("typed", ["OT2026", "ot20261", "202612", "7"])
def test_a_number_too_short_to_search_says_what_to_type(app, routed, typed):
    page = staff(app, "sn-amr").get("/inbox/", query_string={"q": typed, "lang": "en"}).text
    assert 'id="search-problem"' in page and "its last 6 characters" in page


def test_the_search_by_a_numbers_end_reads_its_index(app, routed):
    from onething.departments.inbox import _ending_in

    engine = app.extensions["onething.engine"]
    statement = select(Task.id).where(_ending_in("Z7E1B0"))
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = " ".join(row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql))
        else:
            # A small table is read whole unless scans are off: the index must be usable.
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql))
    assert "ix_submission_tracking_tail" in plan


def test_a_search_longer_than_any_number_or_name_is_said_to_be(app, routed):
    browser = staff(app, "sn-amr")
    page = browser.get("/inbox/", query_string={"q": "测" * 500})
    assert page.status_code == 200 and 'id="search-problem"' in page.text
    assert "最多 64 个字符" in page.text and "测" * 65 not in page.text


def test_the_inbox_names_services_and_the_department_instead_of_codes(app, routed):
    page = staff(app, "sn-amr").get("/inbox/").text
    rows = page[page.index('id="inbox-rows"'):]
    assert "市场主体设立登记" in rows and "business-registration" not in rows.split(
        "<tbody>")[1].split("</tbody>")[0].replace('data-task', '')
    services = page[page.index('id="bundle"'):page.index("</select>", page.index('id="bundle"'))]
    assert '>open-restaurant<' not in services
    assert "· sn-amr</span>" not in page and "市场监督管理局</span>" in page


def test_the_inbox_shows_who_applied_and_finds_them_by_name_or_credit_code(app, routed):
    from test_decisions import post_decision

    for department, tasks in routed.items():
        page = staff(app, department).get("/inbox/").text
        rows = page.split("<tbody>")[1].split("</tbody>")[0]
        # Only a department whose slice names the company sees its name.
        names = {t.slice_data.get("entity_name") for t in tasks} - {None}
        assert ("青岛海风餐饮有限公司" in rows) == bool(names), department
    amr = staff(app, "sn-amr")
    ids = sorted(t.id for t in routed["sn-amr"])
    # Part of the name, typed with a full-width space around it.
    assert sorted(page_ids(amr.get("/inbox/", query_string={"q": "\u3000海风餐饮 "}).text)) == ids
    assert page_ids(amr.get("/inbox/", query_string={"q": "别家公司"}).text) == []
    # The credit code the registration hands over names the company in the food licence's
    # row from then on, and finds it however it is typed.
    registration, = [t for t in routed["sn-amr"] if t.matter_code == "business-registration"]
    post_decision(amr, registration.id, action="accept")
    post_decision(amr, registration.id, action="approve", certificate_number="C-1",
                  **{"produced.entity_uscc": NEW_ENTITY_USCC})
    with Session(app.extensions["onething.engine"]) as session:
        holders = set(session.exec(select(Task.id).where(
            Task.party_code == NEW_ENTITY_USCC)).all())
    assert holders and registration.id not in holders
    typed = " ".join(NEW_ENTITY_USCC.lower()[i:i + 6] for i in range(0, 18, 6))
    for department, tasks in routed.items():
        found = set(page_ids(staff(app, department).get("/inbox/", query_string={"q": typed}
                                                         ).text))
        assert found == {t.id for t in tasks} & holders, department


def test_a_task_names_its_party_from_whatever_slice_it_holds_now():
    import onething.cases.parties  # noqa: F401  (it keeps the party in step with the slice)

    task = Task(slice_data={})
    task.slice_data = {"applicant_name": " 张三 "}
    assert (task.party_name, task.party_code) == ("张三", None)
    # A correction or a handed-over value replaces the slice: the party follows.
    task.slice_data = {"applicant_name": "张三", "entity_name": "青岛某某有限公司",
                       "entity_uscc": "９１３７０２０２ma3c00011l"}
    assert (task.party_name, task.party_code) == ("青岛某某有限公司", "91370202MA3C00011L")
    task.slice_data = {"entity_uscc": "not a code"}
    assert (task.party_name, task.party_code) == (None, None)


# Names the search test gives the parties, in turn: Chinese, mixed-case Latin, wildcards.
PARTY_NAMES = ("青岛海风餐饮有限公司", "Qingdao SeaWind Trading", "李海风", "纯净100%水厂",
               "A_B商贸有限公司", "张三", "AxB科技有限公司", "海 风")


def test_a_name_search_pages_with_exact_counts_alike_on_both_databases(app):
    from sqlalchemy import update

    from conftest import bulk_route

    ids = bulk_route(app, 260, other="sn-fire")
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        for number, task_id in enumerate(ids):
            session.execute(update(Task).where(Task.id == task_id).values(
                party_name=PARTY_NAMES[number % len(PARTY_NAMES)]))
        # Another department's party of that name is never found here.
        session.execute(update(Task).where(Task.department_code == "sn-fire").values(
            party_name=PARTY_NAMES[0]))
        session.commit()
        due = {t.id: (t.due_date, t.id) for t in session.exec(
            select(Task).where(Task.department_code == "sn-amr")).all()}
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    browser = staff(app, "sn-amr")

    def expected(holds) -> list[int]:
        return sorted((i for n, i in enumerate(ids) if holds(PARTY_NAMES[n % 8])),
                      key=due.__getitem__)

    # Every database finds the same: what a Python substring test finds, ASCII letters of
    # either case, "%" and "_" only as themselves, in the list's order.
    for typed, holds in (("海风", lambda name: "海风" in name),
                         ("seawind", lambda name: "seawind" in name.lower()),
                         ("净100%", lambda name: "净100%" in name),
                         ("A_B", lambda name: "A_B" in name),
                         ("有限公司", lambda name: "有限公司" in name)):
        want = expected(holds)
        seen, pages, url = [], 0, "/inbox/?" + f"q={typed}&lang=en".replace("%", "%25")
        while url:
            text = browser.get(url, headers={"HX-Request": "true"} if pages else {}).text
            rows = page_ids(text)
            assert position(text) == (f"{len(seen) + 1}–{len(seen) + len(rows)} of "
                                      f"{len(want)}"), typed
            seen += rows
            pages += 1
            url = link(text, "next")
        assert seen == want, typed
        if pages > 1:
            # Back from the last page: the page before it, counted from its first row.
            previous = browser.get(link(text, "prev"), headers={"HX-Request": "true"}).text
            assert page_ids(previous) == seen[-len(rows) - 50:-len(rows)]
            assert position(previous).startswith(f"{len(seen) - len(rows) - 49}–")
    # Newest first, too.
    newest = browser.get("/inbox/", query_string={"q": "海风", "sort": "new"}).text
    assert page_ids(newest) == sorted(expected(lambda name: "海风" in name), reverse=True)[:50]


def test_an_open_task_of_a_case_that_cannot_complete_says_so_in_the_inbox(app, routed):
    from test_decisions import post_decision

    fire = staff(app, "sn-fire")
    assert 'data-ended="yes"' not in fire.get("/inbox/").text
    registration = next(t for t in routed["sn-amr"] if t.matter_code == "business-registration")
    post_decision(staff(app, "sn-amr"), registration.id, action="reject",
                  reason="名称与已登记企业重复")
    task_id = routed["sn-fire"][0].id
    row = re.search(rf'<tr [^>]*data-task="{task_id}">.*?</tr>', fire.get("/inbox/").text,
                    re.S).group(0)
    assert 'data-ended="yes"' in row and "无法全部办成" in row


def test_a_staff_error_page_leads_back_to_the_inbox(app, routed):
    missing = staff(app, "sn-fire").get("/inbox/tasks/999999")
    assert missing.status_code == 404
    assert 'href="/inbox/"' in missing.text and "返回待办件" in missing.text
    # Anyone else goes back to the services.
    assert "返回待办件" not in app.test_client().get("/s/OT20260101-ZZZZZZ/qr.svg").text


def test_the_staff_nav_offers_only_what_the_department_has(app, routed):
    pages = {"/inbox/cases": "牵头办件", "/inbox/instant": "秒批", "/inbox/benefits": "免申即享"}
    fire = staff(app, "sn-fire").get("/inbox/").text
    nav = re.search(r'<nav class="console-nav".*?</nav>', fire, re.S).group(0)
    assert not any(f'href="{path}"' in nav for path in pages)
    # The approval bureau leads the restaurant case (牵头), with no task of its own.
    add_account(app, "staff-sn-approval", "department_staff", "sn-approval")
    lead = re.search(r'<nav class="console-nav".*?</nav>',
                     staff(app, "sn-approval").get("/inbox/").text, re.S).group(0)
    assert 'href="/inbox/cases"' in lead
    add_account(app, "staff-sn-civil-affairs", "department_staff", "sn-civil-affairs")
    civil = re.search(r'<nav class="console-nav".*?</nav>',
                      staff(app, "sn-civil-affairs").get("/inbox/").text, re.S).group(0)
    assert 'href="/inbox/instant"' in civil and 'href="/inbox/benefits"' in civil
    # Still reachable by address, and saying there is nothing.
    assert staff(app, "sn-fire").get("/inbox/instant").status_code == 200


@pytest.mark.parametrize("due", ["overdue", "soon"])
def test_overdue_and_due_soon_are_read_by_index(app, routed, due):
    from sqlalchemy import func

    from onething.catalog.workdays import china_today
    from onething.departments.inbox import InboxQuery, _filters

    engine = app.extensions["onething.engine"]
    today = china_today()
    filters = _filters("sn-amr", InboxQuery(due=due), today,
                       add_working_days(today, 2).date, engine.dialect.name, None)
    statement = select(func.count()).select_from(Task).where(*filters)
    sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            plan = " ".join(row[3] for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + sql))
            # Without statistics SQLite prefers the index with the status in it, and reads
            # the rows it finds for their pause (measured within target: benchmarks/volume).
            assert "SCAN" not in plan and "department_code=?" in plan
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = " ".join(row[0] for row in connection.exec_driver_sql("EXPLAIN " + sql))
            assert "ix_task_department_running_due" in plan
