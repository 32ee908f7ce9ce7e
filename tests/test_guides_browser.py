"""Guides, the manual and the poster in a real browser: live updates, printing, accessibility."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from onething.publishing.check import load_catalog
from onething.publishing.versions import publish_catalog

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
PHONE = {"viewport": {"width": 360, "height": 780}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A small phone (360 CSS pixels wide), Chinese (mainland) as the browser's language."""
    return {**browser_context_args, **PHONE}


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core (vendored, no network) on the page; the serious and critical violations."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def pdf_pages(pdf: bytes) -> int:
    """The page count of a PDF that chromium printed (its page tree's /Count)."""
    return max(int(n) for n in re.findall(rb"/Count (\d+)", pdf))


# --- live updates ----------------------------------------------------------------------------


@pytest.mark.browser
def test_open_guides_show_a_new_version_within_5_seconds(live_app, browser: Browser, demo_root):
    base, app = live_app
    phones = [browser.new_context(**PHONE) for _ in range(2)]
    try:
        pages = [context.new_page() for context in phones]
        polls: list = []
        pages[1].on("response", lambda r: polls.append(r) if r.url.endswith("/live") else None)
        for page in pages:
            page.goto(f"{base}/g/open-restaurant")
            page.evaluate("window.notReloaded = true")
            expect(page.locator("h1")).to_have_text("开办餐饮店")
        # One phone has started answering: the refresh keeps what it chose.
        pages[0].locator('input[name="sells_tobacco"][value="true"]').check()
        expect(pages[0].locator("#guide-panel")).to_contain_text("烟草专卖零售许可证申请表")

        # Idle: the polls are 304s without a body, and nothing on the page changes.
        pages[1].wait_for_timeout(2500)
        assert polls and all(r.status == 304 for r in polls)
        assert all(r.request.sizes()["responseBodySize"] == 0 for r in polls)
        assert pages[1].locator("#guide-live").count() == 1

        path = demo_root / "catalog" / "bundles" / "open-restaurant.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["name"]["zh-Hans"] = "开办餐饮店（2026年版）"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        with Session(app.extensions["onething.engine"]) as session:
            publish_catalog(session, load_catalog(demo_root), published_by="tester")
        published = time.monotonic()

        for page in pages:
            expect(page.locator("h1")).to_have_text("开办餐饮店（2026年版）", timeout=5000)
        assert time.monotonic() - published < 5
        for page in pages:
            assert page.evaluate("window.notReloaded") is True  # swapped in place
            expect(page.locator("#guide-updated")).to_contain_text("第 2 版")
        expect(pages[0].locator('input[name="sells_tobacco"][value="true"]')).to_be_checked()
        # The poll now holds the new version and goes quiet again.
        polls.clear()
        pages[1].wait_for_timeout(2500)
        assert polls and all(r.status == 304 for r in polls)
        expect(pages[1].locator("h1")).to_have_count(1)
    finally:
        for context in phones:
            context.close()


# --- scenario questions and search, with htmx ----------------------------------------------


@pytest.mark.browser
def test_answers_narrow_the_guide_in_place(live_server, page: Page):
    page.goto(f"{live_server}/g/open-restaurant")
    page.evaluate("window.notReloaded = true")
    panel = page.locator("#guide-panel")
    expect(panel).to_contain_text("烟草专卖零售许可证申请表")
    for key, value in {"has_business_licence": "true", "public_gathering_place": "false",
                       "outdoor_signboard": "false", "sells_tobacco": "false"}.items():
        page.locator(f'input[name="{key}"][value="{value}"]').check()
    expect(panel).not_to_contain_text("烟草专卖零售许可证申请表")
    expect(panel).to_contain_text("仅显示与您的情形相符的材料")
    expect(panel.locator("svg.flow")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    # The diagram fits the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


@pytest.mark.browser
def test_the_manual_searches_as_people_type(live_server, page: Page):
    page.goto(f"{live_server}/manual")
    page.evaluate("window.notReloaded = true")
    page.get_by_label("您想办什么事？").fill("孩子出生要办什么")
    first = page.locator("#search-results .results li").first
    expect(first).to_contain_text("新生儿出生一件事")
    assert page.evaluate("window.notReloaded") is True
    first.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/g/newborn$"))
    expect(page.locator("h1")).to_have_text("新生儿出生一件事")


# --- the poster ------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize(("code", "lang"), [
    ("open-restaurant", "zh-Hans"),
    ("newborn", "zh-Hant"),
    ("renovation-approval", "en"),  # the longest materials list, in the longest language
])
def test_the_poster_prints_on_one_a4_page(live_server, page: Page, code, lang):
    page.goto(f"{live_server}/g/{code}/poster?lang={lang}")
    expect(page.locator("img[src$='/qr.svg']")).to_be_visible()
    assert page.evaluate("document.querySelector(\"img[src$='/qr.svg']\").naturalWidth") > 0
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF-")
    assert pdf_pages(pdf) == 1


# --- accessibility -----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.parametrize("path", [
    "/g/open-restaurant",
    "/g/open-restaurant?lang=en",
    "/g/fire-safety-check?lang=zh-Hant",
    "/manual",
    "/manual?q=我想开个饭店",
    "/g/open-restaurant/poster",
    "/g/renovation-approval/poster?lang=en",
    "/g/no-such-thing",
])
def test_no_serious_accessibility_violations(live_server, page: Page, path):
    page.goto(f"{live_server}{path}")
    assert axe_violations(page) == []


@pytest.mark.browser
def test_no_serious_accessibility_violations_after_answering(live_server, page: Page):
    page.goto(f"{live_server}/g/newborn")
    page.locator("#guide-questions input").first.check()
    expect(page.locator("#guide-panel")).to_contain_text("目前的结果")
    assert axe_violations(page) == []


@pytest.mark.browser
def test_the_accessibility_check_catches_a_planted_violation(page: Page):
    # Proves the harness: axe runs offline and reports what it should.
    page.set_content('<!doctype html><html lang="en"><title>t</title>'
                     '<main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></html>')
    assert [v["id"] for v in axe_violations(page)] == ["image-alt"]
