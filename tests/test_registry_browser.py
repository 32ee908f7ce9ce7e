"""Shared data in a real browser at 390×844: an existing enterprise's restaurant with its
licence fetched and the prefill share printed, and an expired licence asking for an upload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from onething.catalog.workdays import china_today
from onething.registry import service
from test_browser import fill
from test_registry import EXISTING, TYPED, _share


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 390×844 CSS pixels, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 3, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def _start(page: Page, base: str) -> str:
    page.goto(f"{base}/b/open-restaurant")
    for key, value in EXISTING.items():
        page.locator(f'input[name="{key}"][value="{value}"]').check()
    page.get_by_role("button", name="开始申请").click()
    page.wait_for_url(re.compile(r"/d/[^/]+/form$"))
    return page.url.removesuffix("/form")


def test_an_existing_enterprise_fetches_its_licence_and_an_expired_one_asks_for_an_upload(
        page: Page, live_app, tmp_path):
    base, app = live_app
    with Session(app.extensions["onething.engine"]) as session:
        service.seed_demo(session, china_today())
    draft = _start(page, base)
    page.locator('[name="entity_uscc"]').fill(service.DEMO_ENTERPRISE)
    page.locator('button[name="_prefill"][value="registry"]').click()
    expect(page.locator("#prefill-notice")).to_have_attribute("data-notice", "registry_filled")
    expect(page.locator("#f-entity_name")).to_have_value("青岛海韵餐饮管理有限公司")
    expect(page.locator("#f-entity_name")).to_have_attribute("readonly", "")
    page.locator("#f-entity_name-field").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "prefilled.png"), full_page=False)
    fill(page, {key: value for key, value in TYPED.items()})
    page.get_by_role("button", name="保存并继续").click()
    page.wait_for_url(re.compile(r"/materials$"))
    licence = page.locator("#licence-business-licence")
    expect(licence).to_have_attribute("data-trust", "A")
    expect(licence).to_contain_text("370202000123456")
    page.screenshot(path=str(tmp_path / "materials.png"), full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    done, total, share, _left = _share(app, draft)
    print(f"\nprefill share in the browser, registry only: {done}/{total} = {share:.0%}")
    assert done >= 8  # 4 fields; the licence, ID card, title and assessment fetched

    # A snack bar whose licence expired: told so, and asked to upload it.
    _start(page, base)
    page.locator('[name="entity_uscc"]').fill(service.DEMO_EXPIRED)
    page.locator('button[name="_prefill"][value="registry"]').click()
    expect(page.locator("#prefill-notice")).to_have_attribute("data-notice", "registry_missing")
    page.goto(page.url.removesuffix("/form") + "/materials")
    expired = page.locator("#licence-business-licence")
    expect(expired).to_have_attribute("data-state", "expired")
    expect(expired).to_contain_text(service.DEMO_EXPIRED)
    expect(page.locator("#material-business-licence input[type=file]")).to_be_visible()
    page.screenshot(path=str(tmp_path / "expired.png"), full_page=False)
