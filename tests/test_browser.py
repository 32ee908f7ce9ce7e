"""The applicants' pages in a real browser (Debian's chromium on a phone viewport), with htmx."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from test_web import ANSWERS, FORM, PDF

TRACKING = re.compile(r"OT\d{8}-[0-9A-Z]{6}")
TOBACCO = "烟草专卖零售许可证核发"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 390×844 CSS pixels at 3×, touch, Chinese (mainland) as the browser's language."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 3, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


# --- helpers ----------------------------------------------------------------------------------


def field(page: Page, name: str):
    return page.locator(f'[name="{name}"]')


def answer(page: Page, key: str, value: str) -> None:
    page.locator(f'input[name="{key}"][value="{value}"]').check()


def start_draft(page: Page, base: str) -> str:
    """Answer the restaurant questions and start: the draft's URL (…/d/<id>)."""
    page.goto(f"{base}/b/open-restaurant")
    for key, value in ANSWERS.items():
        answer(page, key, value)
    page.get_by_role("button", name="开始申请").click()
    page.wait_for_url(re.compile(r"/d/[^/]+/form$"))
    return page.url.removesuffix("/form")


def kind_of(page: Page, name: str) -> str:
    """'select', 'textarea', or the input's type ('text', 'radio', 'checkbox', …)."""
    return field(page, name).first.evaluate(
        "e => e.tagName === 'INPUT' ? e.type : e.tagName.toLowerCase()")


def reveal(page: Page, name: str) -> None:
    """On a phone the form shows one part at a time: go to the part that holds a field."""
    box = field(page, name).first
    if not box.is_visible():
        section = box.evaluate("e => e.closest('.form-section').id")
        page.locator(f'.form-steps a[href="#{section}"]').click()
        expect(box).to_be_visible()


def finish(page: Page) -> None:
    """Go to the form's last part and press its one submit button."""
    page.locator(".form-steps li:last-child a").click()
    page.get_by_role("button", name="保存并继续").click()


def fill(page: Page, values: dict) -> None:
    """Type, pick and tick each value the way a person would."""
    for name, value in values.items():
        reveal(page, name)
        kind = kind_of(page, name)
        if kind == "select":
            field(page, name).select_option(value)
        elif kind in ("radio", "checkbox"):
            for one in [value] if isinstance(value, str) else value:
                page.locator(f'input[name="{name}"][value="{one}"]').check()
        else:
            box = field(page, name)
            box.fill("")
            box.press_sequentially(value)


def expect_values(page: Page, values: dict) -> None:
    """Every value is still in its input: typed text, the chosen option, the ticked boxes."""
    for name, value in values.items():
        kind = kind_of(page, name)
        if kind in ("radio", "checkbox"):
            for one in [value] if isinstance(value, str) else value:
                expect(page.locator(f'input[name="{name}"][value="{one}"]')).to_be_checked()
        else:
            assert field(page, name).input_value() == value, name


def message(page: Page, name: str):
    return page.locator(f"#msg-{name.replace('.', '-')}")


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.browser
def test_the_restaurant_bundle_end_to_end_on_a_phone(live_server, page: Page):
    page.goto(f"{live_server}/b/open-restaurant")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    page.evaluate("window.notReloaded = true")
    scenario = page.locator("#scenario")
    for key, value in ANSWERS.items():
        if key != "sells_tobacco":
            answer(page, key, value)
    expect(scenario.locator(".hint")).to_be_visible()  # one question left: no time limit yet
    expect(scenario).not_to_contain_text(TOBACCO)
    answer(page, "sells_tobacco", "true")
    expect(scenario.locator(".matters")).to_contain_text(TOBACCO)
    expect(scenario.locator(".facts")).to_contain_text(re.compile(r"承诺时限：\d+ 个工作日"))
    assert page.evaluate("window.notReloaded") is True  # htmx swapped the panel in place

    page.get_by_role("button", name="开始申请").click()
    page.wait_for_url(re.compile(r"/d/[^/]+/form$"))
    fill(page, FORM)
    finish(page)
    page.wait_for_url(re.compile(r"/d/[^/]+/materials$"))

    # Every upload but the fire check's commitment letter, which is signed online below.
    materials = page.locator("li.material:has(> form input[type=file])")
    ids = [m.get_attribute("id") for m in materials.all()]
    assert len(ids) > 5
    for material_id in ids:
        item = page.locator(f"#{material_id}")
        item.locator('input[name="file"]').set_input_files(
            {"name": "a.pdf", "mimeType": "application/pdf", "buffer": PDF})
        item.locator('button[name="action"][value="upload"]').click()
        expect(page.locator(f"#{material_id} .done")).to_have_text("已上传：a.pdf")
    letter = page.locator("#commitment")
    letter.locator('input[name="signer"]').fill("王海风")
    letter.locator('input[name="confirm"]').check()
    letter.locator('button[value="sign"]').click()
    expect(page.locator("#letter-signed")).to_be_visible()

    page.get_by_role("link", name="继续核对").click()
    page.wait_for_url(re.compile(r"/review$"))
    expect(page.locator(".error.summary")).to_have_count(0)
    page.get_by_role("button", name="一次提交至所有部门").click()
    page.wait_for_url(re.compile(r"/s/OT"))
    expect(page.locator(".tracking strong")).to_have_text(TRACKING)
    assert TRACKING.fullmatch(page.url.rsplit("/", 1)[-1].split("?")[0])
    expect(page.locator("table.tasks tbody tr")).to_have_count(5)
    qr = page.locator("img.qr")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())


@pytest.mark.browser
def test_a_failed_validation_keeps_everything_typed(live_server, page: Page):
    start_draft(page, live_server)
    typed = {**FORM, "legal_representative.mobile": "12345", "premises_area": "abc"}
    fill(page, typed)
    finish(page)
    expect(page.locator("#error-summary")).to_be_visible()
    assert page.url.endswith("/form")
    expect(message(page, "legal_representative.mobile").locator(".error").first).to_have_text(
        "请输入11位手机号码，如 13800138000。")
    expect(message(page, "premises_area").locator(".error").first).to_have_text("请输入数字。")
    for name in ("legal_representative.mobile", "premises_area"):
        expect(field(page, name)).to_have_attribute("aria-invalid", "true")
    expect(message(page, "entity_name").locator(".error")).to_have_count(0)
    expect_values(page, typed)


@pytest.mark.browser
def test_a_field_with_two_broken_rules_shows_its_message_once(live_server, page: Page):
    start_draft(page, live_server)
    once = ["请输入11位手机号码，如 13800138000。"]
    errors = message(page, "contact_mobile").locator(".error")
    fill(page, {"contact_mobile": "12345"})
    field(page, "contact_mobile").press("Tab")
    expect(errors.first).to_be_visible()
    on_blur = errors.all_text_contents()
    finish(page)
    expect(page.locator("#error-summary")).to_be_focused()
    # The summary's link goes to the field, in whichever part of the form it is.
    page.locator('#error-summary a[href="#f-contact_mobile"]').click()
    expect(field(page, "contact_mobile")).to_be_focused()
    expect(errors.first).to_be_visible()
    assert (on_blur, errors.all_text_contents()) == (once, once)


@pytest.mark.browser
def test_a_field_shows_its_message_on_blur_without_a_reload(live_server, page: Page):
    start_draft(page, live_server)
    page.evaluate("window.notReloaded = true")
    name = "legal_representative.id_number"
    reveal(page, name)
    box = field(page, name)
    box.click()
    box.press_sequentially("110105194912310021")  # the check digit should be X
    box.press("Tab")
    error = page.locator("#msg-legal_representative-id_number .error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    assert box.input_value() == "110105194912310021"
    # Corrected, the message goes away.
    box.fill("11010519491231002X")
    box.press("Tab")
    expect(error).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True


@pytest.mark.browser
def test_the_division_field_offers_places_by_name(live_server, page: Page):
    start_draft(page, live_server)
    name = "premises_address.division_code"
    reveal(page, name)
    box = field(page, name)
    box.click()
    box.press_sequentially("市南")
    options = page.locator("#f-premises_address-division_code-divisions option")
    expect(options.first).to_have_attribute("value", "370202")
    expect(options.first).to_have_text("山东省青岛市市南区")
    # Picked (the browser fills in the code), the check names the place under the field.
    box.fill("370202")
    box.press("Tab")
    expect(page.locator("#msg-premises_address-division_code .note")).to_have_text(
        "山东省青岛市市南区")


@pytest.mark.browser
def test_a_resume_link_restores_the_draft_in_another_browser(
        live_server, page: Page, browser, browser_context_args):
    draft_url = start_draft(page, live_server)
    part = {"entity_name": "青岛海风餐饮有限公司", "legal_representative.name": "王海风",
            "matters.outdoor-signboard.signboard_text": "海风小馆", "premises_area": "120",
            "matters.fire-safety-check.place_type": "restaurant"}
    fill(page, part)
    finish(page)  # saved, though not complete
    expect(page.locator("#error-summary")).to_be_visible()
    link = page.locator("input.link").input_value()
    assert link.startswith(f"{draft_url}/form?token=")

    other = browser.new_context(**browser_context_args)  # its own cookie jar
    try:
        elsewhere = other.new_page()
        response = elsewhere.goto(f"{draft_url}/form")  # no token, no cookie: nothing shown
        assert response.status == 404
        expect(elsewhere.locator(".error.page")).to_be_visible()
        expect(elsewhere.locator("body")).not_to_contain_text("海风小馆")
        response = elsewhere.goto(link)
        assert response.status == 200
        expect_values(elsewhere, part)
    finally:
        other.close()


def test_shareholders_are_added_row_by_row_and_kept(page: Page, live_server: str):
    start_draft(page, live_server)
    fill(page, {"entity_name": FORM["entity_name"], "shareholders.0.name": "王海风"})
    page.get_by_role("button", name="添加一行").click()
    second = field(page, "shareholders.1.name")
    expect(second).to_be_visible()
    expect(field(page, "shareholders.0.name")).to_have_value("王海风")
    expect(field(page, "entity_name")).to_have_value(FORM["entity_name"])
    second.fill("赵安")
    page.get_by_role("button", name="删除第 1 行").click()
    expect(field(page, "shareholders.0.name")).to_have_value("赵安")
    expect(field(page, "shareholders.1.name")).to_have_count(0)


def test_back_to_a_refused_submit_opens_the_review_page_not_a_resubmission(
        live_server, page: Page):
    draft = start_draft(page, live_server)
    page.goto(f"{draft}/review")
    page.locator('form[action$="/submit"] button').click()
    summary = page.locator(".error.summary")
    expect(summary).to_be_visible()
    page.wait_for_url(f"{draft}/review")
    summary.locator('a[href*="/materials"]').first.click()
    page.wait_for_url(re.compile(r"/materials"))
    page.go_back()
    # Not the browser's "confirm form resubmission" page: the review, opened afresh.
    page.wait_for_url(f"{draft}/review")
    expect(page.locator('form[action$="/submit"] button')).to_be_visible()
    # The refused post's own address, opened again (a restored tab), goes there too.
    page.goto(f"{draft}/submit")
    page.wait_for_url(f"{draft}/review")
    expect(page.locator('form[action$="/submit"] button')).to_be_visible()


def test_a_question_is_asked_only_once_an_answer_makes_it_needed(live_server, page: Page):
    page.goto(f"{live_server}/b/open-restaurant")
    route = page.locator("#f-fire_route-field")
    # How to handle the fire check is asked of a public gathering place only.
    expect(route).to_be_hidden()
    answer(page, "public_gathering_place", "true")
    expect(route).to_be_visible()
    answer(page, "fire_route", "commitment")
    answer(page, "public_gathering_place", "false")
    expect(route).to_be_hidden()
    # Without JavaScript every question is on the page (nothing can show it later).
    html = page.request.get(f"{live_server}/b/open-restaurant").text()
    assert "hidden" not in re.search(r'<div [^>]*id="f-fire_route-field"[^>]*>', html).group(0)
