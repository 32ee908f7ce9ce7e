"""The department side in a real browser: the restaurant case decided, certificates released."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from onething.cases.decisions import decide
from onething.storage.models import Submission, Task
from test_admin import PASSWORD, add_account
from test_staff_browser import sign_in
from test_web import fill, start, submit, upload_everything

from conftest import NEW_ENTITY_USCC, yielded

# Every test here drives chromium: `-m browser` selects them with the others.
pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A department's desk: a wide screen, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900},
            "locale": "zh-CN"}


def test_the_food_licence_unlocks_after_the_business_licence_then_both_are_released(
        live_app, page: Page):
    base, app = live_app
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    link = re.search(r'class="link" value="([^"]+)"', applicant.get(f"{draft}/form").text).group(1)
    token = re.search(r"token=([^&]+)", link).group(1)
    upload_everything(applicant, draft)
    receipt = submit(applicant, draft)
    tracking = receipt.rstrip("/").rsplit("/", 1)[-1]
    add_account(app, "amr", "department_staff", "sn-amr")

    sign_in(page, base, "amr", "/inbox/")  # staff land in the inbox
    rows = page.locator("#inbox-rows tbody tr")
    expect(rows).to_have_count(2)

    page.locator("#inbox-rows a").filter(has_text=tracking).first.click()
    if "食品经营许可" in page.locator("h1").inner_text():  # open the registration first
        page.go_back()
        page.locator("#inbox-rows a").filter(has_text=tracking).nth(1).click()
    expect(page.locator("h1")).to_contain_text("市场主体设立登记")
    page.get_by_role("button", name="受理", exact=True).click()
    expect(page.locator("#task-state")).to_contain_text("已受理")
    page.get_by_label("证照编号").fill("91370202MA3C00001X")
    # The new company's credit code goes to the licences waiting for the registration;
    # a mistyped one is refused on the spot, with what was typed kept.
    code = page.get_by_label("统一社会信用代码")
    code.fill("91370202MA3C00011X")
    page.get_by_role("button", name="准予许可").click()
    expect(page.locator("#decision [role=alert]").first).to_be_visible()
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#task-state")).to_contain_text("已受理")
    code.fill(NEW_ENTITY_USCC)
    page.get_by_role("button", name="准予许可").click()
    expect(page.locator("#task-state")).to_contain_text("91370202MA3C00001X")
    expect(page.locator("#task-state")).to_contain_text(NEW_ENTITY_USCC)
    expect(page.locator("#audit")).to_contain_text("amr · 已办结：已受理，审查中 → 已办结")

    page.goto(f"{base}/inbox/?status=pending")
    food = page.locator("#inbox-rows tbody tr").filter(has_text="食品经营许可证核发")
    expect(food).to_have_count(1)  # unlocked: it waited only for the registration
    food.get_by_role("link").click()
    page.get_by_role("button", name="受理", exact=True).click()
    page.get_by_label("证照编号").fill("JY13702020000001")
    page.get_by_role("button", name="准予许可").click()
    expect(page.locator("#task-state")).to_contain_text("JY13702020000001")

    status = page.context.new_page()
    status.goto(f"{base}/s/{tracking}?token={token}")
    expect(status.locator("#certificates")).to_have_count(0)  # released together
    with Session(app.extensions["onething.engine"]) as session:
        for task in session.exec(select(Task).where(Task.status != "approved")).all():
            if task.status == "waiting":
                continue
            decide(session, task, "accept", "tester")
            decide(session, task, "approve", "tester", certificate_number=f"C-{task.id}",
                   produced=yielded(task))
        for task in session.exec(select(Task).where(Task.status == "pending")).all():
            decide(session, task, "accept", "tester")
            decide(session, task, "approve", "tester", certificate_number=f"C-{task.id}",
                   produced=yielded(task))
        assert session.exec(select(Submission)).one().status == "approved"
    status.reload()
    certificates = status.locator("#certificates")
    expect(certificates).to_contain_text("91370202MA3C00001X")
    expect(certificates).to_contain_text("JY13702020000001")


def test_departments_see_a_correction_and_close_a_task_of_a_refused_case(live_app, page: Page):
    from test_corrections import NEW_DETAIL, OLD_DETAIL, correct_premises
    from test_decisions import post_decision, tasks_by_matter
    from test_inbox import DEPARTMENTS, staff

    base, app = live_app
    applicant = app.test_client()
    draft = start(applicant)
    fill(applicant, draft)
    upload_everything(applicant, draft)
    submit(applicant, draft)
    for department in DEPARTMENTS:
        add_account(app, f"staff-{department}", "department_staff", department)
    correct_premises(app, applicant)
    tasks = tasks_by_matter(app)

    def sign_in(department: str) -> None:
        page.context.clear_cookies()
        page.goto(f"{base}/login")
        page.get_by_label("用户名").fill(f"staff-{department}")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录", exact=True).click()
        expect(page).to_have_url(f"{base}/inbox/")

    # The fire brigade, city management and the tobacco bureau each see before and after.
    for matter, department in [("fire-safety-check", "sn-fire"),
                               ("outdoor-signboard", "sn-urban-mgmt"),
                               ("tobacco-retail-licence", "sn-tobacco")]:
        sign_in(department)
        page.goto(f"{base}/inbox/tasks/{tasks[matter].id}")
        notice = page.locator("#corrections")
        expect(notice.locator("del")).to_contain_text(OLD_DETAIL)
        expect(notice.locator("ins")).to_contain_text(NEW_DETAIL)
        expect(page.locator("#slice-fields")).to_contain_text(NEW_DETAIL)
        expect(page.locator("#slice-fields")).not_to_contain_text(OLD_DETAIL)

    # The registration is refused: city management is told, and closes its task (htmx).
    assert post_decision(staff(app, "sn-amr"), tasks["business-registration"].id,
                         action="reject", reason="名称与已登记企业重复").status_code == 200
    sign_in("sn-urban-mgmt")
    page.goto(f"{base}/inbox/tasks/{tasks['outdoor-signboard'].id}")
    expect(page.locator("#case-refused")).to_contain_text("市场主体设立登记")
    close = page.locator("form.decision").filter(has=page.locator('input[value="close"]'))
    # Without a reason (a space, past the browser's own check): refused, and the message,
    # at the top of the decision, is brought into sight and focus, not left off screen.
    close.locator("textarea").evaluate("e => { e.required = false; e.value = ' '; }")
    close.get_by_role("button").click()
    refused = page.locator("#decision-refused")
    expect(refused).to_be_focused()
    expect(refused).to_be_in_viewport()
    close = page.locator("form.decision").filter(has=page.locator('input[value="close"]'))
    close.locator("textarea").fill("主体未设立，无法办理")
    close.get_by_role("button").click()
    expect(page.locator("#task-state")).to_contain_text("主体未设立，无法办理")
    expect(page.locator('input[name="action"]')).to_have_count(0)
    with Session(app.extensions["onething.engine"]) as session:
        # The fire check is still open: the case ends when it is decided or closed.
        assert session.exec(select(Submission)).one().status == "ending"


def test_the_inbox_pages_and_filters_in_place_and_the_address_follows(live_app, page: Page):
    from conftest import bulk_route

    base, app = live_app
    ids = bulk_route(app, 120, statuses=("pending", "accepted"))
    add_account(app, "amr", "department_staff", "sn-amr")
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill("amr")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.goto(f"{base}/inbox/?lang=en")  # English: the cookie keeps it for what follows
    rows = page.locator("#inbox-rows tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#inbox-position")).to_have_text("1–50 of 120")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#inbox-position")).to_have_text("51–100 of 120")
    expect(page).to_have_url(re.compile(r"/inbox/\?after="))
    # The form stays as it was (swapped in place, not reloaded): filter and sort change it.
    page.get_by_label("Status").select_option("accepted")
    expect(page.locator("#inbox-position")).to_have_text("1–50 of 60")
    page.get_by_label("Order").select_option("new")
    expect(rows.first).to_have_attribute("data-task", str(ids[-1]))
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("#inbox-position")).to_have_text("51–60 of 60")
    expect(page).to_have_url(re.compile(r"status=accepted.*sort=new|sort=new.*status=accepted"))
    page.reload()  # the address is the page: the whole of it, as it was
    expect(page.locator("#inbox-position")).to_have_text("51–60 of 60")
    # Another language shows the same list, after a swap as after a load.
    page.get_by_label("Order").select_option("due")
    expect(page).to_have_url(re.compile(r"sort=due"))
    page.get_by_role("link", name="简体中文").click()
    expect(page.locator("#inbox-position")).to_have_text("第 1–50 件，共 60 件")
    expect(page.get_by_label("状态")).to_have_value("accepted")


def test_the_inbox_pages_into_view_and_back_restores_the_filters_with_the_rows(
        live_app, page: Page):
    from conftest import bulk_route

    base, app = live_app
    bulk_route(app, 120, statuses=("pending", "approved"))
    add_account(app, "amr", "department_staff", "sn-amr")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, "amr", "/inbox/")  # staff land in the inbox
    position = page.locator("#inbox-position")
    expect(position).to_have_text("第 1–50 件，共 60 件")
    # Next, from the foot of a long page on a phone: the new page's rows are in view,
    # from their start, not the foot of the next page.
    page.get_by_role("link", name="下一页").scroll_into_view_if_needed()
    page.get_by_role("link", name="下一页").click()
    expect(position).to_have_text("第 51–60 件，共 60 件")
    expect(position).to_be_in_viewport()
    # A choice filters at once; a search is sent by Enter, once (one history entry).
    page.get_by_label("状态").select_option("approved")
    expect(position).to_have_text("第 1–50 件，共 60 件")
    page.get_by_label("搜索").fill("OT2")
    page.get_by_label("搜索").press("Enter")
    expect(page.locator("#search-problem")).to_be_visible()
    # Back, one step at a time: the form says what the rows are at each.
    page.go_back()
    expect(page.locator("#search-problem")).to_have_count(0)
    expect(page.get_by_label("搜索")).to_have_value("")
    expect(page.get_by_label("状态")).to_have_value("approved")
    page.go_back()
    expect(page.get_by_label("状态")).to_have_value("open")
    expect(position).to_have_text("第 51–60 件，共 60 件")


def test_words_typed_while_a_filter_loads_stay_in_the_search_box(live_app, page: Page):
    from conftest import bulk_route

    base, app = live_app
    bulk_route(app, 60, statuses=("pending", "approved"))
    add_account(app, "amr", "department_staff", "sn-amr")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, "amr", "/inbox/")
    # The filter's answer is held until the clerk has typed: no race, whatever the machine.
    held = []
    page.route(re.compile(r"/inbox/\?.*status=approved"), lambda route: held.append(route))
    with page.expect_request(re.compile(r"/inbox/\?.*status=approved")):
        page.get_by_label("状态").select_option("approved")
    box = page.get_by_label("搜索")
    box.fill("王海")
    assert len(held) == 1
    held[0].continue_()
    # (Pending and approved are 30 each: the rows, not the count, show the answer came.)
    expect(page.locator("#inbox-rows tbody tr").first).to_contain_text("已办结")
    # The rows are the filter's; the words wait in the box, where the caret still is.
    expect(box).to_have_value("王海")
    expect(box).to_be_focused()
    page.unroute_all()
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"q=%E7%8E%8B%E6%B5%B7"))
