"""Rules in a real browser at 390×844: a 秒批 verification approved as it is submitted, the
pre-check keeping a blocking failure on the form, and a 免申即享 offer confirmed in one click."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from onething.cases import benefits
from onething.catalog.workdays import china_today
from onething.publishing.versions import bundle_of, latest_version
from onething.registry import service

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 390×844 CSS pixels, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


@pytest.fixture
def hall(live_app):
    base, app = live_app
    with Session(app.extensions["onething.engine"]) as session:
        service.seed_demo(session, china_today())
    return base, app


def _start(page: Page, base: str, code: str) -> None:
    page.goto(f"{base}/b/{code}")
    page.get_by_role("button", name="开始申请").click()
    page.wait_for_url(re.compile(r"/d/[^/]+/form$"))


def test_an_instantly_approvable_verification_is_approved_as_it_is_submitted(
        page: Page, hall, tmp_path):
    base, _app = hall
    _start(page, base, "business-licence-verification")
    page.locator('[name="entity_uscc"]').fill(service.DEMO_ENTERPRISE)
    page.locator('button[name="_prefill"][value="registry"]').click()
    expect(page.locator("#f-entity_name")).to_have_value("青岛海韵餐饮管理有限公司")
    page.locator('[name="legal_representative.id_number"]').fill(service.DEMO_PERSON)
    page.locator('[name="legal_representative.mobile"]').fill("13805320000")
    page.get_by_role("button", name="保存并继续").last.click()
    page.wait_for_url(re.compile(r"/materials$"))
    page.get_by_role("link", name="继续核对").click()
    expect(page.locator("#precheck")).to_have_count(0)  # every rule passes
    page.get_by_role("button", name="一次提交至所有部门").click()
    page.wait_for_url(re.compile(r"/s/OT"))
    page.goto(page.url)  # the status page, as the applicant opens it again
    expect(page.locator("main")).to_contain_text(f"核验{china_today().year}370202000001")
    page.screenshot(path=str(tmp_path / "instant.png"), full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_the_pre_check_keeps_a_blocking_failure_on_the_form(page: Page, hall, tmp_path):
    base, _app = hall
    _start(page, base, "elderly-allowance")
    page.locator('[name="applicant_name"]').fill("王海燕")
    page.locator('[name="applicant_id_number"]').fill(service.DEMO_PERSON)
    page.get_by_role("button", name="保存并继续").last.click()
    finding = page.locator('#precheck [data-rule="aged-80"]')
    expect(finding).to_have_attribute("data-kind", "blocking")
    expect(finding).to_contain_text("尚未年满80周岁")
    page.locator("#precheck").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "precheck.png"), full_page=False)
    finding.get_by_role("link").click()
    expect(page.locator('[name="applicant_id_number"]')).to_have_value(service.DEMO_PERSON)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_a_benefit_offer_is_confirmed_in_one_click(page: Page, hall, tmp_path):
    base, app = hall
    with Session(app.extensions["onething.engine"]) as session:
        matter = bundle_of(latest_version(session, "elderly-allowance")).catalog.matters[
            "elderly-allowance"]
        created, _, _ = benefits.run(session, matter, actor="test")
        token = benefits.link_token(created[0], app.config["SECRET_KEY"])
        name = created[0].holder_name
    page.goto(f"{base}/benefits/{token}")
    expect(page.locator("main")).to_contain_text(name)
    page.screenshot(path=str(tmp_path / "offer.png"), full_page=False)
    page.locator("#confirm-offer").click()
    page.wait_for_url(re.compile(r"/s/OT"))
    page.goto(page.url)
    expect(page.locator("main")).to_contain_text(f"高龄津贴{china_today().year}370202")
    page.screenshot(path=str(tmp_path / "confirmed.png"), full_page=False)
    page.goto(f"{base}/benefits/{token}")
    expect(page.locator("#offer-answer")).to_have_attribute("data-status", "confirmed")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
