"""The statistics pages in a browser: an applicant's 非常不满意 moves the department's numbers;
charts drawn above their tables, axe-clean, on a desktop and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from onething.cases import demo_cases
from onething.cases.decisions import decide
from onething.storage.models import Submission, Task
from test_admin import PASSWORD, add_account
from test_guides_browser import axe_violations
from test_web import fill, start, submit, upload_everything

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()


def test_a_very_dissatisfied_rating_moves_the_departments_bad_rating_count(
        live_app, page: Page, tmp_path):
    base, app = live_app
    with Session(app.extensions["onething.engine"]) as session:
        demo_cases.seed_cases(session, 60, seed=3)  # something to chart
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    link = re.search(r'class="link" value="([^"]+)"', applicant.get(f"{draft}/form").text).group(1)
    token = re.search(r"token=([^&]+)", link).group(1)
    upload_everything(applicant, draft)
    tracking = submit(applicant, draft).rstrip("/").rsplit("/", 1)[-1]
    add_account(app, "fire", "department_staff", "sn-fire")
    with Session(app.extensions["onething.engine"]) as session:
        task = session.exec(select(Task).join(Submission).where(
            Submission.tracking_number == tracking,
            Task.matter_code == "fire-safety-check")).one()
        decide(session, task, "accept", "fire")
        decide(session, task, "approve", "fire", certificate_number="消检-001")
        task_id = task.id

    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "fire")
    page.locator('a[href="/inbox/statistics/"]').click()
    bad = page.locator("#statistics-bad")
    before = int(bad.inner_text())
    # The chart is drawn (ECharts, SVG) above its table, which stays the figure.
    expect(page.locator('[data-chart="cases"] svg')).to_be_visible()
    expect(page.locator("#stats-cases tbody tr").first).to_be_visible()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "statistics-department-1280.png"), full_page=True)

    # The applicant rates on their own phone: a browser of their own, not the clerk's.
    applicant_browser = page.context.browser.new_context()
    try:
        phone = applicant_browser.new_page()
        phone.goto(f"{base}/s/{tracking}?token={token}")
        card = phone.locator(f"#rating-task-{task_id}")
        card.locator("label.level-1").click()  # 非常不满意
        card.locator('button[type="submit"]').click()
        expect(card.locator(".rectification-reply")).to_be_visible()
    finally:
        applicant_browser.close()

    page.goto(f"{base}/inbox/statistics/")
    expect(page.locator("#statistics-bad")).to_have_text(str(before + 1))

    # The public page on a phone: it fits, its charts and tables are read alike.
    page.context.clear_cookies()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/statistics?by=department")
    expect(page.locator('[data-chart="ratings"] svg')).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "statistics-public-390.png"))
    page.locator("#stats-ratings").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "statistics-public-table-390.png"))
    # A bad date: the form again, with what to correct, and nothing else lost.
    page.goto(f"{base}/statistics?from=2026-02-30&by=department")
    expect(page.locator("#statistics-problem")).to_be_visible()
    expect(page.locator("#stats-by")).to_have_value("department")
    assert axe_violations(page) == []

    add_account(app, "admin", "administrator")
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, base, "admin")
    page.goto(f"{base}/admin/statistics/")
    expect(page.locator('[data-chart="time"] svg')).to_be_visible()
    assert axe_violations(page) == []
    page.screenshot(path=str(tmp_path / "statistics-admin-1280.png"), full_page=True)
