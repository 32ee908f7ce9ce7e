"""Departments and administrators in a real browser: the clock's pauses and the holiday
calendar moving due dates, and a disabled account or a revoked token refused at once."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from onething.catalog.workdays import add_working_days
from onething.storage.models import ApiToken, Submission, Task
from test_admin import PASSWORD, add_account
from test_web import fill, start, submit, upload_everything

from conftest import uploaded_material

# Every test here drives chromium: `-m browser` selects them with the others.
pytestmark = pytest.mark.browser

D = dt.date


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A department's desk: a wide screen, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900},
            "locale": "zh-CN"}


def routed(app) -> dict[str, Task]:
    """The restaurant case submitted by an applicant, staff accounts for its departments."""
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    upload_everything(applicant, draft)
    submit(applicant, draft)
    for department in ("sn-amr", "sn-fire", "sn-urban-mgmt", "sn-tobacco"):
        add_account(app, f"staff-{department}", "department_staff", department)
    with Session(app.extensions["onething.engine"]) as session:
        return {t.matter_code: t for t in session.exec(select(Task)).all()}


def sign_in(page: Page, base: str, username: str, lands: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}{lands}")
    page.wait_for_load_state()  # htmx listening before it is used


def second_desk(browser: Browser, page: Page) -> Page:
    """Another person's browser (its own cookies), as wide as the first."""
    context = browser.new_context(viewport=page.viewport_size, locale="zh-CN")
    return context.new_page()


def test_a_correction_pause_moves_the_due_date_by_the_working_days_it_lasted(
        live_app, page: Page, monkeypatch):
    from onething.cases.decisions import resubmit
    from test_deadlines import on, started

    base, app = live_app
    routed(app)
    task = started(app, "business-registration", D(2026, 11, 2))  # a Monday
    before = task.due_date
    on(monkeypatch, D(2026, 11, 4))  # the clock module's today: the correction is asked
    sign_in(page, base, "staff-sn-amr", "/inbox/")
    page.goto(f"{base}/inbox/tasks/{task.id}")
    expect(page.locator("#due-date")).to_contain_text(before.isoformat())
    ask = page.locator("form.decision").filter(has=page.locator('input[value="supplement"]'))
    material = uploaded_material(task)["id"]
    ask.locator(f'input[name="materials"][value="{material}"]').check()
    ask.get_by_label("补正内容说明").fill("请补正")
    ask.get_by_role("button", name="发出补正通知").click()
    expect(page.locator("#due-date")).to_contain_text("2026-11-04")  # stopped since
    # The applicant answers the next Monday: Thu, Fri and Mon did not count (3 days).
    on(monkeypatch, D(2026, 11, 9))
    with Session(app.extensions["onething.engine"]) as session:
        row = session.get(Task, task.id)
        resubmit(session, row, session.get(Submission, row.submission_id), {},
                 {material: uploaded_material(row)}, "applicant")
    page.reload()
    moved = add_working_days(before, 3).date
    expect(page.locator("#due-date")).to_contain_text(moved.isoformat())
    expect(page.locator("#due-date")).to_contain_text("3")  # days excluded so far
    assert moved == D(2026, 11, 6)  # Tue 3 → Fri 6: exactly three working days later


def test_a_2027_holiday_entered_in_the_console_moves_a_due_date_in_the_inbox(
        live_app, page: Page, browser: Browser):
    from test_console_walk import FULL_2027
    from test_deadlines import started

    base, app = live_app
    routed(app)
    add_account(app, "admin", "administrator")
    task = started(app, "business-registration", D(2026, 12, 31))  # one working day
    sign_in(page, base, "staff-sn-amr", "/inbox/")
    row = page.locator(f'tr[data-task="{task.id}"]')
    expect(row).to_contain_text("2027-01-01*")  # estimated: 2027 not entered yet
    console = second_desk(browser, page)
    sign_in(console, base, "admin", "/admin/")
    console.goto(f"{base}/admin/calendar/")
    console.get_by_label("节假日安排（JSON）").fill(json.dumps(FULL_2027, ensure_ascii=False))
    console.get_by_role("button", name="录入该年度").click()
    expect(console.locator("#calendar-entered")).to_be_visible()
    # The table of entered years above the form lists it at once, not after a reload.
    expect(console.locator('table.calendar-years tr[data-year="2027"]')).to_be_visible()
    page.reload()
    # 元旦 is off and 2027-01-02/03 are a weekend: due the Monday, no longer estimated.
    expect(row.locator("td").nth(5)).to_contain_text("2027-01-04")
    expect(row).not_to_contain_text("2027-01-04*")
    console.context.close()


def test_a_disabled_account_is_signed_out_at_its_next_click(
        live_app, page: Page, browser: Browser):
    base, app = live_app
    add_account(app, "admin", "administrator")
    add_account(app, "staff-sn-amr", "department_staff", "sn-amr")
    sign_in(page, base, "staff-sn-amr", "/inbox/")
    console = second_desk(browser, page)
    sign_in(console, base, "admin", "/admin/")
    console.goto(f"{base}/admin/users")
    account = console.locator('tr[data-account="staff-sn-amr"]')
    account.get_by_role("button", name="停用").click()
    expect(account.locator("td.state")).not_to_have_text(re.compile("启用|enabled"))
    page.locator("nav.console-nav").get_by_role("link").nth(1).click()
    expect(page).to_have_url(re.compile(r"/login\?.*ended=1"))
    expect(page.locator("#signed-out")).to_be_visible()
    # Signing in again is refused too: the account is disabled, not just signed out.
    page.get_by_label("用户名").fill("staff-sn-amr")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page.locator("p.error")).to_be_visible()
    console.context.close()


def test_a_token_revoked_in_the_console_is_refused_at_the_next_api_call(
        live_app, page: Page):
    from onething.departments.api import new_token

    base, app = live_app
    add_account(app, "admin", "administrator")
    with Session(app.extensions["onething.engine"]) as session:
        secret = new_token(session, "sn-amr", "审批系统")
        token_id = session.exec(select(ApiToken.id)).one()
    headers = {"Authorization": f"Bearer {secret}"}
    assert page.request.get(f"{base}/api/v1/tasks", headers=headers).status == 200
    sign_in(page, base, "admin", "/admin/")
    page.goto(f"{base}/admin/tokens")
    row = page.locator(f'tr[data-token="{token_id}"]')
    # The console asks first, naming the token: dismissed, nothing is revoked.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="吊销").click()
    expect(row.get_by_role("button")).to_have_count(1)
    assert asked and "审批系统" in asked[0]
    assert page.request.get(f"{base}/api/v1/tasks", headers=headers).status == 200
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="吊销").click()
    expect(row.get_by_role("button")).to_have_count(0)
    refused = page.request.get(f"{base}/api/v1/tasks", headers=headers)
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
