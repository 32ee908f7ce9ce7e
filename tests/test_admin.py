"""The administrators' console without JavaScript: sign-in, search, editing, publishing."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from sqlmodel import Session, select

from onething.accounts.service import create_account
from onething.catalog.loader import read_meta
from onething.publishing.working_catalog import entries, save_definition
from onething.storage.models import AccountCreate, BundleVersion, CatalogEntry, SignInFailure

from conftest import SCHEMAS

PASSWORD = "correct horse battery"


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def add_account(app, username: str, role: str, department: str | None = None) -> None:
    with Session(app.extensions["onething.engine"]) as session:
        create_account(session, AccountCreate(username=username, display_name=username,
                                              role=role, department_code=department,
                                              password=PASSWORD))


def sign_in(client, username: str = "admin") -> str:
    page = client.get("/login").text
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": token_of(page)})
    assert response.status_code == 302, response.text[:500]
    return token_of(client.get("/admin/").text) if username == "admin" else ""


@pytest.fixture
def admin(app, client):
    """A signed-in administrator's browser; yields (client, its CSRF token)."""
    add_account(app, "admin", "administrator")
    return client, sign_in(client)


def revision(app, kind: str, code: str) -> int:
    with Session(app.extensions["onething.engine"]) as session:
        return next(e.revision for e in entries(session, kind) if e.code == code)


def all_entries(app) -> list:
    with Session(app.extensions["onething.engine"]) as session:
        return entries(session)


def versions(app, code: str) -> list[int]:
    with Session(app.extensions["onething.engine"]) as session:
        return [v.number for v in session.exec(
            select(BundleVersion).where(BundleVersion.bundle_code == code)).all()]


# --- signing in -------------------------------------------------------------------------------


def test_the_console_needs_an_administrator(app, client):
    assert client.get("/admin/").headers["Location"].startswith("/login?next=/admin/")
    add_account(app, "desk", "front_desk")
    sign_in(client, "desk")
    assert client.get("/admin/").status_code == 403


def test_a_wrong_password_is_refused_with_a_localized_message(app, client):
    add_account(app, "admin", "administrator")
    token = token_of(client.get("/login").text)
    response = client.post("/login?lang=en", data={"username": "admin", "password": "wrong",
                                                   "csrf_token": token})
    assert response.status_code == 401
    assert "The username or password is wrong." in response.text
    zh = client.post("/login?lang=zh-Hans", data={"username": "nobody", "password": "wrong",
                                     "csrf_token": token})
    assert zh.status_code == 401 and "用户名或密码错误" in zh.text


def test_failed_sign_ins_are_limited_and_the_page_says_when_to_try_again(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    add_account(app, "admin", "administrator")
    token = token_of(client.get("/login").text)
    codes = [client.post("/login", data={"username": "admin", "password": "wrong",
                                         "csrf_token": token}).status_code for _ in range(3)]
    refused = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                          "csrf_token": token})
    assert codes == [401, 401, 401] and refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 0 < wait <= 61
    with Session(app.extensions["onething.engine"]) as session:
        failed = sorted(f.failed_at for f in session.exec(select(SignInFailure)).all())
    # Trying while refused is no failure: it never pushes the time said later.
    for _ in range(5):
        again = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                            "csrf_token": token})
        assert again.status_code == 429 and int(again.headers["Retry-After"]) <= wait
        assert again.text.count("请于北京时间") == 1
    with Session(app.extensions["onething.engine"]) as session:
        assert sorted(f.failed_at for f in session.exec(select(SignInFailure)).all()) == failed
    # The minute said is one when trying succeeds (the first failure leaves the minute):
    # 18:19:36 is said 18:20, not 18:19, when trying would be refused again.
    first = failed[0] if failed[0].tzinfo else failed[0].replace(tzinfo=dt.UTC)
    free = first + dt.timedelta(minutes=1)
    said = free.replace(second=0, microsecond=0)
    said += dt.timedelta(minutes=1) if said < free else dt.timedelta(0)
    said = said.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert f"请于北京时间 {said:%H:%M} 后再试" in refused.text


def test_successful_sign_ins_never_count(app):
    # Eleven colleagues behind one office NAT, each signing in within the period.
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for n in range(5):
        add_account(app, f"clerk{n}", "administrator")
    for n in range(5):
        browser = app.test_client()
        token = token_of(browser.get("/login").text)
        signed = browser.post("/login", data={"username": f"clerk{n}", "password": PASSWORD,
                                              "csrf_token": token})
        assert signed.status_code == 302


def test_failures_at_one_name_from_many_addresses_are_limited_too(app):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    add_account(app, "admin", "administrator")
    codes = []
    for n in range(4):
        browser = app.test_client()
        token = token_of(browser.get("/login").text)
        codes.append(browser.post("/login", data={"username": "Admin ", "password": "wrong",
                                                  "csrf_token": token},
                                  environ_base={"REMOTE_ADDR": f"10.0.0.{n}"}).status_code)
    assert codes == [401, 401, 401, 429]
    other = app.test_client()
    token = token_of(other.get("/login").text)
    assert other.post("/login", data={"username": "someone", "password": "wrong",
                                      "csrf_token": token},
                      environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 401


def test_a_form_without_its_csrf_token_changes_nothing(app, admin, caplog):
    client, _ = admin
    before = revision(app, "bundle", "open-restaurant")
    response = client.post("/admin/bundles/open-restaurant/questions",
                           data={"revision": before, "key": "x", "title_zh": "问"},
                           headers={"Referer": "http://localhost/s/OT1?token=s3cret-code"})
    assert response.status_code == 400
    # The operator's log says why (a proxy's Host fails every https form the same way),
    # with where the form came from, but never its query (a case's access code).
    said = [r.getMessage() for r in caplog.records if "refused a form" in r.getMessage()]
    assert said == ["refused a form: The CSRF token is missing. (Host localhost, "
                    "Referer http://localhost)"]
    assert revision(app, "bundle", "open-restaurant") == before


def test_a_sign_in_never_redirects_to_another_site(app, client):
    add_account(app, "admin", "administrator")
    page = client.get("/login?next=//evil.example/x").text
    response = client.post("/login", data={"username": "admin", "password": PASSWORD,
                                           "next": "//evil.example/x",
                                           "csrf_token": token_of(page)})
    assert response.headers["Location"] == "/admin/"


# --- the catalog ------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "found"), [
    ("kbcyd", "开办餐饮店"), ("canyin", "开办餐饮店"), ("餐饮", "开办餐饮店"),
    ("yczmls", "烟草专卖零售许可证核发"), ("open-care", "养老机构设立"),
    # Typed with an IME left on; a department by its short name, as people call it.
    ("ｋｂｃｙｄ", "开办餐饮店"), ("市市场监管局", "青岛市市场监督管理局"),
])
def test_the_catalog_is_searched_by_chinese_pinyin_or_initials(admin, query, found):
    client, _ = admin
    page = client.get(f"/admin/?q={query}", headers={"HX-Request": "true"}).text
    assert found in page
    assert "<html" not in page  # htmx gets the lists only


def test_departments_indexed_before_their_short_name_was_are_found_by_it_after_the_upgrade(
        app, admin):
    from alembic import command

    from onething.publishing.working_catalog import reindex
    from onething.storage.db import alembic_config, migrate

    client, _ = admin
    engine = app.extensions["onething.engine"]
    # As a database indexed before: the department's index without its short name.
    with Session(engine) as session:
        entry = session.exec(select(CatalogEntry).where(
            CatalogEntry.kind == "department", CatalogEntry.code == "qd-amr")).one()
        entry.search_text = "青岛市市场监督管理局 qd-amr"
        session.add(entry)
        session.commit()
    assert "青岛市市场监督管理局" not in client.get(
        "/admin/?q=市市场监管局", headers={"HX-Request": "true"}).text
    engine.dispose()
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, "0032")
    migrate(engine)  # then the start indexes what the migration cleared
    with Session(engine) as session:
        assert reindex(session) > 0
    assert "青岛市市场监督管理局" in client.get(
        "/admin/?q=市市场监管局", headers={"HX-Request": "true"}).text


def test_matters_to_add_are_found_by_pinyin_without_those_already_in(app, admin):
    client, _ = admin
    rev = revision(app, "bundle", "open-restaurant")
    found = client.get(f"/admin/bundles/open-restaurant/matters?q=jianzhu&revision={rev}",
                       headers={"HX-Request": "true"}).text
    assert "施工许可" in found and f'name="revision" value="{rev}"' in found
    assert "<html" not in found
    present = client.get("/admin/bundles/open-restaurant/matters?q=yancao").text
    assert "烟草专卖零售许可证核发" not in present  # already in the bundle


def test_the_catalog_filters_by_department_and_level(admin):
    client, _ = admin
    page = client.get("/admin/?department=sn-tobacco").text
    matters = re.search(r'id="matter-list">(.*?)</ul>', page, re.S).group(1)
    assert "烟草专卖零售许可证核发" in matters and "食品经营许可证核发" not in matters
    city = client.get("/admin/?level=city").text
    assert "开办餐饮店" not in re.search(r'id="bundle-list">(.*?)</ul>', city, re.S).group(1)


# --- building a bundle ------------------------------------------------------------------------


def create_convenience_store(client, token) -> None:
    response = client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": "open-convenience-store", "name_zh": "开办便利店",
        "name_en": "Opening a convenience store", "kind": "one_thing",
        "matter": "business-registration"})
    assert response.headers["Location"] == "/admin/bundles/open-convenience-store"


@pytest.mark.parametrize("taken", ["open-restaurant", "business-registration"])
def test_a_new_bundle_cannot_take_a_code_a_bundle_or_matter_holds(app, admin, taken):
    client, token = admin
    before = {(e.kind, e.code, e.revision) for e in all_entries(app)}
    response = client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": taken, "name_zh": "重名", "kind": "one_thing",
        "matter": "business-registration"})
    assert response.status_code == 422
    assert "该编码已被一件事或事项使用" in response.text
    assert {(e.kind, e.code, e.revision) for e in all_entries(app)} == before


@pytest.mark.parametrize(("code", "said"), [
    # /admin/bundles/new is the form itself: a bundle coded so could never be edited.
    ("new", "这个编码是控制台页面的地址"),
    # The meta-schema's codes: single dashes between words.
    ("open--bookshop", "词与词之间用单个连字符连接"),
    ("open-bookshop-", "词与词之间用单个连字符连接"),
])
def test_a_new_bundle_code_is_one_the_console_and_meta_schema_take(app, admin, code, said):
    client, token = admin
    before = {(e.kind, e.code, e.revision) for e in all_entries(app)}
    response = client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": code, "name_zh": "开办书店", "kind": "one_thing",
        "matter": "business-registration"})
    assert response.status_code == 422 and said in response.text
    assert {(e.kind, e.code, e.revision) for e in all_entries(app)} == before


@pytest.mark.parametrize(("matter", "name", "said"), [
    ("no-such-matter", "开办书店", "没有这个代码或名称的事项"),
    ("", "开办书店", "没有这个代码或名称的事项"),
    ("business-registration", " ", "请填写一件事的简体中文名称。"),
])
def test_a_new_bundle_refused_says_what_to_put_right(app, admin, matter, name, said):
    client, token = admin
    before = {(e.kind, e.code, e.revision) for e in all_entries(app)}
    response = client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": "open-bookshop", "name_zh": name, "kind": "one_thing",
        "matter": matter})
    assert response.status_code == 422 and said in response.text
    assert "should be non-empty" not in response.text
    assert {(e.kind, e.code, e.revision) for e in all_entries(app)} == before


@pytest.mark.parametrize(("code", "matter", "opened"), [
    # A matter by its whole name, as an administrator copies it from the guide.
    ("open-bookshop", " 市场主体设立登记（营业执照办理）", "open-bookshop"),
    # A code pasted in full width (an IME left on) is read as it means.
    (" ｏｐｅｎ－ｋｉｏｓｋ ", "business-registration", "open-kiosk"),
])
def test_a_new_bundle_reads_its_code_and_matter_as_typed(app, admin, code, matter, opened):
    client, token = admin
    response = client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": code, "name_zh": "开办书店", "kind": "one_thing",
        "matter": matter})
    assert response.headers["Location"] == f"/admin/bundles/{opened}"


def post(client, token, path: str, app, **data):
    rev = revision(app, "bundle", "open-convenience-store")
    return client.post(f"/admin/bundles/open-convenience-store{path}",
                       data={"csrf_token": token, "revision": rev, **data},
                       headers={"HX-Request": "true"})


def test_an_administrator_builds_and_publishes_a_bundle_applicants_open_at_once(app, admin):
    client, token = admin
    create_convenience_store(client, token)
    first = client.get("/admin/bundles/open-convenience-store").text
    assert 'data-figure="forms"><th>申请表</th><td>1</td><td>1</td>' in first
    # Never published: said so, not a link to a history that does not exist yet.
    assert '<span id="never-published">尚未发布</span>' in first
    assert "/admin/bundles/open-convenience-store/history" not in first

    added = post(client, token, "/items", app, matter="food-business-licence")
    assert added.status_code == 200
    # The food licence needs the credit code the registration yields: until it waits for
    # the registration, the preview says so, naming both files and pointers.
    assert 'id="conflict"' in added.text and "food-business-licence.json#/form/properties/" \
        "entity_uscc" in added.text and "business-registration.json#/produces/0" in added.text
    assert "食品经营许可证核发" in added.text and "<html" not in added.text
    post(client, token, "/items", app, matter="tobacco-retail-licence")
    post(client, token, "/questions", app, key="sells_tobacco", title_zh="是否销售烟草制品？")
    tobacco = post(client, token, "/items/2/when", app, **{"when.sells_tobacco": "true"})
    # The summary says the answer as the picker does, not the JSON value; the picker
    # itself opens for one item at a time.
    assert "<small>是否销售烟草制品？ = 是</small>" in tobacco.text
    assert 'name="when.sells_tobacco"' not in tobacco.text
    picker = client.get("/admin/bundles/open-convenience-store/items/2/when",
                        headers={"HX-Request": "true"}).text
    # A yes/no question is radio buttons: any answer, yes (chosen here) or no.
    assert re.search(r'type="radio" name="when.sells_tobacco" value="true" checked> 是', picker)
    assert picker.count('name="when.sells_tobacco"') == 3 and "<html" not in picker
    routed = client.post("/admin/bundles/open-convenience-store/after", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-convenience-store"),
        "items": ["business-registration", "food-business-licence", "tobacco-retail-licence"],
        "after.food-business-licence": "business-registration",
        "after.tobacco-retail-licence": "business-registration"}, headers={"HX-Request": "true"})
    assert routed.status_code == 200
    assert 'id="conflict"' not in routed.text  # it waits now: one form again
    # One item's choices open at a time, and posting them leaves the others' edges be
    # (the tobacco licence still waits, as the stored definition below shows).
    opened = client.get("/admin/bundles/open-convenience-store/after/food-business-licence").text
    assert opened.count('name="after.food-business-licence"') == 2
    assert 'name="after.tobacco-retail-licence"' not in opened
    one = client.post("/admin/bundles/open-convenience-store/after", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-convenience-store"),
        "items": ["food-business-licence"],
        "after.food-business-licence": "business-registration"}, headers={"HX-Request": "true"})
    assert one.status_code == 200
    # Round in a circle: the preview says so in words, naming the matters, and publishing
    # waits until an edge is removed.
    circle = client.post("/admin/bundles/open-convenience-store/after", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-convenience-store"),
        "items": ["business-registration"],
        "after.business-registration": "food-business-licence"}, headers={"HX-Request": "true"})
    headline = circle.text.split('id="after-cycle">')[1].split("</p>")[0]
    assert headline.startswith("审批先后顺序首尾相连，形成了循环：") and " → " in headline
    assert "食品经营许可" in headline and "the after edges" not in circle.text
    undone = client.post("/admin/bundles/open-convenience-store/after", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-convenience-store"),
        "items": ["business-registration"]}, headers={"HX-Request": "true"})
    assert 'id="conflict"' not in undone.text

    with Session(app.extensions["onething.engine"]) as session:
        stored = json.loads(session.exec(select(CatalogEntry.text).where(
            CatalogEntry.code == "open-convenience-store")).one())
    assert stored["items"][2]["when"] == {"properties": {"sells_tobacco": {"const": True}},
                                          "required": ["sells_tobacco"]}
    assert stored["after"] == {"food-business-licence": ["business-registration"],
                               "tobacco-retail-licence": ["business-registration"]}

    published = post(client, token, "/publish", app)
    assert "open-convenience-store v1" in published.text
    assert versions(app, "open-convenience-store") == [1]
    start = client.get("/b/open-convenience-store")
    assert start.status_code == 200 and "是否销售烟草制品？" in start.text


def test_a_stale_editor_is_refused_with_who_saved_first(app, admin):
    client, token = admin
    create_convenience_store(client, token)
    stale = revision(app, "bundle", "open-convenience-store")
    post(client, token, "/items", app, matter="food-business-licence")
    refused = client.post("/admin/bundles/open-convenience-store/items", data={
        "csrf_token": token, "revision": stale, "matter": "tobacco-retail-licence"},
        headers={"HX-Request": "true"})
    assert refused.status_code == 409
    assert "admin" in refused.text and "食品经营许可证核发" in refused.text
    with Session(app.extensions["onething.engine"]) as session:
        stored = json.loads(session.exec(select(CatalogEntry.text).where(
            CatalogEntry.code == "open-convenience-store")).one())
    assert [i["matter"] for i in stored["items"]] == ["business-registration",
                                                      "food-business-licence"]


def add_conflicting_matter(app) -> None:
    """A copy of the signboard matter whose entity_name must be a number: it cannot merge."""
    with Session(app.extensions["onething.engine"]) as session:
        data = json.loads(next(e.text for e in entries(session, "matter")
                               if e.code == "outdoor-signboard"))
        data["code"] = "numbered-signboard"
        data["name"] = {"zh-Hans": "编号招牌设置"}
        data["form"]["properties"]["entity_name"]["type"] = "integer"
        save_definition(session, "matter", data, based_on=None, saved_by="tester",
                        metas=read_meta(SCHEMAS))


def test_a_conflicting_matter_shows_inline_and_the_publish_is_refused(app, admin):
    client, token = admin
    add_conflicting_matter(app)
    create_convenience_store(client, token)
    added = post(client, token, "/items", app, matter="numbered-signboard")
    assert 'id="conflict"' in added.text
    assert "entity_name" in added.text
    assert "/admin/matters/numbered-signboard" in added.text
    refused = post(client, token, "/publish", app)
    assert refused.status_code == 422
    assert "numbered-signboard" in refused.text
    assert versions(app, "open-convenience-store") == []


def test_history_shows_a_readable_diff_and_rolls_back(app, admin):
    client, token = admin
    post_restaurant = lambda path, **data: client.post(  # noqa: E731
        f"/admin/bundles/open-restaurant{path}",
        data={"csrf_token": token, "revision": revision(app, "bundle", "open-restaurant"),
              **data})
    post_restaurant("/questions", key="has_terrace", title_zh="是否设置露天座位？")
    post_restaurant("/publish")
    page = client.get("/admin/bundles/open-restaurant/history?from=1&to=2").text
    assert "v1 → v2" in page and "has_terrace" in page
    # Rolling back asks first: the history links to a confirmation step saying what changes
    # back, and a post without the confirmation publishes nothing.
    assert 'action="/admin/bundles/open-restaurant/rollback"' in page and "hx-confirm" in page
    asked = client.get("/admin/bundles/open-restaurant/rollback?number=1&lang=en")
    assert asked.status_code == 200
    assert "Publish v1 again?" in asked.text and "has_terrace" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    # It says the draft is not rolled back: publishing from the editor would bring it back.
    assert 'id="rollback-draft"' in asked.text and "draft live again" in asked.text
    unconfirmed = client.post("/admin/bundles/open-restaurant/rollback",
                              data={"csrf_token": token, "number": 1})
    assert unconfirmed.status_code == 200 and 'name="confirmed"' in unconfirmed.text
    assert sorted(versions(app, "open-restaurant")) == [1, 2]
    assert client.get("/admin/bundles/open-restaurant/rollback?number=2").status_code == 404
    confirmed = client.post("/admin/bundles/open-restaurant/rollback",
                            data={"csrf_token": token, "number": 1, "confirmed": "yes"},
                            headers={"HX-Request": "true"})
    # With htmx (after its confirm dialog) the browser is sent to the history page.
    assert confirmed.status_code == 204
    assert confirmed.headers["HX-Redirect"] == "/admin/bundles/open-restaurant/history"
    assert sorted(versions(app, "open-restaurant")) == [1, 2, 3]
    again = client.get("/admin/bundles/open-restaurant/history?from=1&to=3").text
    assert "rolled back to v1" in again  # said in the reader's words
    assert "No change that applicants or departments would notice." in client.get(
        "/admin/bundles/open-restaurant/history?from=1&to=3&lang=en").text


# --- the matter editor ------------------------------------------------------------------------


def test_raw_json_is_checked_as_typed_with_pointers(admin):
    client, token = admin
    page = client.get("/admin/matters/outdoor-signboard").text
    text = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)
    data = json.loads(html.unescape(text))
    data["time_limit"]["promised_days"] = "soon"
    checked = client.post("/admin/matters/outdoor-signboard/check",
                          data={"csrf_token": token, "text": json.dumps(data)})
    assert "#/time_limit/promised_days" in checked.text
    broken = client.post("/admin/matters/outdoor-signboard/check",
                         data={"csrf_token": token, "text": "{"})
    # In the console's language (zh-Hans unless chosen), and in English when asked.
    assert "JSON 格式错误" in broken.text
    broken = client.post("/admin/matters/outdoor-signboard/check?lang=en",
                         data={"csrf_token": token, "text": "{"})
    assert "invalid JSON" in broken.text


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000, '{"n": ' + "9" * 5000 + "}",
                                  '{"minimum": NaN}', "{}", "[]", "1", '"matter"'])
def test_json_no_matter_can_be_is_refused_with_a_message_not_a_500(app, admin, text):
    client, token = admin
    rev = revision(app, "matter", "outdoor-signboard")
    checked = client.post("/admin/matters/outdoor-signboard/check",
                          data={"csrf_token": token, "text": text})
    assert checked.status_code == 200 and '<li class="error">' in checked.text
    saved = client.post("/admin/matters/outdoor-signboard",
                        data={"csrf_token": token, "revision": rev, "text": text})
    assert saved.status_code == 422
    assert revision(app, "matter", "outdoor-signboard") == rev  # nothing was saved


@pytest.mark.parametrize(("text", "shown", "shown_en"), [
    ('{"code": "outdoor-signboard", "visits": 1, "visits": 2}',
     "<code>#/visits</code> JSON 格式错误：键“visits”出现了两次",
     "<code>#/visits</code> invalid JSON: the key &#39;visits&#39; is given twice"),
    ('{"code": "outdoor-signboard", "location": "\\u0000"}',
     "<code>#/location</code> JSON 格式错误：文本中含有 NUL 字符",
     "<code>#/location</code> invalid JSON: a text holds a NUL character"),
])
def test_json_a_database_would_store_otherwise_is_refused_at_its_pointer(app, admin, text, shown,
                                                                           shown_en):
    client, token = admin
    rev = revision(app, "matter", "outdoor-signboard")
    checked = client.post("/admin/matters/outdoor-signboard/check",
                          data={"csrf_token": token, "text": text})
    assert shown in checked.text
    checked = client.post("/admin/matters/outdoor-signboard/check?lang=en",
                          data={"csrf_token": token, "text": text})
    assert shown_en in checked.text
    saved = client.post("/admin/matters/outdoor-signboard?lang=zh-Hans",
                        data={"csrf_token": token, "revision": rev, "text": text})
    assert saved.status_code == 422 and shown in saved.text
    assert revision(app, "matter", "outdoor-signboard") == rev


def test_a_matter_save_is_locked_and_keeps_the_text_on_a_conflict(app, admin):
    client, token = admin
    rev = revision(app, "matter", "outdoor-signboard")
    page = client.get("/admin/matters/outdoor-signboard").text
    data = json.loads(html.unescape(re.search(
        r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)))
    data["time_limit"]["promised_days"] = 1
    saved = client.post("/admin/matters/outdoor-signboard",
                        data={"csrf_token": token, "revision": rev, "text": json.dumps(data)})
    assert saved.status_code == 200 and revision(app, "matter", "outdoor-signboard") == rev + 1
    data["time_limit"]["promised_days"] = 7
    mine = json.dumps(data, ensure_ascii=False)
    stale = client.post("/admin/matters/outdoor-signboard",
                        data={"csrf_token": token, "revision": rev, "text": mine})
    assert stale.status_code == 409
    assert '"promised_days": 7' in html.unescape(stale.text)
    assert revision(app, "matter", "outdoor-signboard") == rev + 1


# --- config as code in the console ------------------------------------------------------------


def zipped(root, prefix: str = "schemas/") -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    # Compressed, as real archives are: past 500 KB werkzeug's test client spills an upload
    # to a temporary file it never closes, and the ResourceWarning fails the test.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                archive.write(path, prefix + path.relative_to(root).as_posix())
    return buffer.getvalue()


def test_the_console_exports_the_exact_files_of_schemas(admin):
    import io
    import zipfile

    client, _ = admin
    response = client.get("/admin/catalog/export.zip")
    assert response.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        exported = {name.removeprefix("schemas/"): archive.read(name)
                    for name in archive.namelist()}
    expected = {p.relative_to(SCHEMAS).as_posix(): p.read_bytes()
                for p in SCHEMAS.rglob("*") if p.is_file()}
    assert exported == expected


def upload(client, token, data: bytes):
    import io

    return client.post("/admin/catalog/import", data={
        "csrf_token": token, "archive": (io.BytesIO(data), "schemas.zip")},
        content_type="multipart/form-data")


def test_an_import_shows_a_dry_run_first_and_applies_only_when_confirmed(app, admin, tmp_path):
    from conftest import apply_edits, copy_schemas

    client, token = admin
    root = copy_schemas(tmp_path)
    apply_edits(root, [{"file": "catalog/matters/outdoor-signboard.json",
                        "pointer": "/time_limit/promised_days", "value": 3}])
    before = revision(app, "matter", "outdoor-signboard")
    dry = upload(client, token, zipped(root))
    assert dry.status_code == 200
    assert "~ <code>catalog/matters/outdoor-signboard.json</code>" in dry.text
    assert revision(app, "matter", "outdoor-signboard") == before
    confirm = re.search(r'action="(/admin/catalog/import/[^"]+)"', dry.text).group(1)
    done = client.post(confirm, data={"csrf_token": token})
    assert 'id="import-result"' in done.text
    assert revision(app, "matter", "outdoor-signboard") == before + 1
    assert client.post(confirm, data={"csrf_token": token}).status_code == 404  # used up
    published = client.post("/admin/catalog/publish", data={"csrf_token": token})
    assert "open-restaurant v2" in published.text


def test_a_broken_import_is_refused_whole_in_the_console(app, admin, tmp_path):
    from conftest import apply_edits, copy_schemas

    client, token = admin
    root = copy_schemas(tmp_path)
    apply_edits(root, [
        {"file": "catalog/matters/outdoor-signboard.json",
         "pointer": "/time_limit/promised_days", "value": 3},
        {"file": "catalog/matters/fire-safety-check.json",
         "pointer": "/time_limit/promised_days", "value": "soon"}])
    before = {(e.path, e.revision) for e in _entries(app)}
    refused = upload(client, token, zipped(root))
    assert refused.status_code == 422
    assert "catalog/matters/fire-safety-check.json#/time_limit/promised_days" in refused.text
    assert "/admin/catalog/import/" not in refused.text  # nothing to confirm
    assert {(e.path, e.revision) for e in _entries(app)} == before
    assert upload(client, token, b"not a zip").status_code == 422


def _entries(app):
    with Session(app.extensions["onething.engine"]) as session:
        return entries(session)


# --- the matter editor's rows -----------------------------------------------------------------


def stored_matter(app, code: str) -> dict:
    with Session(app.extensions["onething.engine"]) as session:
        return json.loads(next(e.text for e in entries(session, "matter") if e.code == code))


def edit_matter(client, app, token, path: str, **data):
    return client.post(f"/admin/matters/outdoor-signboard{path}", data={
        "csrf_token": token, "revision": revision(app, "matter", "outdoor-signboard"), **data},
        headers={"HX-Request": "true"})


def test_fields_are_rows_shared_or_local_and_the_raw_json_follows(app, admin):
    client, token = admin
    shared = edit_matter(client, app, token, "/fields", source="library",
                         library_key="legal_representative", required="1")
    assert shared.status_code == 200 and 'data-field="legal_representative"' in shared.text
    local = edit_matter(client, app, token, "/fields", source="local", key="sign_count",
                        type="integer", title_zh="招牌数量", title_en="Number of signs",
                        minimum="1", maximum="5", required="1")
    assert local.status_code == 200
    form = stored_matter(app, "outdoor-signboard")["form"]
    assert form["properties"]["legal_representative"] == {
        "$ref": "https://onething.example/fields/legal_representative"}
    assert form["properties"]["sign_count"] == {
        "type": "integer", "title": {"zh-Hans": "招牌数量", "en": "Number of signs"},
        "minimum": 1, "maximum": 5}
    assert {"legal_representative", "sign_count"} <= set(form["required"])
    # The raw JSON shown is the definition as saved.
    raw = html.unescape(re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', local.text,
                                  re.S).group(1))
    assert json.loads(raw)["form"]["properties"]["sign_count"]["maximum"] == 5

    optional = edit_matter(client, app, token, "/fields/sign_count/required", required="false")
    assert optional.status_code == 200
    assert "sign_count" not in stored_matter(app, "outdoor-signboard")["form"]["required"]
    edit_matter(client, app, token, "/fields/sign_count/remove")
    assert "sign_count" not in stored_matter(app, "outdoor-signboard")["form"]["properties"]
    bad = edit_matter(client, app, token, "/fields", source="local", key="Bad Key",
                      type="string", title_zh="x")
    assert bad.status_code == 422 and "A key is" not in bad.text  # localized
    assert "键名由小写字母" in bad.text


@pytest.mark.parametrize("options", ["a=甲\na=乙", "a=甲\n=丙"])
def test_a_local_fields_options_each_need_a_value_of_their_own(app, admin, options):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    refused = edit_matter(client, app, token, "/fields", source="local", key="sign_colour",
                          type="string", title_zh="招牌颜色", options=options)
    # Said at the options, what was typed kept; nothing saved.
    assert refused.status_code == 422
    assert 'id="f-options-error"' in refused.text, refused.text[:3000]
    assert 'href="#f-options-field"' in refused.text
    assert html.escape(options) in refused.text
    assert stored_matter(app, "outdoor-signboard") == before


def test_materials_are_rows_with_their_flags(app, admin):
    client, token = admin
    added = edit_matter(client, app, token, "/materials", id="lease-contract",
                        name_zh="租赁合同", necessity="deferrable", commitment="1")
    assert added.status_code == 200
    material = next(m for m in stored_matter(app, "outdoor-signboard")["materials"]
                    if m["id"] == "lease-contract")
    assert material["necessity"] == "deferrable" and material["commitment"] is True
    edit_matter(client, app, token, "/materials/lease-contract", necessity="required",
                shared_data="1")
    material = next(m for m in stored_matter(app, "outdoor-signboard")["materials"]
                    if m["id"] == "lease-contract")
    assert material["necessity"] == "required" and material.get("shared_data") is True
    assert "commitment" not in material
    edit_matter(client, app, token, "/materials/lease-contract/remove")
    assert all(m["id"] != "lease-contract"
               for m in stored_matter(app, "outdoor-signboard")["materials"])


def test_guide_elements_are_a_form(app, admin):
    client, token = admin
    saved = edit_matter(client, app, token, "/guide", handling="promised", legal_days="20",
                        promised_days="3", visits="0", consult_phone="0532-12345678",
                        complaint_phone="12345", **{"hours.zh-Hans": "工作日 9:00-17:00",
                                                    "hours.en": "Weekdays 9:00-17:00"})
    assert saved.status_code == 200
    data = stored_matter(app, "outdoor-signboard")
    assert data["time_limit"]["promised_days"] == 3 and data["visits"] == 0
    assert "counting" not in data["time_limit"]  # working days, the default, left unsaid
    assert data["hours"] == {"zh-Hans": "工作日 9:00-17:00", "en": "Weekdays 9:00-17:00"}
    refused = edit_matter(client, app, token, "/guide", legal_days="x", promised_days="3",
                          visits="0")
    assert refused.status_code == 422
    assert stored_matter(app, "outdoor-signboard")["time_limit"]["legal_days"] == 20


def test_the_guide_form_chooses_how_the_time_limits_count(app, admin):
    client, token = admin
    limits = {"legal_days": "30", "promised_days": "15", "visits": "1"}
    saved = edit_matter(client, app, token, "/guide", counting="calendar_days", **limits)
    assert saved.status_code == 200
    assert stored_matter(app, "outdoor-signboard")["time_limit"]["counting"] == "calendar_days"
    assert '<option value="calendar_days" selected>' in saved.text
    # A form without the choice keeps it; working days are said again once said.
    edit_matter(client, app, token, "/guide", **limits)
    assert stored_matter(app, "outdoor-signboard")["time_limit"]["counting"] == "calendar_days"
    edit_matter(client, app, token, "/guide", counting="working_days", **limits)
    assert stored_matter(app, "outdoor-signboard")["time_limit"]["counting"] == "working_days"
    refused = edit_matter(client, app, token, "/guide", counting="lunar_days", **limits)
    assert refused.status_code == 422
    assert stored_matter(app, "outdoor-signboard")["time_limit"]["counting"] == "working_days"


# --- a refused row form keeps what was typed, and says at its input what to put right -------


def refuse_matter(client, app, token, path: str, htmx: bool, **data):
    """Post one of the matter editor's forms in English, with htmx or as a whole page."""
    response = client.post(f"/admin/matters/outdoor-signboard{path}", data={
        "csrf_token": token, "revision": revision(app, "matter", "outdoor-signboard"), **data},
        query_string={"lang": "en"}, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == 422, response.text[:2000]
    # A whole page without JavaScript; the editor alone for htmx to swap in.
    assert ("<html" in response.text) is not htmx
    return response.text


def tag(page: str, element_id: str) -> str:
    found = re.search(rf'<(?:input|select|textarea) id="{element_id}"[^>]*>', page)
    assert found, f"no #{element_id}"
    return found.group(0)


def value_of(page: str, element_id: str) -> str:
    """What an input shows: its value, a textarea's text, a select's selected option."""
    opening = tag(page, element_id)
    if opening.startswith("<input"):
        return html.unescape(re.search(r'value="([^"]*)"', opening).group(1))
    closing = "</textarea>" if opening.startswith("<textarea") else "</select>"
    inner = page[page.index(opening) + len(opening):].split(closing, 1)[0]
    if opening.startswith("<textarea"):
        return html.unescape(inner)
    return re.search(r'<option value="([^"]*)" selected>', inner).group(1)


def said_at(page: str, element_id: str) -> str | None:
    """The message at an input, linked to it by aria-describedby; None if it has none."""
    opening = tag(page, element_id)
    if 'aria-invalid="true"' not in opening:
        return None
    assert f'aria-describedby="{element_id}-error"' in opening
    return html.unescape(re.search(rf'<p class="error" id="{element_id}-error">([^<]*)</p>',
                                   page).group(1))


def checked(page: str, form_action: str, name: str) -> bool:
    form = re.search(rf'action="{re.escape(form_action)}".*?</form>', page, re.S).group(0)
    return bool(re.search(rf'<input type="checkbox" name="{name}" value="1" checked>', form))


LOCAL_FIELD = {"source": "local", "key": "sign_count", "type": "integer",
               "title_zh": "招牌数量", "title_hant": "招牌數量", "title_en": "Number of signs",
               "minimum": "1", "maximum": "5", "max_length": "", "options": "a=甲\nb=乙",
               "required": "1"}


@pytest.mark.parametrize("typed, at, message", [
    ({"key": "Sign Count"}, "f-key", "A key is lowercase letters, digits and _"),
    ({"key": "signboard_text"}, "f-key", "already has a field with that key"),
    ({"title_zh": " "}, "f-title", "A field needs its title in 简体中文."),
    ({"minimum": "one"}, "f-min", "The minimum is a number"),
    ({"maximum": "2.5"}, "f-max", "a whole number for an integer field"),
    ({"minimum": "9"}, "f-min", "The minimum is above the maximum"),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_a_refused_field_keeps_what_was_typed_and_says_which_input_is_wrong(
        app, admin, typed, at, message, htmx):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    typed = {**LOCAL_FIELD, **typed}
    page = refuse_matter(client, app, token, "/fields", htmx, **typed)
    for element_id, name in (("f-key", "key"), ("f-type", "type"), ("f-title", "title_zh"),
                             ("f-title-hant", "title_hant"), ("f-title-en", "title_en"),
                             ("f-min", "minimum"), ("f-max", "maximum"),
                             ("f-maxlen", "max_length"), ("f-options", "options")):
        assert value_of(page, element_id) == typed[name], element_id
    assert checked(page, "/admin/matters/outdoor-signboard/fields", "required")
    assert message in said_at(page, at)
    # Only that input is marked; the summary above says it too, for a screen reader.
    assert [i for i in ("f-key", "f-title", "f-min", "f-max") if said_at(page, i)] == [at]
    summary = re.search(r'<div class="error summary" role="alert" id="error-summary">(.*?)</div>',
                        page, re.S).group(1)
    assert message in re.search(rf'<a href="#{at}-field">([^<]*)</a>', summary).group(1)
    assert f'<div class="field invalid" id="{at}-field">' in page
    assert "<details open>\n    <summary>Add a field of this matter only" in page
    assert stored_matter(app, "outdoor-signboard") == before


def test_a_field_wrong_in_several_inputs_says_each_in_chinese(app, admin):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    page = edit_matter(client, app, token, "/fields", **{
        **LOCAL_FIELD, "key": "1st", "title_zh": "", "max_length": "-3", "type": "string"})
    assert page.status_code == 422
    assert said_at(page.text, "f-key") == "键名由小写字母、数字和下划线组成，以字母开头。"
    assert said_at(page.text, "f-title") == "字段需要简体中文标题。"
    assert said_at(page.text, "f-maxlen") == "最大长度须为 0 或以上的整数（字符数）。"
    assert value_of(page.text, "f-type") == "string" and value_of(page.text, "f-maxlen") == "-3"
    assert stored_matter(app, "outdoor-signboard") == before


def test_a_refused_shared_field_keeps_its_choice(app, admin):
    client, token = admin
    page = refuse_matter(client, app, token, "/fields", True, source="library",
                         library_key="entity_name")
    assert said_at(page, "library-key") == "This matter already has a field with that key."
    assert not checked(page, "/admin/matters/outdoor-signboard/fields", "required")


@pytest.mark.parametrize("typed, at, message", [
    ({"id": "Lease"}, "m-id", "A material's id is 3–64 lowercase letters"),
    ({"id": "signboard-design"}, "m-id", "already has a material with that id"),
    ({"name_zh": "  "}, "m-name", "A material needs its name in 简体中文."),
])
@pytest.mark.parametrize("htmx", [True, False])
def test_a_refused_material_keeps_what_was_typed(app, admin, typed, at, message, htmx):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    typed = {"id": "lease-contract", "name_zh": "租赁合同", "necessity": "deferrable",
             "commitment": "1", "shared_data": "1", **typed}
    page = refuse_matter(client, app, token, "/materials", htmx, **typed)
    assert (value_of(page, "m-id"), value_of(page, "m-name"), value_of(page, "m-necessity")) == (
        typed["id"], typed["name_zh"], "deferrable")
    for flag in ("commitment", "shared_data"):
        assert checked(page, "/admin/matters/outdoor-signboard/materials", flag)
    assert message in said_at(page, at)
    assert "<details open>\n    <summary>Add a material" in page
    assert stored_matter(app, "outdoor-signboard") == before


def test_a_refused_materials_flags_stay_as_ticked_in_its_row(app, admin):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    page = refuse_matter(client, app, token, "/materials/signboard-design", True,
                         necessity="sometimes", commitment="1", shared_data="1")
    action = "/admin/matters/outdoor-signboard/materials/signboard-design"
    assert checked(page, action, "commitment") and checked(page, action, "shared_data")
    assert said_at(page, "material-signboard-design-necessity") == (
        "Choose required, optional or can be supplied later.")
    # The other rows show what is stored, without a message.
    assert not checked(page, "/admin/matters/outdoor-signboard/materials/business-licence",
                       "commitment")
    assert said_at(page, "material-business-licence-necessity") is None
    assert stored_matter(app, "outdoor-signboard") == before


@pytest.mark.parametrize("htmx", [True, False])
def test_a_refused_guide_keeps_every_value_typed_and_names_each_wrong_count(app, admin, htmx):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    typed = {"handling": "on_the_spot", "counting": "calendar_days", "legal_days": "二十",
             "promised_days": "3", "visits": "11", "consult_phone": "0532-1",
             "complaint_phone": "12345", "fee_charged": "true", "fee.zh-Hans": "按面积收费",
             "location.zh-Hans": "市民中心", "hours.en": "Weekdays",
             "conditions.zh-Hans": "第一条\n第二条", "conditions.en": "First"}
    page = refuse_matter(client, app, token, "/guide", htmx, **typed)
    for element_id, name in (("g-handling", "handling"), ("g-counting", "counting"),
                             ("g-legal", "legal_days"), ("g-promised", "promised_days"),
                             ("g-visits", "visits"), ("g-consult", "consult_phone"),
                             ("g-complaint", "complaint_phone"), ("g-fee", "fee_charged"),
                             ("g-fee-zh-Hans", "fee.zh-Hans"),
                             ("g-location-zh-Hans", "location.zh-Hans"),
                             ("g-hours-en", "hours.en"),
                             ("g-conditions-zh-Hans", "conditions.zh-Hans"),
                             ("g-conditions-en", "conditions.en")):
        assert value_of(page, element_id) == typed[name], element_id
    assert said_at(page, "g-legal") == (
        "The legal time limit is a whole number of days, 0 to 365.")
    assert said_at(page, "g-visits") == "Visits on site are a whole number, 0 to 10."
    assert said_at(page, "g-promised") is None
    # The labels follow the counting chosen.
    assert "Legal time limit (calendar days)" in page
    assert stored_matter(app, "outdoor-signboard") == before


@pytest.mark.parametrize(("typed", "said"), [
    ({"handling": "promised", "legal_days": "10", "promised_days": "15"},
     "The promised limit cannot be longer than the legal limit."),
    ({"handling": "on_the_spot", "legal_days": "10", "promised_days": "3"},
     "A matter decided on the spot promises 0 days."),
])
def test_a_guide_promising_what_publishing_refuses_is_refused_at_its_input(
        app, admin, typed, said):
    # Saved, it would only be refused at publish, far from the input that is wrong.
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    page = refuse_matter(client, app, token, "/guide", True, visits="1", **typed)
    assert said_at(page, "g-promised") == said
    assert value_of(page, "g-promised") == typed["promised_days"]
    assert stored_matter(app, "outdoor-signboard") == before


def test_a_refused_raw_json_save_says_it_was_not_saved(app, admin):
    client, token = admin
    before = stored_matter(app, "outdoor-signboard")
    text = json.dumps({**before, "visits": "一次"}, ensure_ascii=False)
    refused = client.post("/admin/matters/outdoor-signboard", data={
        "csrf_token": token, "text": text,
        "revision": revision(app, "matter", "outdoor-signboard")})
    assert refused.status_code == 422
    assert 'class="error" role="status" id="editor-message">未保存' in refused.text
    assert stored_matter(app, "outdoor-signboard") == before


def test_a_row_saved_without_javascript_says_it_was_saved(app, admin):
    client, token = admin
    saved = client.post("/admin/matters/outdoor-signboard/materials", data={
        "csrf_token": token, "revision": revision(app, "matter", "outdoor-signboard"),
        "id": "lease-contract", "name_zh": "租赁合同", "necessity": "required"})
    assert saved.status_code == 302
    page = client.get(saved.headers["Location"]).text
    assert 'class="notice" role="status" id="editor-message">已保存' in page
    # The plain editor says nothing of the kind.
    assert 'id="editor-message"' not in client.get("/admin/matters/outdoor-signboard").text


def test_the_editor_names_field_types_in_the_page_language(app, admin):
    client, token = admin
    edit_matter(client, app, token, "/fields", key="sign_count", type="integer",
                title_zh="招牌数量")
    page = client.get("/admin/matters/outdoor-signboard").text
    row = re.search(r'<tr[^>]*>\s*<td><code>sign_count</code>.*?</tr>', page, re.S).group(0)
    assert "<td>整数</td>" in row
    assert '<option value="integer" >整数</option>' in page or (
        '<option value="integer">整数</option>' in page)
    assert "<td>string</td>" not in page and "→" not in page


def test_the_editors_row_forms_leave_their_refusals_to_the_server(admin):
    # The browser's own bubble ("Please match the requested format") says less than the
    # server's message at the input, and stops the post that would bring it.
    client, _ = admin
    page = client.get("/admin/matters/outdoor-signboard").text
    for form in re.findall(r"<form [^>]*>", page):
        if any(path in form for path in ("/fields\"", "/materials\"", "/guide\"")):
            assert "novalidate" in form, form


def test_a_class_of_things_takes_whole_bundles_found_by_search(app, admin):
    client, token = admin
    client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": "start-a-care-business", "name_zh": "养老服务创业",
        "kind": "one_class", "matter": "business-registration"})
    rev = revision(app, "bundle", "start-a-care-business")
    found = client.get(f"/admin/bundles/start-a-care-business/matters?q=yanglao&revision={rev}")
    assert 'name="bundle" value="open-care-home"' in found.text
    added = client.post("/admin/bundles/start-a-care-business/items", data={
        "csrf_token": token, "revision": rev, "bundle": "open-care-home"},
        headers={"HX-Request": "true"})
    assert added.status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        stored = json.loads(session.exec(select(CatalogEntry.text).where(
            CatalogEntry.code == "start-a-care-business")).one())
    assert {"bundle": "open-care-home"} in stored["items"]
    # A plain 一件事 is offered matters only.
    plain = client.get("/admin/bundles/open-restaurant/matters?q=yanglao").text
    assert 'name="bundle"' not in plain


def test_the_routing_diagram_starts_each_approval_where_what_it_waits_for_ends(demo_catalog):
    from onething.composer.compose import compose
    from onething_admin.diagram import routing_diagram

    answers = {"has_business_licence": False, "public_gathering_place": True,
               "fire_route": "commitment", "outdoor_signboard": True, "sells_tobacco": True}
    plan = compose(demo_catalog.bundle("open-restaurant"), answers).plan
    diagram = routing_diagram(plan)
    bars = {bar.matter: bar for bar in diagram.bars}
    registration, food = bars["business-registration"], bars["food-business-licence"]
    assert food.x == registration.x + registration.width
    assert food.critical and registration.critical and not bars["outdoor-signboard"].critical
    assert len(diagram.arrows) == sum(len(step.waits_for) for step in plan.steps)
    assert diagram.days == plan.critical_path_days == 5


def test_the_routing_diagram_draws_a_calendar_day_step_as_its_working_days(mini_root):
    from onething.composer.compose import compose
    from onething.publishing.check import load_catalog
    from onething_admin.diagram import DAY, routing_diagram

    from conftest import CALENDAR_GAMMA, apply_edits

    apply_edits(mini_root, CALENDAR_GAMMA)
    plan = compose(load_catalog(mini_root).bundles["mini-bundle"], {"wants_sign": True}).plan
    diagram = routing_diagram(plan)
    bars = {bar.matter: bar for bar in diagram.bars}
    alpha, gamma = bars["alpha"], bars["gamma"]
    assert gamma.x == alpha.x + alpha.width and gamma.width == 10 * DAY
    assert (gamma.days, gamma.counting) == (14, "calendar_days")
    assert diagram.days == plan.critical_path_days == 12


def test_the_routing_diagrams_names_stay_in_their_column(app, admin):
    from onething_admin.diagram import LABEL

    client, _ = admin
    page = client.get("/admin/bundles/open-restaurant").text
    svg = re.search(r'<svg id="routing-diagram".*?</svg>', page, re.S).group(0)
    names = re.findall(r'<text x="4" y="\d+" font-size="12">([^<]+)</text>', svg)
    assert len(names) == 6
    # A Chinese character is about as wide as the font is tall (12 px).
    assert all(4 + 12 * len(name) <= LABEL for name in names), names
    assert "公众聚集场所投入使用、营业前消…" in names


def test_conditions_and_fee_are_part_of_the_guide_form(app, admin):
    client, token = admin
    saved = edit_matter(client, app, token, "/guide", legal_days="20", promised_days="2",
                        visits="1", fee_charged="false", **{
                            "conditions.zh-Hans": "招牌位于经营场所外立面\n内容与营业执照一致",
                            "conditions.en": "On the business's façade\nMatches the licence",
                            "fee.zh-Hans": "不收费"})
    assert saved.status_code == 200
    data = stored_matter(app, "outdoor-signboard")
    assert data["conditions"] == [
        {"zh-Hans": "招牌位于经营场所外立面", "en": "On the business's façade"},
        {"zh-Hans": "内容与营业执照一致", "en": "Matches the licence"}]
    assert data["fee"]["charged"] is False and data["fee"]["basis"] == {"zh-Hans": "不收费"}
    # The form shows what is stored, so saving it unchanged changes nothing.
    page = client.get("/admin/matters/outdoor-signboard").text
    assert "招牌位于经营场所外立面\n内容与营业执照一致" in page


def test_a_charged_service_lists_its_fee_items_in_the_guide_form(app, admin):
    client, token = admin
    guide = {"legal_days": "20", "promised_days": "2", "visits": "1", "fee_charged": "true",
             "fee.zh-Hans": "按规定收取"}
    # Charged with no item: refused at the items, what was typed kept.
    refused = edit_matter(client, app, token, "/guide", fee_items="", **guide)
    assert refused.status_code == 422
    assert 'id="g-fee-items-error"' in refused.text
    half = edit_matter(client, app, token, "/guide", fee_items="招牌审核费", **guide)
    assert half.status_code == 422 and ">招牌审核费</textarea>" in half.text
    saved = edit_matter(client, app, token, "/guide", **guide, fee_items=(
        "招牌审核费 | 每块 50 元 | 《某市收费目录》\n工本费｜10元/份"))
    assert saved.status_code == 200, saved.text[:300]
    fee = stored_matter(app, "outdoor-signboard")["fee"]
    assert fee["charged"] is True and fee["items"] == [
        {"name": {"zh-Hans": "招牌审核费"}, "standard": {"zh-Hans": "每块 50 元"},
         "basis": {"zh-Hans": "《某市收费目录》"}},
        {"name": {"zh-Hans": "工本费"}, "standard": {"zh-Hans": "10元/份"}}]
    # Shown as saved, so saving it unchanged changes nothing; the guide lists the items.
    page = client.get("/admin/matters/outdoor-signboard").text
    assert "招牌审核费 | 每块 50 元 | 《某市收费目录》" in html.unescape(page)
    # Free again: the items go.
    edit_matter(client, app, token, "/guide", **{**guide, "fee_charged": "false"},
                fee_items="")
    assert "items" not in stored_matter(app, "outdoor-signboard")["fee"]


def form_values(page: str, form_class: str) -> dict[str, str]:
    """What a form of the page posts as shown: its inputs, selected options and textareas."""
    from html.parser import HTMLParser

    class Form(HTMLParser):
        def __init__(self):
            super().__init__()
            self.inside, self.values, self.select, self.textarea = False, {}, None, None

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            if tag == "form":
                self.inside = form_class in (attrs.get("class") or "").split()
            elif self.inside and tag == "input" and attrs.get("name"):
                if attrs.get("type") not in ("checkbox", "radio") or "checked" in attrs:
                    self.values[attrs["name"]] = attrs.get("value") or ""
            elif self.inside and tag == "select":
                self.select = attrs.get("name")
            elif self.inside and tag == "option" and self.select and "selected" in attrs:
                self.values[self.select] = attrs.get("value") or ""
            elif self.inside and tag == "textarea":
                self.textarea = attrs.get("name")
                self.values[self.textarea] = ""

        def handle_endtag(self, tag):
            if tag == "form":
                self.inside = False
            elif tag == "select":
                self.select = None
            elif tag == "textarea":
                self.textarea = None

        def handle_data(self, data):
            if self.textarea:
                self.values[self.textarea] += data

    parser = Form()
    parser.feed(page)
    return parser.values


@pytest.mark.parametrize("lang", ["en", "zh-Hant", "zh-Hans"])
def test_the_guide_form_saved_unchanged_in_any_language_keeps_the_fee_items(app, admin, lang):
    client, token = admin
    before = stored_matter(app, "sea-area-use-approval")["fee"]
    page = client.get(f"/admin/matters/sea-area-use-approval?lang={lang}").text
    values = form_values(page, "guide-form")
    # The items are written in 简体中文 whatever the page's language: that is what is read.
    assert values["fee_items"].startswith("海域使用金 | 按国家和山东省海域使用金征收标准执行")
    saved = client.post("/admin/matters/sea-area-use-approval/guide", data={
        **values, "csrf_token": token,
        "revision": revision(app, "matter", "sea-area-use-approval")},
        headers={"HX-Request": "true"})
    assert saved.status_code == 200, saved.text[:500]
    # Translations and the amount's formula (the online estimate) are kept.
    assert stored_matter(app, "sea-area-use-approval")["fee"] == before


def test_a_matter_can_apply_for_several_answers_of_one_question(app, admin):
    client, token = admin
    with Session(app.extensions["onething.engine"]) as session:
        data = json.loads(next(e.text for e in entries(session, "bundle")
                               if e.code == "open-restaurant"))
    options = [json.dumps(o["const"], ensure_ascii=False)
               for o in data["questions"]["properties"]["fire_route"]["oneOf"]]
    index = next(i for i, item in enumerate(data["items"])
                 if item.get("matter") == "fire-safety-check")
    picked = client.post(f"/admin/bundles/open-restaurant/items/{index}/when", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-restaurant"),
        "condition": [f"fire_route={value}" for value in options]},
        headers={"HX-Request": "true"})
    assert picked.status_code == 200
    assert "<small>消防安全检查办理方式 = 告知承诺 / 现场检查</small>" in picked.text
    with Session(app.extensions["onething.engine"]) as session:
        stored = json.loads(next(e.text for e in entries(session, "bundle")
                                 if e.code == "open-restaurant"))
    assert stored["items"][index]["when"] == {
        "properties": {"fire_route": {"enum": [json.loads(v) for v in options]}},
        "required": ["fire_route"]}
    mixed = client.post(f"/admin/bundles/open-restaurant/items/{index}/when", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-restaurant"),
        "condition": [f"fire_route={options[0]}", "sells_tobacco=true"]},
        headers={"HX-Request": "true"})
    assert mixed.status_code == 422  # one question per condition
    always = client.post(f"/admin/bundles/open-restaurant/items/{index}/when", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-restaurant")},
        headers={"HX-Request": "true"})
    assert always.status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        stored = json.loads(next(e.text for e in entries(session, "bundle")
                                 if e.code == "open-restaurant"))
    assert "when" not in stored["items"][index]


def test_a_question_a_condition_uses_cannot_be_removed():
    # Removing it would make those items apply always: refused, naming them. A question key
    # that happens to appear inside another condition's text ("a" in "has_licence" and in
    # the answer "chain") is not named by that condition.
    from onething_admin.editing import QuestionInUse, remove_question

    bundle = {
        "questions": {"properties": {"a": {"type": "boolean"},
                                     "has_licence": {"type": "string"},
                                     "unused": {"type": "boolean"}},
                      "required": ["a", "has_licence", "unused"]},
        "items": [
            {"matter": "x", "when": {"properties": {"a": {"const": True}}, "required": ["a"]}},
            {"matter": "y", "when": {"properties": {"has_licence": {"const": "chain"}},
                                     "required": ["has_licence"]}},
            {"matter": "z"},
        ],
    }
    with pytest.raises(QuestionInUse) as refused:
        remove_question(bundle, "a")
    assert refused.value.items == ["x"]
    changed = remove_question(bundle, "unused")
    assert changed["items"] == bundle["items"]
    assert changed["questions"] == {"properties": {"a": {"type": "boolean"},
                                                   "has_licence": {"type": "string"}},
                                    "required": ["a", "has_licence"]}


def test_a_damaged_zip_is_refused_in_the_console_and_its_upload_removed(app, admin, tmp_path):
    import zipfile
    from pathlib import Path

    client, token = admin
    archive = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("schemas/fields/x.json", '{"a": "' + "x" * 200 + '"}')
    data = bytearray(archive.read_bytes())
    data[data.find(b"xxxx")] = ord("y")  # the content no longer fits its CRC
    refused = upload(client, token, bytes(data))
    assert refused.status_code == 422 and "无法解压压缩包" in refused.text
    client.get("/admin/?lang=en")  # the choice is kept in a cookie
    refused = upload(client, token, bytes(data))
    assert refused.status_code == 422 and "cannot be unpacked" in refused.text
    pending = Path(app.instance_path) / "files" / "imports-pending"
    assert pending.is_dir() and not list(pending.glob("*.zip"))  # it was there, and removed


# --- what a bundle holds, edited in the bundle editor -----------------------------------------


def stored_bundle(app, code: str = "open-restaurant") -> dict:
    with Session(app.extensions["onething.engine"]) as session:
        return json.loads(next(e.text for e in entries(session, "bundle") if e.code == code))


def edit_restaurant(client, app, token, path: str, language: str = "zh-Hans", **data):
    return client.post(f"/admin/bundles/open-restaurant{path}", data={
        "csrf_token": token, "revision": revision(app, "bundle", "open-restaurant"), **data},
        query_string={"lang": language}, headers={"HX-Request": "true"})


def test_the_bundles_own_properties_are_a_form(app, admin):
    client, token = admin
    page = client.get("/admin/bundles/open-restaurant?lang=en").text
    # The lead is shown, and so is which one applies when none is chosen.
    hint = re.search(r'<small id="lead-hint">([^<]*)</small>', page).group(1)
    assert hint.startswith("Now: ") and "When none is chosen, the lead is the first matter" in hint
    saved = edit_restaurant(client, app, token, "/properties", **{
        "description.zh-Hans": "开饭店", "description.en": "Open a restaurant",
        "keywords": "饭店，餐馆\n饭店、小吃", "audience": "enterprise", "theme": "operation",
        "release": "per_matter", "lead_department": "sn-amr"})
    assert saved.status_code == 200
    data = stored_bundle(app)
    assert data["description"] == {"zh-Hans": "开饭店", "en": "Open a restaurant"}
    assert data["keywords"] == ["饭店", "餐馆", "小吃"]
    assert (data["audience"], data["theme"], data["release"], data["lead_department"]) == (
        "enterprise", "operation", "per_matter", "sn-amr")
    # Emptied, the optional keys go (the platform's defaults apply).
    edit_restaurant(client, app, token, "/properties", audience="", theme="", keywords="",
                    release="together", lead_department="sn-amr")
    data = stored_bundle(app)
    assert not {"audience", "theme", "keywords", "description"} & set(data)


def test_a_one_class_bundle_is_edited_with_what_its_nested_bundles_hold(app, admin):
    client, _token = admin
    page = client.get("/admin/bundles/restaurant-from-fit-out?lang=en").text
    lead = page[page.index('id="lead-department"'):page.index("</select>", page.index(
        'id="lead-department"'))]
    offered = re.findall(r'<option value="([^"]+)"', lead)
    # The nested bundles' leads and their matters' departments, each once, none marked
    # as having no matter here.
    assert {"sn-approval", "sn-housing", "sn-amr", "sn-fire", "qd-natural-resources"} <= set(
        offered) and len(offered) == len(set(offered))
    assert "no matter of this bundle is theirs" not in lead
    items = page[page.index('class="items"'):page.index("</table>", page.index('class="items"'))]
    # Each nested bundle by its name, its condition in words (a choice among several).
    assert "Opening a restaurant" in items
    assert 'data-item="open-restaurant"' in items and ">open-restaurant<" not in items
    assert "Which stages do you need? ∋ Opening" in items and "contains" not in items


@pytest.mark.parametrize("field, value, message", [
    ("audience", "aliens", "Choose people or businesses."),
    ("release", "someday", "Choose together or per matter."),
    ("theme", "Not A Code", "Choose one of the listed life events or stages."),
    ("lead_department", "nowhere-office", "one of the departments of the bundle's matters"),
    ("description.en", "English only", "A description needs its 简体中文 text"),
])
def test_a_wrong_property_is_refused_at_its_field_and_changes_nothing(
        app, admin, field, value, message):
    client, token = admin
    before = stored_bundle(app)
    refused = edit_restaurant(client, app, token, "/properties", language="en",
                              **{"lead_department": "sn-approval", field: value})
    assert refused.status_code == 422
    name = field.partition(".")[0]
    error = re.search(rf'<p class="error" id="{name}-error">([^<]*)</p>', refused.text)
    assert error, refused.text[:2000]
    assert message in error.group(1)
    assert stored_bundle(app) == before


def test_a_question_is_edited_in_place_with_its_help_and_options(app, admin):
    client, token = admin
    opened = client.get("/admin/bundles/open-restaurant/questions/sells_tobacco").text
    assert 'name="help.zh-Hans"' in opened and opened.count('name="title.zh-Hans"') == 1
    saved = edit_restaurant(client, app, token, "/questions/sells_tobacco", **{
        "title.zh-Hans": "是否零售卷烟、雪茄？", "title.en": "Selling tobacco?",
        "help.zh-Hans": "含电子烟", "required": "1"})
    assert saved.status_code == 200 and "含电子烟" in saved.text
    question = stored_bundle(app)["questions"]["properties"]["sells_tobacco"]
    assert question == {"type": "boolean",
                        "title": {"zh-Hans": "是否零售卷烟、雪茄？", "en": "Selling tobacco?"},
                        "description": {"zh-Hans": "含电子烟"}}
    # fire_route is asked but no condition uses it: its options may change, and it may go
    # optional.
    edit_restaurant(client, app, token, "/questions/fire_route", **{
        "title.zh-Hans": "消防办理方式", "options": "promise=告知承诺\ninspect=现场检查"})
    data = stored_bundle(app)["questions"]
    assert [o["const"] for o in data["properties"]["fire_route"]["oneOf"]] == [
        "promise", "inspect"]
    assert "fire_route" not in data.get("required", [])
    # A yes/no a condition uses cannot become options; a title is required.
    before = stored_bundle(app)
    turned = edit_restaurant(client, app, token, "/questions/sells_tobacco", **{
        "title.zh-Hans": "烟草", "options": "a=甲\nb=乙"})
    assert turned.status_code == 422 and "tobacco-retail-licence" in turned.text
    untitled = edit_restaurant(client, app, token, "/questions/sells_tobacco", language="en",
                               **{"title.zh-Hans": " "})
    assert untitled.status_code == 422
    assert 'id="question-error">A question needs its title in 简体中文.' in untitled.text
    assert stored_bundle(app) == before
    # Reordered: asked one place earlier.
    edit_restaurant(client, app, token, "/questions/sells_tobacco/move", direction="up")
    assert list(stored_bundle(app)["questions"]["properties"])[-2:] == [
        "sells_tobacco", "outdoor_signboard"]


def test_a_question_a_condition_uses_is_not_removed_and_the_conditions_are_named(app, admin):
    client, token = admin
    before = stored_bundle(app)
    refused = edit_restaurant(client, app, token, "/questions/has_business_licence/remove")
    assert refused.status_code == 422
    # Named as administrators read them, not by their codes.
    said = re.search(r'id="question-in-use">([^<]*)<', refused.text).group(1)
    assert "营业执照核验" in said or "核验" in said, said
    assert "市场主体设立登记" in said and "business-registration" not in said
    assert stored_bundle(app) == before
    removed = edit_restaurant(client, app, token, "/questions/fire_route/remove")
    assert removed.status_code == 200
    assert "fire_route" not in stored_bundle(app)["questions"]["properties"]


def test_conditions_are_radio_buttons_or_checkboxes_per_question(app, admin):
    client, token = admin
    data = stored_bundle(app)
    index = next(i for i, item in enumerate(data["items"])
                 if item.get("matter") == "fire-safety-check")
    picker = client.get(f"/admin/bundles/open-restaurant/items/{index}/when").text
    assert 'type="checkbox" name="when.fire_route"' in picker
    assert 'type="radio" name="when.public_gathering_place" value="false"' in picker
    options = [json.dumps(o["const"], ensure_ascii=False)
               for o in data["questions"]["properties"]["fire_route"]["oneOf"]]
    several = edit_restaurant(client, app, token, f"/items/{index}/when",
                              **{"when.fire_route": options, "when.public_gathering_place": ""})
    assert several.status_code == 200
    assert stored_bundle(app)["items"][index]["when"] == {
        "properties": {"fire_route": {"enum": [json.loads(v) for v in options]}},
        "required": ["fire_route"]}
    one = edit_restaurant(client, app, token, f"/items/{index}/when",
                          **{"when.public_gathering_place": "false"})
    assert one.status_code == 200
    assert stored_bundle(app)["items"][index]["when"] == {
        "properties": {"public_gathering_place": {"const": False}},
        "required": ["public_gathering_place"]}
    before = stored_bundle(app)
    two = edit_restaurant(client, app, token, f"/items/{index}/when",
                          **{"when.public_gathering_place": "true",
                             "when.fire_route": options[0]})
    assert two.status_code == 422 and "只勾选一个问题的答案" in two.text
    assert stored_bundle(app) == before


def test_a_field_label_is_overridden_for_this_bundles_form_only(app, admin):
    client, token = admin
    opened = client.get("/admin/bundles/open-restaurant/overrides/food-business-licence").text
    assert 'action="/admin/bundles/open-restaurant/overrides/food-business-licence/' \
           'main_business_format"' in opened
    saved = edit_restaurant(client, app, token,
                            "/overrides/food-business-licence/main_business_format", **{
                                "title.zh-Hans": "餐饮业态", "description.zh-Hans": "如火锅、烧烤"})
    assert saved.status_code == 200
    assert stored_bundle(app)["overrides"] == {"food-business-licence": {"main_business_format": {
        "title": {"zh-Hans": "餐饮业态"}, "description": {"zh-Hans": "如火锅、烧烤"}}}}
    preview = re.search(r'id="form-preview">(.*?)</aside>', saved.text, re.S).group(1)
    assert "餐饮业态" in preview and "如火锅、烧烤" in preview
    # Another bundle holding the same matter keeps the matter's own label.
    client.post("/admin/bundles/new", data={
        "csrf_token": token, "code": "open-canteen", "name_zh": "开办食堂", "kind": "one_thing",
        "matter": "food-business-licence"})
    other = client.get("/admin/bundles/open-canteen").text
    assert "食品经营许可" in other and "餐饮业态" not in other
    before = stored_bundle(app)
    unknown = edit_restaurant(client, app, token, "/overrides/food-business-licence/no_such",
                              language="en", **{"title.zh-Hans": "无"})
    assert unknown.status_code == 422
    assert 'id="override-error">Only a field of a matter this bundle holds' in unknown.text
    english = edit_restaurant(client, app, token,
                              "/overrides/food-business-licence/main_business_format",
                              **{"title.en": "Format"})
    assert english.status_code == 422
    assert stored_bundle(app) == before
    # Emptied, the matter's own words come back.
    edit_restaurant(client, app, token, "/overrides/food-business-licence/main_business_format")
    assert "overrides" not in stored_bundle(app)


def test_sign_ins_sent_at_once_never_pass_the_limit(app):
    # Counted before the password is checked: attempts racing each other cannot all slip
    # in between one's check and its record.
    import threading

    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    add_account(app, "admin", "administrator")
    browsers = [app.test_client() for _ in range(8)]
    tokens = [token_of(b.get("/login").text) for b in browsers]
    start = threading.Barrier(len(browsers))
    codes = []

    def guess(browser, token):
        start.wait()
        codes.append(browser.post("/login", data={"username": "admin", "password": "wrong",
                                                  "csrf_token": token}).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(browsers, tokens,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes.count(401) <= 3 and codes.count(429) >= 5


@pytest.mark.parametrize(("typed", "reason", "said"), [
    ({"key": "Fire Route", "title_zh": "消防办理方式"}, "question_key", "键名只能由"),
    ({"key": "fire_route", "title_zh": "消防办理方式"}, "question_taken", "已有使用该键名"),
    ({"key": "route_two", "title_zh": ""}, "question_title", "简体中文"),
    ({"key": "route_two", "title_zh": "方式", "options": "a=甲\n乙丙\n=丁"}, "options", "值=名称"),
    ({"key": "route_two", "title_zh": "方式", "options": "a=甲\na=重复"}, "options", "值=名称"),
])
def test_a_question_refused_keeps_what_was_typed_and_says_which_input_is_wrong(
        app, admin, typed, reason, said):
    client, token = admin
    before = stored_bundle(app)
    refused = edit_restaurant(client, app, token, "/questions", **typed)
    assert refused.status_code == 422
    page = html.unescape(refused.text)
    message = re.search(rf'id="{reason}-error">([^<]+)<', page).group(1)
    assert said in message
    assert f'id="q-key" name="key" pattern="[a-z][a-z0-9_]*" required value="{typed["key"]}"' \
        in page
    if typed.get("options"):
        assert f">{typed['options']}</textarea>" in page
    assert stored_bundle(app) == before  # nothing saved


def test_an_answer_offered_twice_is_refused_at_publish(app, admin):
    # Written in the raw JSON (the question form refuses it): publishing refuses it too.
    client, token = admin
    data = stored_bundle(app)
    data["questions"]["properties"]["fire_route"]["oneOf"].append(
        dict(data["questions"]["properties"]["fire_route"]["oneOf"][0]))
    with Session(app.extensions["onething.engine"]) as session:
        save_definition(session, "bundle", data, based_on=revision(app, "bundle",
                                                                   "open-restaurant"),
                        saved_by="test", metas=read_meta(SCHEMAS))
    published = edit_restaurant(client, app, token, "/publish")
    assert published.status_code == 422
    assert "/questions/properties/fire_route/oneOf" in published.text
    assert "出现了不止一次" in published.text


def test_the_catalogs_changes_are_in_the_audit_log(app, admin):
    client, token = admin
    edit_restaurant(client, app, token, "/questions", key="has_terrace",
                    title_zh="是否设置露天座位？")
    published = edit_restaurant(client, app, token, "/publish")
    assert published.status_code == 200
    with Session(app.extensions["onething.engine"]) as session:
        from onething.storage.models import AuditEntry

        logged = [(e.actor, e.action, e.subject, e.after) for e in session.exec(
            select(AuditEntry).where(AuditEntry.subject == "bundle:open-restaurant")
            .order_by(AuditEntry.id)).all()]
    assert [(actor, action) for actor, action, _, _ in logged] == [
        ("admin", "definition_save"), ("admin", "publish")]
    assert logged[-1][3]["version"] >= 2
    page = client.get("/admin/audit", query_string={"action": "publish"}).text
    assert "发布：对申请人生效" in page and "bundle:open-restaurant" in page
    # A rollback too, and the history says it in the reader's language.
    client.post("/admin/bundles/open-restaurant/rollback",
                data={"csrf_token": token, "number": 1, "confirmed": "yes"})
    history = client.get("/admin/bundles/open-restaurant/history").text
    assert "回退到 v1" in history and "rollback to v1" not in history
    assert "回退到早先的版本" in client.get("/admin/audit",
                                     query_string={"action": "rollback"}).text


def test_a_question_a_matter_needs_is_said_when_the_matter_is_added(app, admin):
    client, token = admin
    create_convenience_store(client, token)
    added = post(client, token, "/items", app, matter="fire-safety-check")
    needed = re.search(r'<li data-needed="fire_route">(.*?)</li>', added.text, re.S)
    assert needed, "the fire route question is not said to be needed"
    # The answer its material depends on (the commitment letter: 告知承诺), the matter by
    # its name.
    assert "(commitment)" in needed.group(1) and "消防" in needed.group(1)
    # Its link fills in the form that adds it; a title, and it is asked.
    link = html.unescape(re.search(r'href="([^"]+)#q-key"', needed.group(1)).group(1))
    form = client.get(link).text
    assert 'id="q-key" name="key" pattern="[a-z][a-z0-9_]*" required value="fire_route"' in form
    options = html.unescape(re.search(r'id="q-options" name="options" rows="2">([^<]*)<',
                                      form).group(1))
    assert options.split() == ["commitment"]
    asked = post(client, token, "/questions", app, key="fire_route", title_zh="消防办理方式",
                 options="commitment=告知承诺\ninspection=现场检查")
    assert asked.status_code == 200 and 'data-needed="fire_route"' not in asked.text


def test_a_yes_or_no_question_a_matter_needs_is_filled_in_as_yes_or_no(app, admin):
    client, token = admin
    create_convenience_store(client, token)
    added = post(client, token, "/items", app, matter="birth-household-registration")
    needed = re.search(r'<li data-needed="parents_married">(.*?)</li>', added.text, re.S)
    assert needed and "(是, 否)" in needed.group(1), needed and needed.group(1)
    link = html.unescape(re.search(r'href="([^"]+)#q-key"', needed.group(1)).group(1))
    form = client.get(link).text
    # No options: the form then adds a yes/no question, whose true and false the
    # material's conditions name (options "True" and "False" would never match them).
    assert re.search(r'id="q-options" name="options" rows="2"></textarea>', form)
    asked = post(client, token, "/questions", app, key="parents_married", title_zh="父母是否已婚")
    assert asked.status_code == 200 and 'data-needed="parents_married"' not in asked.text
    with Session(app.extensions["onething.engine"]) as session:
        bundle = json.loads(next(e.text for e in entries(session, "bundle")
                                 if e.code == "open-convenience-store"))
    assert bundle["questions"]["properties"]["parents_married"]["type"] == "boolean"


def test_an_import_of_a_file_that_is_no_zip_says_so(app, admin):
    client, token = admin
    refused = upload(client, token, b"matter.json is not an archive")
    assert refused.status_code == 422 and "不是 zip 压缩包" in refused.text
    # A bundle not published, asked for by its code: said as a service, not a matter.
    assert "该服务尚未发布" in app.test_client().get("/b/no-such-bundle").text


def test_a_condition_on_two_questions_says_one_question_is_the_rule(app, admin):
    client, token = admin
    before = stored_bundle(app)
    refused = edit_restaurant(client, app, token, "/items/2/when", **{
        "when.sells_tobacco": "true", "when.outdoor_signboard": "true"})
    assert refused.status_code == 422
    assert "只勾选一个问题的答案" in refused.text
    assert stored_bundle(app) == before


def test_every_field_row_names_its_type_in_words(admin):
    client, _ = admin
    page = client.get("/admin/matters/business-registration").text
    rows = re.findall(r'<tr data-field="([^"]+)">(.*?)</tr>', page, re.S)
    assert len(rows) > 5
    types = {key: re.findall(r"<td>([^<]*)</td>", row)[2].strip() for key, row in rows}
    # Library fields too (behind their $ref), and a group in words, never "object".
    assert all(types.values()), types
    assert types["legal_representative"] == "一组字段"
    assert types["entity_name"] == "文本"
    assert not {"object", "string", "array"} & set(types.values())
