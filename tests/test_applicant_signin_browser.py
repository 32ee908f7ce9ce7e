"""An applicant on a phone signs in through the identity platform (统一身份认证), starts a
draft, signs out, and finds it again on another device in 我的办件."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from oidc_provider import Running
from test_browser import finish, reveal

from conftest import served

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3,
         "is_mobile": True, "has_touch": True, "locale": "en-US"}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone set to English: the pages still answer in zh-Hans, the stated default."""
    return {**browser_context_args, **PHONE}


@pytest.fixture
def signin_server(tmp_path):
    """The web app with applicants' sign-in against a provider in this process."""
    from onething.web.app import create_app

    idp = Running()
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 't.db'}",
                      **idp.config()}, instance_path=tmp_path / "instance")
    with served(app) as url:
        yield url
    idp.stop()


def test_sign_in_start_a_draft_and_find_it_on_another_device(
        signin_server, page: Page, browser, browser_context_args, tmp_path):
    page.goto(signin_server + "/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")  # an en-US phone
    page.locator('nav.applicant a[href^="/applicant/signin"]').click()
    # Back where the applicant was, signed in.
    expect(page.locator("nav.applicant .who")).to_contain_text("张三")
    assert page.url == signin_server + "/"

    page.goto(signin_server + "/b/newborn?household_follows=mother&parents_married=true"
              "&need_bank_card_function=false")
    page.locator("form button.primary[type=submit]").last.click()
    page.wait_for_url("**/form")
    draft = page.url.split("/d/")[1].split("/")[0]
    name = page.locator("#f-applicant_name")
    expect(name).to_have_value("张三")
    expect(name).to_have_attribute("readonly", "")
    expect(page.locator("#f-applicant_id_number")).to_have_value("110101199003071233")
    expect(page.locator("#f-applicant_id_number")).to_have_attribute("readonly", "")
    expect(page.locator("#f-applicant_mobile")).to_have_attribute("readonly", "")
    expect(page.locator("#f-applicant_name-verified")).to_be_visible()
    reveal(page, "child_name")  # on a phone the form is one part at a time
    page.locator("#f-child_name").fill("张小宝")
    page.locator("#f-child_name").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "verified-form.png"))
    finish(page)
    page.wait_for_load_state()

    page.locator('nav.applicant button[type=submit]').click()
    page.wait_for_url(signin_server + "/")
    expect(page.locator('nav.applicant a[href^="/applicant/signin"]')).to_be_visible()

    other = browser.new_context(**browser_context_args)  # another phone: its own cookies
    try:
        elsewhere = other.new_page()
        elsewhere.goto(signin_server + "/applicant/signin")
        elsewhere.wait_for_url("**/applicant/cases")
        card = elsewhere.locator(f'[data-draft="{draft}"]')
        expect(card).to_be_visible()
        elsewhere.screenshot(path=str(tmp_path / "my-cases.png"), full_page=True)
        card.locator("a").click()
        elsewhere.wait_for_url(f"**/d/{draft}/form")
        expect(elsewhere.locator("#f-child_name")).to_have_value("张小宝")
        expect(elsewhere.locator("#f-applicant_name")).to_have_attribute("readonly", "")
    finally:
        other.close()
