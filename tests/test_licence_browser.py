"""一业一证 in a real browser: the licence issued, verified by QR, a permit revoked; one joint
inspection scheduled and recorded by two departments."""

from __future__ import annotations

import re

import pytest
import segno
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session, select

from onething.storage.models import IndustryLicence, Submission, Task
from test_admin import PASSWORD, add_account
from test_decisions import post_decision
from test_inbox import staff
from test_licence import STORE
from test_web import fill, submit, upload_everything

from conftest import NEW_ENTITY_USCC

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: what an inspector at the counter, or anyone scanning the QR code, holds."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "locale": "zh-CN"}


def _case(app) -> tuple[str, dict[str, Task]]:
    applicant = app.test_client()
    response = applicant.post("/b/convenience-store-licence", data=STORE)
    draft = response.headers["Location"].removesuffix("/form")
    fill(applicant, draft)
    upload_everything(applicant, draft)
    submit(applicant, draft)
    for department in ("sn-amr", "sn-tobacco", "sn-approval"):
        add_account(app, department, "department_staff", department)
        add_account(app, f"staff-{department}", "department_staff", department)
    with Session(app.extensions["onething.engine"]) as session:
        number = session.exec(select(Submission)).one().tracking_number
        return number, {t.matter_code: t for t in session.exec(select(Task)).all()}


def phone(browser: Browser) -> Page:
    """Another person's phone: a context of its own (no one's session), in Chinese."""
    return browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}/inbox/")


def test_the_licence_is_issued_verified_by_qr_and_shows_a_revoked_permit(
        live_app, page: Page, browser: Browser):
    base, app = live_app
    _, tasks = _case(app)
    amr = staff(app, "sn-amr")
    registration, food = tasks["business-registration"], tasks["food-business-licence"]
    post_decision(amr, registration.id, action="accept")
    post_decision(amr, registration.id, action="approve", certificate_number=NEW_ENTITY_USCC,
                  **{"produced.entity_uscc": NEW_ENTITY_USCC})
    post_decision(amr, food.id, action="accept")
    post_decision(amr, food.id, action="approve", certificate_number="JY13702020012345")

    # The tobacco bureau takes the last decision in the browser: the licence follows it.
    sign_in(page, base, "sn-tobacco")
    tobacco = tasks["tobacco-retail-licence"]
    page.goto(f"{base}/inbox/tasks/{tobacco.id}")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("#task-state")).to_contain_text("已受理")
    page.get_by_label("证照编号").fill("370202201234")
    page.get_by_role("button", name="准予许可").click()
    expect(page.locator("#task-state")).to_contain_text("370202201234")
    with Session(app.extensions["onething.engine"]) as session:
        licence = session.exec(select(IndustryLicence)).one()
    verify = f"{base}/licences/{licence.token}"
    # The QR code printed on the licence encodes exactly the verification page's address.
    anonymous = phone(browser)
    printed = anonymous.request.get(f"{verify}/qr.svg").text()
    expected = segno.make(f"{base}/licences/{licence.token}", error="m").svg_inline(
        scale=4, border=2)
    assert re.search(r'd="([^"]+)"', printed).group(1) == \
        re.search(r'd="([^"]+)"', expected).group(1)
    anonymous.goto(verify)
    expect(anonymous.locator("#licence")).to_have_attribute("data-state", "valid")
    # The business licence, the food licence and the tobacco licence.
    expect(anonymous.locator("#permits li")).to_have_count(3)
    anonymous.screenshot(path="/tmp/licence-valid.png", full_page=True)

    # The tobacco bureau revokes its permit, with a reason.
    page.goto(f"{base}/inbox/tasks/{tobacco.id}")
    page.locator("#revoke textarea").fill("距中小学校不足50米，依法撤销")
    page.locator("#revoke input[name=confirm]").check()
    page.locator("#revoke button").click()
    expect(page.locator("#permit-revoked")).to_contain_text("依法撤销")
    anonymous.reload()
    expect(anonymous.locator("#licence")).to_have_attribute("data-state", "partly_revoked")
    revoked = anonymous.locator('#permits li[data-matter="tobacco-retail-licence"]')
    expect(revoked).to_have_attribute("data-revoked", "yes")
    anonymous.screenshot(path="/tmp/licence-revoked.png", full_page=True)


def test_one_joint_inspection_scheduled_and_recorded_by_two_departments(live_app, page: Page,
                                                                         browser: Browser):
    base, app = live_app
    number, tasks = _case(app)
    sign_in(page, base, "sn-approval")
    page.goto(f"{base}/inbox/cases/{number}")
    page.locator("#inspection-when").fill("2099-03-02T09:30")
    page.locator("#inspection-place").fill("青岛市市南区香港中路8号 门店")
    page.locator("#schedule-inspection button").click()
    expect(page.locator("#inspection-appointment")).to_contain_text("香港中路8号")
    for department, matter, outcome, notes in (
            ("sn-amr", "food-business-licence", "pass", "冷藏柜温度记录齐全"),
            ("sn-tobacco", "tobacco-retail-licence", "fail", "距小学不足50米")):
        inspector = phone(browser)
        sign_in(inspector, base, department)
        inspector.goto(f"{base}/inbox/tasks/{tasks[matter].id}")
        inspector.locator(f'#record-findings input[value="{outcome}"]').check()
        inspector.locator("#record-findings textarea").fill(notes)
        inspector.locator("#record-findings button").click()
        expect(inspector.locator("#own-findings")).to_contain_text(notes)
        if department == "sn-amr":
            inspector.screenshot(path="/tmp/inspection-findings.png", full_page=True)
    page.reload()
    expect(page.locator('#inspection-findings li[data-department="sn-amr"]')).to_contain_text(
        "冷藏柜温度记录齐全")
    expect(page.locator('#inspection-findings li[data-department="sn-tobacco"]')).to_contain_text(
        "距小学不足50米")
    expect(page.locator("#schedule-inspection")).to_have_count(0)
    page.screenshot(path="/tmp/inspection-lead.png", full_page=True)
