"""After the form, in a real browser on a phone (390×844): the commitment letter signed
instead of an upload, the review, the receipt's query code and copy button, the resume link
after submission; axe finds no serious problem on review, receipt and status."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from test_browser import fill, start_draft
from test_guides_browser import axe_violations
from test_web import FORM, PDF

# Screenshots to look at, outside the repository.
SHOTS = Path(tempfile.gettempdir()) / "onething-shots"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 390×844 CSS pixels, touch, Chinese (mainland) as the browser's language."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"receipt-{name}.png"), full_page=True)


@pytest.mark.browser
def test_sign_instead_of_upload_then_the_receipt_and_the_resume_link(
        live_server, page: Page, browser, browser_context_args):
    draft_url = start_draft(page, live_server)
    resume = page.locator("details.resume input.link").input_value()
    fill(page, FORM)
    page.get_by_role("button", name="保存并继续").click()
    page.wait_for_url(re.compile(r"/materials$"))
    # The fire check's commitment letter asks for no upload: it is signed online.
    fire = page.locator("#material-fire-commitment-letter")
    expect(fire.locator('a[href="#commitment"]')).to_be_visible()
    expect(fire.locator('input[type="file"]')).to_be_hidden()
    ids = [m.get_attribute("id")
           for m in page.locator("li.material:has(> form input[type=file])").all()]
    for item_id in ids:
        item = page.locator(f"#{item_id}")
        item.locator('input[name="file"]').set_input_files(
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": PDF})
        item.locator('button[name="action"][value="upload"]').click()
        expect(page.locator(f"#{item_id} .done")).to_be_visible()
    letter = page.locator("#commitment")
    expect(letter.locator("#letter-text")).to_contain_text("消防")
    # Without the confirmation: refused next to the letter, the name typed is kept.
    letter.locator('input[name="signer"]').fill("王海风")
    letter.locator('button[value="sign"]').click()
    expect(page.locator("#letter-problem")).to_be_visible()
    expect(page.locator('#commitment input[name="signer"]')).to_have_value("王海风")
    page.locator('#commitment input[name="confirm"]').check()
    page.locator('#commitment button[value="sign"]').click()
    expect(page.locator("#letter-signed")).to_contain_text("王海风")
    shot(page, "materials")

    page.goto(f"{draft_url}/review")
    expect(page.locator('#material-states li[data-state="commitment"]')).to_contain_text("王海风")
    assert axe_violations(page) == []
    shot(page, "review")
    page.locator('form[action$="/submit"] button').click()
    page.wait_for_url(re.compile(r"/s/OT"))
    receipt_url = page.url

    code = page.locator("#query-code")
    expect(code).to_be_visible()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"],
                                   origin=live_server)
    page.locator('button[data-copy="#query-code"]').click()
    expect(page.locator(".copied")).not_to_be_empty()
    assert page.evaluate("navigator.clipboard.readText()") == code.inner_text()
    expect(page.locator("#next-steps li")).to_have_count(5)
    assert axe_violations(page) == []
    shot(page, "receipt")
    page.emulate_media(media="print")
    expect(page.locator(".share-buttons")).to_be_hidden()
    expect(code).to_be_visible()
    shot(page, "receipt-print")

    # Another phone with only the draft's resume link lands on the case's status.
    other = browser.new_context(**browser_context_args)
    phone = other.new_page()
    phone.goto(resume)
    assert phone.url.split("?")[0] == receipt_url.split("?")[0]
    expect(phone.locator(".tracking strong")).to_have_text(
        re.compile(receipt_url.rsplit("/", 1)[1].split("?")[0]))
    assert axe_violations(phone) == []
    other.close()


def test_without_javascript_the_receipt_shows_no_button_that_cannot_work(
        live_app, browser, browser_context_args):
    from test_web import submitted_case

    base, app = live_app
    client = app.test_client()
    status = client.get(submitted_case(client)).text
    link = re.search(r'id="status-link"[^>]*>([^<]+)<', status).group(1).strip()
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    page = context.new_page()
    page.goto(base + link[link.index("/s/"):])
    expect(page.locator("#query-code")).to_be_visible()
    for button in ("[data-copy]", "[data-share]", "[data-print]"):
        expect(page.locator(button).first).to_be_hidden()
    context.close()
