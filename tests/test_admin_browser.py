"""The administrators' console in a real browser (Debian's chromium, a desktop), with htmx."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from onething.storage.models import BundleVersion
from test_admin import PASSWORD, add_account, add_conflicting_matter

# Every test here drives chromium: `-m browser` selects them with the others.
pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """An administrator's desk: a wide screen, Chinese (mainland) as the browser's language."""
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000},
            "locale": "zh-CN"}


@pytest.fixture
def console(live_app, page: Page):
    """A signed-in administrator in the browser; yields (base URL, app, page)."""
    base, app = live_app
    add_account(app, "admin", "administrator")
    page.goto(f"{base}/admin/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).to_have_url(f"{base}/admin/")
    # The URL changes before the page's scripts run: htmx must be listening before a test
    # types into a search it drives (a loaded CI machine typed first, and nothing was sent).
    page.wait_for_load_state()
    return base, app, page


def versions(app, code: str) -> list[int]:
    with Session(app.extensions["onething.engine"]) as session:
        return sorted(v.number for v in session.exec(
            select(BundleVersion).where(BundleVersion.bundle_code == code)).all())


def figure(page: Page, name: str) -> tuple[str, str]:
    cells = page.locator(f'#savings tr[data-figure="{name}"] td')
    return cells.nth(0).inner_text(), cells.nth(1).inner_text()


def add_matter(page: Page, query: str, name: str) -> None:
    page.get_by_label("添加事项（中文、拼音或首字母）").fill(query)
    page.get_by_role("button", name=f"添加 {name}").click()


def new_convenience_store(page: Page, base: str) -> None:
    page.get_by_role("link", name="新建一件事").click()
    # htmx is a deferred script: typed before it listens, the search is never asked.
    page.wait_for_load_state()
    page.get_by_label("名称（简体中文）").fill("开办便利店")
    page.get_by_label("名称（英文）").fill("Opening a convenience store")
    page.get_by_label("编码").fill("open-convenience-store")
    first = page.get_by_label("第一个事项（其部门为牵头部门）")
    # Typed as initials, the matter is offered by name; the form takes its code.
    # Wait for the search's own answer: the first one in a process builds the pinyin
    # index, slow on a loaded machine.
    with page.expect_response(lambda response: "sczt" in response.url):
        first.fill("sczt")
    expect(page.locator('#matter-options option[value="business-registration"]')).to_have_text(
        re.compile("市场主体设立登记"))
    first.fill("business-registration")
    page.get_by_role("button", name="创建并编辑").click()
    expect(page).to_have_url(f"{base}/admin/bundles/open-convenience-store")


def test_an_administrator_builds_a_convenience_store_bundle_and_applicants_open_it(console):
    base, app, page = console
    # The unfiltered list holds the restaurant too: wait for the search's own answer (the
    # first search in a process builds the pinyin index, slow on a loaded machine), then
    # look at what it swapped in.
    with page.expect_response(lambda response: "kbcyd" in response.url):
        page.get_by_label("搜索（中文、拼音或首字母）").fill("kbcyd")
    expect(page.locator("#bundle-list")).to_contain_text("开办餐饮店")
    expect(page.locator("#bundle-list")).not_to_contain_text("新生儿出生一件事")

    new_convenience_store(page, base)
    assert figure(page, "forms") == ("1", "1")
    # A marker on window survives only if the page is never reloaded: the preview is htmx.
    page.evaluate("window.stillHere = true")
    # (Not the food licence: it needs the credit code the registration yields, so it must
    # first wait for it — tests/test_admin.py walks that.)
    add_matter(page, "huwai", "户外招牌设施设置审核")
    expect(page.locator('#savings tr[data-figure="forms"] td').first).to_have_text("2")
    expect(page.locator("#form-preview")).to_contain_text("招牌")
    add_matter(page, "yancao", "烟草专卖零售许可证核发")
    expect(page.locator('#savings tr[data-figure="forms"] td').first).to_have_text("3")
    before, after = figure(page, "days")
    assert int(after) < int(before)
    expect(page.locator("#slices")).to_contain_text("烟草")

    page.get_by_label("键名").fill("sells_tobacco")
    page.get_by_label("问题（简体中文）").fill("是否销售烟草制品？")
    page.get_by_role("button", name="添加问题").click()
    expect(page.locator(".questions")).to_contain_text("是否销售烟草制品？")
    # One item's condition picker opens at a time: a yes/no question is radio buttons;
    # setting it saves it and closes it.
    page.get_by_label("更改适用情形：tobacco-retail-licence").click()
    row = page.locator('tr[data-item="tobacco-retail-licence"]')
    row.locator('fieldset[data-question="sells_tobacco"]').get_by_label("是", exact=True).check()
    row.locator('button[type="submit"]').first.click()
    expect(row).to_contain_text("是否销售烟草制品？ = 是")
    expect(row.locator('input[name="when.sells_tobacco"]')).to_have_count(0)

    page.get_by_role("button", name="检查并发布").click()
    expect(page.locator("#editor-message")).to_contain_text("open-convenience-store v1")
    assert page.evaluate("window.stillHere") is True
    assert versions(app, "open-convenience-store") == [1]

    applicant = page.context.new_page()
    applicant.goto(f"{base}/b/open-convenience-store")
    expect(applicant.get_by_role("heading", level=1)).to_have_text("开办便利店")
    expect(applicant.locator("body")).to_contain_text("是否销售烟草制品？")
    applicant.locator('input[name="sells_tobacco"][value="true"]').check()
    applicant.get_by_role("button", name="开始申请").click()
    applicant.wait_for_url(re.compile(r"/d/[^/]+/form$"))
    # The one form of the new bundle: the shared fields once, the tobacco licence's own too.
    expect(applicant.locator('[name="entity_name"]')).to_have_count(1)
    expect(applicant.locator('[name^="matters.tobacco-retail-licence."]').first).to_be_visible()


def test_a_conflicting_matter_shows_inline_and_the_publish_is_refused(console):
    base, app, page = console
    add_conflicting_matter(app)
    new_convenience_store(page, base)
    add_matter(page, "bianhao", "编号招牌设置")
    conflict = page.locator("#conflict")
    expect(conflict).to_be_visible()
    expect(conflict).to_contain_text("entity_name")
    expect(conflict.get_by_role("link", name="编号招牌设置")).to_have_attribute(
        "href", "/admin/matters/numbered-signboard")
    page.get_by_role("button", name="检查并发布").click()
    expect(page.locator("#publish-problems")).to_contain_text("numbered-signboard")
    expect(page.locator("#editor-message")).to_contain_text("未发布")
    assert versions(app, "open-convenience-store") == []


def test_a_diff_between_two_versions_shows_the_change(console):
    base, app, page = console
    page.goto(f"{base}/admin/bundles/open-restaurant")
    page.get_by_label("键名").fill("has_terrace")
    page.get_by_label("问题（简体中文）").fill("是否设置露天座位？")
    page.get_by_role("button", name="添加问题").click()
    expect(page.locator(".questions")).to_contain_text("是否设置露天座位？")
    page.get_by_role("button", name="检查并发布").click()
    expect(page.locator("#editor-message")).to_contain_text("open-restaurant v2")
    assert versions(app, "open-restaurant") == [1, 2]
    page.get_by_role("link", name=re.compile("版本历史")).click()
    page.get_by_label("比较").select_option("1")
    page.get_by_label("与").select_option("2")
    page.get_by_role("button", name="查看变化").click()
    diff = page.locator("#diff")
    expect(diff).to_contain_text("v1 → v2")
    expect(diff).to_contain_text("has_terrace")
    expect(diff).to_contain_text("是否设置露天座位？")
    # The diff is a page of its own: htmx listening before its confirm dialog is used
    # (a click before that is the form's own GET, the confirmation page without script).
    page.wait_for_load_state()
    # Rolling back asks first: dismissed, nothing is published; accepted, v1 is published
    # again as v3 and the history shows it.
    again = page.locator("table.versions").get_by_role("button", name="重新发布此版本")
    page.once("dialog", lambda dialog: dialog.dismiss())
    again.click()
    expect(page.locator("table.versions tbody tr")).to_have_count(2)
    assert versions(app, "open-restaurant") == [1, 2]
    page.once("dialog", lambda dialog: dialog.accept())
    again.click()
    expect(page.locator("table.versions tbody tr")).to_have_count(3)
    assert versions(app, "open-restaurant") == [1, 2, 3]


def test_a_search_typed_the_moment_an_edit_is_swapped_in_is_not_lost(console):
    """The matter search answers input given right after the editor is replaced."""
    base, _app, page = console
    new_convenience_store(page, base)
    # As soon as the editor's new content is in the document, type into its new search box
    # in the browser's next task: no later than a person or a test could.
    page.evaluate("""() => {
        const editor = document.getElementById("bundle-editor");
        new MutationObserver((changes, observer) => {
            const search = document.getElementById("matter-search");
            if (!search) return;
            observer.disconnect();
            setTimeout(() => {
                search.value = "yancao";
                search.dispatchEvent(new Event("input", {bubbles: true}));
            }, 0);
        }).observe(editor, {childList: true});
    }""")
    add_matter(page, "spjy", "食品经营许可证核发")
    expect(page.get_by_role("button", name="添加 烟草专卖零售许可证核发")).to_be_visible()


def test_a_questions_help_and_a_condition_are_set_in_place(console):
    base, app, page = console
    page.goto(f"{base}/admin/bundles/open-restaurant?lang=en")
    page.evaluate("window.stillHere = true")
    question = page.locator('li[data-question="sells_tobacco"]')
    question.get_by_role("link", name="Edit").click()
    page.locator("#q-sells_tobacco-help-zh-Hans").fill("含电子烟")
    page.locator("#q-sells_tobacco-help-en").fill("E-cigarettes too.")
    page.get_by_role("button", name="Save question").click()
    expect(question.locator(".help")).to_have_text("E-cigarettes too.")
    # The condition of the fire safety check: both answers of the fire route, as checkboxes.
    row = page.locator('tr[data-item="fire-safety-check"]')
    row.get_by_role("link", name="Change").click()
    route = row.locator('fieldset[data-question="fire_route"]')
    expect(route).to_be_visible()  # swapped in by htmx: wait for it before listing its boxes
    for box in route.get_by_role("checkbox").all():
        box.check()
    row.locator('fieldset[data-question="public_gathering_place"]').get_by_label(
        "any answer").check()
    row.get_by_role("button", name="Set").click()
    expect(row.locator("small")).to_contain_text(" / ")
    assert page.evaluate("window.stillHere") is True  # swapped in by htmx, never reloaded
    with Session(app.extensions["onething.engine"]) as session:
        from onething.publishing.working_catalog import entries

        data = json.loads(next(e.text for e in entries(session, "bundle")
                               if e.code == "open-restaurant"))
    help_text = data["questions"]["properties"]["sells_tobacco"]["description"]
    assert (help_text["zh-Hans"], help_text["en"]) == ("含电子烟", "E-cigarettes too.")
    item = next(i for i in data["items"] if i["matter"] == "fire-safety-check")
    assert item["when"]["required"] == ["fire_route"]
    assert len(item["when"]["properties"]["fire_route"]["enum"]) == len(
        data["questions"]["properties"]["fire_route"]["oneOf"])


def test_a_refused_field_keeps_what_was_typed_and_says_why_at_the_key(console):
    """A key already used passes the browser's own check: the server's refusal, swapped in
    by htmx, keeps every input and says at the key what to put right."""
    base, app, page = console
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/admin/matters/outdoor-signboard")
    page.evaluate("window.stillHere = true")
    page.get_by_text("添加本事项专用字段").click()
    typed = {"#f-key": "signboard_text", "#f-title": "招牌数量", "#f-title-en": "Signs",
             "#f-min": "1", "#f-max": "5", "#f-options": "a=甲\nb=乙"}
    for selector, value in typed.items():
        page.locator(selector).fill(value)
    page.locator("#f-type").select_option("integer")
    form = page.locator("form.add-field", has=page.locator("#f-key"))
    form.locator('input[name="required"]').check()
    form.get_by_role("button", name="添加字段").click()
    error = page.locator("#f-key-error")
    expect(error).to_have_text("本事项已有这个键名的字段。")
    expect(page.locator("#f-key")).to_have_attribute("aria-describedby", "f-key-error")
    # The summary above took focus; its link brings the key, and its message, into view.
    expect(page.locator("#error-summary")).to_be_focused()
    page.locator("#error-summary a").click()
    expect(error).to_be_in_viewport()
    for selector, value in typed.items():
        expect(page.locator(selector)).to_have_value(value)
    expect(page.locator("#f-type")).to_have_value("integer")
    expect(form.locator('input[name="required"]')).to_be_checked()
    assert page.evaluate("window.stillHere") is True  # swapped in by htmx, never reloaded
    with Session(app.extensions["onething.engine"]) as session:
        from onething.publishing.working_catalog import entries

        saved = next(e for e in entries(session, "matter") if e.code == "outdoor-signboard")
    assert saved.revision == 1  # nothing saved


def test_an_edit_keeps_the_page_where_it_was_and_says_what_it_did_in_sight(console):
    base, _app, page = console
    page.goto(f"{base}/admin/bundles/open-restaurant")
    page.wait_for_load_state()
    form = page.locator("form.add-question")
    form.scroll_into_view_if_needed()
    before = page.evaluate("scrollY")
    assert before > 500  # far down the editor, below its head
    # Refused: the page stays, the message stands at the input and in sight, what was
    # typed stays.
    form.locator("#q-key").fill("fire_route")
    form.locator("#q-title").fill("消防办理方式")
    with page.expect_response(lambda r: r.url.endswith("/questions")) as answer:
        form.get_by_role("button").click()
    assert answer.value.status == 422
    expect(page.locator("#question_taken-error")).to_be_in_viewport()
    expect(page.locator("#editor-message")).to_be_in_viewport()
    expect(page.locator("#q-title")).to_have_value("消防办理方式")
    assert abs(page.evaluate("scrollY") - before) < 200
    # Saved: the same, and the message says it was saved.
    form.locator("#q-key").fill("has_terrace")
    with page.expect_response(lambda r: r.url.endswith("/questions")) as answer:
        form.get_by_role("button").click()
    assert answer.value.status == 200
    expect(page.locator("#editor-message")).to_contain_text("已保存到草稿")
    expect(page.locator("#editor-message")).to_be_in_viewport()
    assert abs(page.evaluate("scrollY") - before) < 400
