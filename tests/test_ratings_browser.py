"""好差评 on a phone: a very dissatisfied rating, the department answers, the applicant reads it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from onething.cases.decisions import decide
from onething.storage.models import Task
from test_admin import PASSWORD, add_account
from test_guides_browser import axe_violations
from test_web import fill, start, submit, upload_everything

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """An applicant's phone, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "locale": "zh-CN"}


def test_a_very_dissatisfied_rating_is_answered_and_the_applicant_reads_the_reply(
        live_app, page: Page, tmp_path):
    base, app = live_app
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    link = re.search(r'class="link" value="([^"]+)"', applicant.get(f"{draft}/form").text).group(1)
    token = re.search(r"token=([^&]+)", link).group(1)
    upload_everything(applicant, draft)
    tracking = submit(applicant, draft).rstrip("/").rsplit("/", 1)[-1]
    add_account(app, "fire", "department_staff", "sn-fire")
    with Session(app.extensions["onething.engine"]) as session:
        task = session.exec(select(Task).where(Task.matter_code == "fire-safety-check")).one()
        decide(session, task, "accept", "fire")
        decide(session, task, "approve", "fire", certificate_number="消检-001")
        task_id = task.id
    shots = tmp_path  # phone screenshots, to look at

    page.goto(f"{base}/s/{tracking}?token={token}")
    card = page.locator(f"#rating-task-{task_id}")
    expect(card.locator('input[name="level"]')).to_have_count(5)
    # Each level is a target of at least 44 px, and the page fits the phone.
    for label in card.locator("label.level").all():
        assert label.bounding_box()["height"] >= 44
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe_violations(page) == []
    card.scroll_into_view_if_needed()
    card.locator("label.level-1").click()  # 非常不满意, by its label
    expect(card.locator('input[name="level"][value="1"]')).to_be_checked()
    card.locator('input[name="tags"][value="attitude"]').check()
    card.locator("textarea").fill("<script>alert(1)</script>窗口态度差")
    card.screenshot(path=str(shots / "rating-form-390.png"))
    card.locator('button[type="submit"]').click()
    # htmx swapped the partial: the rating, and when the answer is due.
    reply_box = page.locator(f"#rating-task-{task_id} .rectification-reply")
    expect(reply_box).to_be_visible()
    expect(page.locator(f"#rating-task-{task_id} .rating-comment")).to_have_text(
        "<script>alert(1)</script>窗口态度差")
    assert axe_violations(page) == []

    page.context.clear_cookies()
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("fire")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}/inbox/")
    page.locator('a[href="/inbox/rectifications/"]').click()
    page.locator("#rectification-rows a").filter(has_text=tracking).click()
    expect(page.locator("#rating-comment")).to_have_text("<script>alert(1)</script>窗口态度差")
    page.locator("#rect-verified").fill("窗口人员未一次性告知")
    page.locator("#rect-fix").fill("已对窗口人员批评教育并培训")
    page.locator("#rect-reply").fill("您好，经核实情况属实，已整改。感谢监督！")
    page.locator("#rect-reply").locator("xpath=ancestor::form").locator("button").click()
    page.locator('input[name="result"][value="satisfied"]').check()
    page.locator("#rect-note").locator("xpath=ancestor::form").locator("button").click()
    page.locator("form[action$='/close'] button").click()
    expect(page.locator("#rectification-closed")).to_be_visible()
    page.screenshot(path=str(shots / "rectification-closed-390.png"), full_page=True)

    page.context.clear_cookies()
    page.goto(f"{base}/s/{tracking}?token={token}")
    reply = page.locator(f"#rating-task-{task_id} .reply-text")
    expect(reply).to_have_text("您好，经核实情况属实，已整改。感谢监督！")
    page.locator("#ratings").screenshot(path=str(shots / "rating-reply-390.png"))
    assert axe_violations(page) == []
