"""The applicant's form on a phone (390×844, chromium): refusals said in place, the error
summary, typed values folded, steps and autosave, no sideways scrolling, axe."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect

from test_admin import PASSWORD, add_account
from test_browser import PDF, field, finish, reveal, start_draft
from test_web import fill, start, submit, upload_everything

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A phone: 390×844 CSS pixels, touch, Chinese (mainland)."""
    return {**browser_context_args, "viewport": {"width": 390, "height": 844},
            "device_scale_factor": 2, "is_mobile": True, "has_touch": True, "locale": "zh-CN"}


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page (vendored, no network)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]
            if v["impact"] in ("serious", "critical")]


def no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


# How an element's htmx request is set off, whatever its trigger: the event of its
# hx-trigger (or htmx's default) on its source, with a value changed for "changed".
FIRE = """elt => {
  const spec = (elt.getAttribute("hx-trigger") || "").split(",")[0].trim();
  const words = spec ? spec.split(/\\s+/) : [];
  const name = words[0] || (elt.matches("form") ? "submit"
    : elt.matches("input, select, textarea") ? "change" : "click");
  let source = elt;
  const from = words.findIndex(w => w.startsWith("from:"));
  if (from >= 0) {
    const selector = words[from].slice(5);
    source = selector === "closest" ? elt.closest(words[from + 1])
      : selector === "body" ? document.body : document.querySelector(selector);
  }
  // htmx sends a form only once it is valid, as the browser would.
  elt.querySelectorAll("input[required]:not([type=file]), textarea[required]").forEach(
    input => { if (!input.value) input.value = input.type === "number" ? "1" : "a"; });
  if (source.matches("input[type=radio], input[type=checkbox]")) source.checked = !source.checked;
  else if (source.matches("input:not([type=file]), textarea")) source.value += "1";
  if (name === "click") source.click();
  else source.dispatchEvent(new Event(name, {bubbles: true, cancelable: true}));
}"""

# Every element that sends an htmx request and can be seen (a datalist by its input), one
# per kind: its tag, its URL without ids and numbers, and its trigger.
HTMX_ELEMENTS = """() => {
  const seen = new Set();
  return [...document.querySelectorAll("[hx-get], [hx-post]")].filter(elt => {
    const shown = elt.tagName === "DATALIST"
      ? document.querySelector(`[list="${elt.id}"]`)?.checkVisibility()
      : elt.checkVisibility();
    const url = (elt.getAttribute("hx-post") || elt.getAttribute("hx-get"))
      .replace(/\\/d\\/[^/]+/, "/d/*").replace(/[0-9]+/g, "#").split("?")[0];
    const kind = `${elt.tagName} ${url} ${elt.getAttribute("hx-trigger") || ""}`;
    if (!shown || seen.has(kind)) return false;
    seen.add(kind);
    return true;
  }).map((elt, n) => { elt.dataset.planted = n; return n; });
}"""


def _peek(count) -> int:
    """The number an itertools.count will give next, without taking it."""
    return int(repr(count).removeprefix("count(").removesuffix(")"))


def plant_refusals(page: Page, url: str) -> int:
    """Answer every htmx request of the page at `url` with a refusal; check each is shown."""
    page.goto(url)
    count = itertools.count()
    statuses = itertools.cycle([400, 403, 404, 429, 500, 503])

    def refuse(route: Route) -> None:
        if route.request.headers.get("hx-request") != "true":
            route.continue_()
            return
        # The error page's partial, as the app renders it for htmx.
        route.fulfill(status=next(statuses), content_type="text/html; charset=utf-8",
                      body=f'<div class="error page" role="alert"><h1>planted-{next(count)}'
                           f'</h1><p>refused</p></div>')

    page.route("**/*", refuse)
    numbers = page.evaluate(HTMX_ELEMENTS)
    for n in numbers:
        before = page.url
        # The next request or two (a choice is checked and saved) are this element's.
        first = _peek(count)
        element = page.locator(f'[data-planted="{n}"]')
        html = element.evaluate("e => e.outerHTML.slice(0, 200)")
        element.evaluate(FIRE)
        message = page.locator(".refusal", has_text=re.compile(
            rf"planted-({first}|{first + 1})\b")).first
        expect(message, f"{url}: {html}").to_be_visible()
        expect(message).to_have_attribute("role", "alert")
        assert page.url.split("#")[0] == before.split("#")[0]
    page.unroute("**/*")
    return len(numbers)


@pytest.mark.parametrize("side", ["applicant", "inbox", "console"])
def test_every_refused_htmx_request_is_said_in_place(live_app, page: Page, side):
    base, app = live_app
    if side == "applicant":
        draft = start_draft(page, base)
        # The premises part holds the division field, whose suggestions are htmx too.
        urls = [f"{base}/b/open-restaurant", f"{draft}/form", f"{draft}/materials",
                f"{draft}/form#section-premises"]
    elif side == "inbox":
        applicant = app.test_client()
        draft = start(applicant)
        fill(applicant, draft)
        upload_everything(applicant, draft)
        submit(applicant, draft)
        add_account(app, "amr", "department_staff", "sn-amr")
        sign_in(page, base, "amr")
        task = page.locator("#inbox-rows tbody a").first.get_attribute("href")
        urls = [f"{base}/inbox/", f"{base}{task}"]
    else:
        add_account(app, "admin", "administrator")
        sign_in(page, base, "admin")
        urls = [f"{base}/admin/{path}" for path in (
            "", "bundles/open-restaurant", "matters/business-registration", "bundles/new",
            "users", "users/admin", "tokens", "webhooks", "webhooks/sn-amr", "calendar/",
            "bundles/open-restaurant/history", "audit")]
    checked = sum(plant_refusals(page, url) for url in urls)
    assert checked >= {"applicant": 6, "inbox": 2, "console": 10}[side]


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_load_state()


def test_a_refused_upload_says_why_and_empties_the_picker(live_server, page: Page):
    draft = start_draft(page, live_server)
    page.goto(f"{draft}/materials")
    item = page.locator("li.material:has(input[type=file])").first
    material = item.get_attribute("id")
    for name, body, kind in (("setup.exe", b"MZ" + bytes(200), "application/octet-stream"),
                             ("big.pdf", PDF + bytes(200 * 1024), "application/pdf")):
        picker = page.locator(f"#{material} input[type=file]")
        picker.set_input_files({"name": name, "mimeType": kind, "buffer": body})
        with page.expect_response(lambda response: "/materials/" in response.url) as answer:
            page.locator(f"#{material} button[value=upload]").click()
        assert answer.value.status in (413, 422)
        expect(page.locator(f"#{material} [role=alert]")).to_be_visible()
        page.wait_for_function(
            "id => document.querySelector(`#${id} input[type=file]`).files.length === 0",
            arg=material)
        expect(page.locator(f"#{material} .done")).to_have_count(0)


def test_the_form_on_a_phone_steps_saves_and_summarises_its_errors(live_server, page: Page):
    draft = start_draft(page, live_server)
    steps = page.locator(".form-steps a")
    total = steps.count()
    assert total > 3
    expect(steps.first).to_have_attribute("aria-current", "step")
    expect(page.locator(".form-section.current .step-of")).to_contain_text(str(total))
    assert page.locator(".form-section:visible").count() == 1
    no_sideways_scroll(page)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(path="/tmp/phone-form-step1.png", full_page=True)

    # Typed with full-width digits, a lower-case x and +86: shown as it will be saved.
    reveal(page, "legal_representative.id_number")
    box = field(page, "legal_representative.id_number")
    box.fill("１１０１０５１９４９１２３１００２ｘ")
    box.press("Tab")
    expect(box).to_have_value("11010519491231002X")
    expect(page.locator("#msg-legal_representative-id_number .error")).to_have_count(0)
    # Key by key in groups, as read off the card: the spaces take no digit's place.
    box.fill("")
    box.press_sequentially("110105 19491231 002X")
    box.press("Tab")
    expect(box).to_have_value("11010519491231002X")
    expect(page.locator("#msg-legal_representative-id_number .error")).to_have_count(0)
    # Saved as typed: the status says so only after the server did.
    expect(page.locator("#save-status .done")).to_be_visible()

    # The next autosave fails: the status says that, not "saved".
    page.route("**/autosave", lambda route: route.fulfill(status=503, body="down"))
    reveal(page, "legal_representative.mobile")
    mobile = field(page, "legal_representative.mobile")
    mobile.fill("+86 138-0532-0000")
    mobile.press("Tab")
    expect(mobile).to_have_value("13805320000")
    expect(page.locator("#save-status .refusal")).to_be_visible()
    expect(page.locator("#save-status .done")).to_have_count(0)
    page.unroute("**/autosave")

    # A name typed with spaces around it, as phones' keyboards leave them: trimmed in place,
    # with no refusal (its folded value goes back in a header the server must send).
    reveal(page, "legal_representative.name")
    name = field(page, "legal_representative.name")
    name.fill("  王海风 ")
    name.press("Tab")
    expect(name).to_have_value("王海风")
    expect(page.locator("#msg-legal_representative-name .refusal")).to_have_count(0)
    expect(page.locator("#msg-legal_representative-name .error")).to_have_count(0)

    # "Next step" saves and shows the next part; the step list marks it.
    page.goto(f"{draft}/form")
    page.locator(".form-section.current button[name=_step]").click()
    expect(steps.nth(1)).to_have_attribute("aria-current", "step")
    expect(page.locator(".form-section.current .step-of")).to_contain_text("2")
    expect(field(page, "legal_representative.id_number")).to_have_value("11010519491231002X")

    finish(page)
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    link = summary.locator('a[href="#f-entity_name"]')
    expect(link).to_contain_text("主体名称")
    page.screenshot(path="/tmp/phone-form-errors.png")
    link.click()
    expect(field(page, "entity_name")).to_be_focused()
    expect(field(page, "entity_name")).to_have_attribute(
        "aria-describedby", re.compile(r"msg-entity_name"))
    no_sideways_scroll(page)
    assert serious_violations(page) == []
    print(f"\nrestaurant form at 390×844, one step: {height}px")


# Records every layout shift of the page from its start, with what moved.
RECORD_SHIFTS = """window.shifts = [];
new PerformanceObserver(list => list.getEntries().forEach(e => window.shifts.push({
  value: e.value,
  moved: e.sources.map(s => s.node && s.node.nodeType === 1 ? `${s.node.tagName}#${s.node.id}` : "")
}))).observe({type: "layout-shift", buffered: true});"""


def test_the_form_on_a_phone_does_not_jump_when_its_script_runs(live_server, page: Page):
    # onething.js is held back until the page has been painted, as on a slow connection:
    # the page must already be laid out as the script will leave it (one part at a time,
    # the step list one strip), or everything below the steps jumps when it runs.
    draft = start_draft(page, live_server)
    page.add_init_script(RECORD_SHIFTS)
    held = []
    page.route("**/onething.js*", lambda route: held.append(route))
    page.goto(f"{draft}/form", wait_until="commit")
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length")
    assert len(held) == 1
    assert page.locator("form.one-form.stepped").count() == 0
    held[0].continue_()
    expect(page.locator("form.one-form.stepped")).to_have_count(1)
    # Two frames: the script's change laid out and painted, its shifts reported.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate("window.shifts") == []
    assert page.locator(".form-section:visible").count() == 1


@pytest.mark.parametrize("lang", ["zh-Hans", "en"])
def test_the_start_pages_summary_bar_is_one_line_on_a_phone(live_server, page: Page, lang):
    page.goto(f"{live_server}/b/open-restaurant?lang={lang}")
    bar = page.locator("#scenario-bar")
    for name, value in (("has_business_licence", "false"), ("public_gathering_place", "true"),
                        ("fire_route", "commitment"), ("outdoor_signboard", "true"),
                        ("sells_tobacco", "true")):
        page.locator(f'input[name="{name}"][value="{value}"]').check()
    # Every question answered: the matters, the trips and the committed time limit.
    expect(bar).to_contain_text("个工作日" if lang == "zh-Hans" else
                                "5 matters · 1 trip · 5 working days")
    # One line (a second would pass the 44 px tap target), and nothing cut off.
    assert bar.locator("a").bounding_box()["height"] < 50
    assert bar.locator(".figures").evaluate("e => e.scrollWidth <= e.clientWidth")
    page.screenshot(path=f"/tmp/phone-start-summary-{lang}.png")


def test_the_start_page_keeps_its_summary_in_sight_and_names_every_question(
        live_server, page: Page):
    page.goto(f"{live_server}/b/open-restaurant")
    bar = page.locator("#scenario-bar")
    expect(bar).to_be_in_viewport()
    page.locator('input[name="has_business_licence"][value="false"]').check()
    page.mouse.wheel(0, 2000)
    expect(bar).to_be_in_viewport()
    expect(bar).to_contain_text(re.compile(r"\d"))
    no_sideways_scroll(page)
    page.get_by_role("button", name="开始申请").click()
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    # Every question left, at once (the fire route is asked only of a gathering place).
    links = {a.get_attribute("href") for a in summary.locator("a").all()}
    assert links == {"#f-public_gathering_place-1", "#f-outdoor_signboard-1",
                     "#f-sells_tobacco-1"}
    summary.locator('a[href="#f-sells_tobacco-1"]').click()
    expect(page.locator("#f-sells_tobacco-1")).to_be_focused()
    page.screenshot(path="/tmp/phone-start-errors.png")
    assert serious_violations(page) == []


def test_the_front_desks_list_of_cases_fits_a_phone(live_app, page: Page):
    from test_front_desk import clerk_browser, file_a_case

    base, app = live_app
    add_account(app, "desk", "front_desk")
    clerk, csrf = clerk_browser(app)
    file_a_case(clerk, csrf)  # submitted: its tracking number is the widest cell
    file_a_case(clerk, csrf, submit=False)
    page.goto(f"{base}/login?lang=en")
    page.get_by_label("Username").fill("desk")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(f"{base}/desk/")
    page.goto(f"{base}/desk/?lang=en")
    expect(page.locator("table.desk-cases tbody tr")).to_have_count(2)
    # The table scrolls inside itself; the page does not, and every link can be reached.
    no_sideways_scroll(page)
    link = page.get_by_role("link", name="Continue")
    link.scroll_into_view_if_needed()
    expect(link).to_be_in_viewport()


def test_a_long_reason_keeps_its_lines_and_never_widens_a_phones_page(live_app, page: Page):
    from sqlmodel import Session, select

    from onething.storage.models import Task
    from test_web import submitted_case

    base, app = live_app
    applicant = app.test_client()
    receipt = submitted_case(applicant)
    # The link with its query code, as the applicant keeps it from the receipt.
    link = re.search(r'id="status-link" href="([^"]+)"', applicant.get(receipt).text).group(1)
    add_account(app, "fire", "department_staff", "sn-fire")
    with Session(app.extensions["onething.engine"]) as session:
        task = session.exec(select(Task).where(Task.department_code == "sn-fire")).one()
    sign_in(page, base, "fire")
    page.goto(f"{base}/inbox/tasks/{task.id}")
    # A link pasted in: one unbroken run of letters wider than the phone.
    reason = ("疏散通道宽度不足，详见 https://xf.qingdao.gov.cn/guide?topic="
              "evacuationroutesandexitsforpublicgatheringplacesrevisededition2026\n"
              "1. 疏散通道\n2. 安全出口")
    form = page.locator("form.decision:has(input[name=action][value=reject])")
    form.locator("textarea").fill(reason)
    form.get_by_role("button").click()
    said = page.locator("#task-state .said")
    expect(said).to_contain_text("安全出口")
    no_sideways_scroll(page)
    # The applicant reads it as it was written: three lines, on a page as wide as the phone.
    assert said.evaluate("e => e.innerText.split('\\n').length") == 3
    page.goto(base + "/s/" + link.replace("&amp;", "&").split("/s/", 1)[1])
    written = page.locator("small.said")
    expect(written).to_contain_text("安全出口")
    assert written.evaluate("e => e.innerText.split('\\n').length") == 3
    no_sideways_scroll(page)
    page.screenshot(path="/tmp/phone-long-reason.png", full_page=True)


def test_the_inbox_links_are_big_enough_for_a_thumb(live_app, page: Page):
    from test_web import submitted_case

    base, app = live_app
    submitted_case(app.test_client())
    add_account(app, "amr", "department_staff", "sn-amr")
    sign_in(page, base, "amr")
    page.goto(f"{base}/inbox/?status=")
    links = page.locator("table.tasks td a, ul.counts a")
    assert links.count() > 3
    heights = links.evaluate_all("links => links.map(a => a.getBoundingClientRect().height)")
    assert min(heights) >= 44, heights
    no_sideways_scroll(page)
