"""New matters and departments in the console: built from forms, refused field by field,
nothing typed lost, and a new matter published and opened by applicants."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlmodel import Session

from onething.publishing.working_catalog import find_entry
from onething.storage.models import CatalogEntry
from test_admin import add_account, all_entries, revision, sign_in

MATTER = {
    "name_zh": "犬只登记", "name_en": "Dog registration", "code": "dog-registration",
    "department": "qd-amr", "category": "administrative_confirmation",
    "serves": "natural_person", "handling": "promised", "legal_days": "20",
    "promised_days": "５", "visits": "1", "legal_basis": "青岛市养犬管理条例",
    "legal_basis_article": "第十条", "conditions": "在本市居住的成年人\n\n住所有犬只适宜的场所",
    "result_type": "certificate", "result_name": "养犬登记证", "location": "", "hours": "",
    "consult_phone": "", "complaint_phone": "",
}
DEPARTMENT = {
    "name_zh": "青岛市城市管理局犬类管理中心", "short_name_zh": "犬管中心", "code": "qd-dog-centre",
    "level": "city", "parent": "qd-amr", "address": "青岛市市南区香港中路1号",
    "office_hours": "周一至周五 9:00—17:00", "consult_phone": "0532 8000 1234",
    "complaint_phone": "",
}


@pytest.fixture
def console(app, client):
    """A signed-in administrator's browser: (client, its CSRF token)."""
    add_account(app, "admin", "administrator")
    return client, sign_in(client)


def definition(app, kind: str, code: str) -> dict | None:
    with Session(app.extensions["onething.engine"]) as session:
        entry = find_entry(session, kind, code)
        return None if entry is None else json.loads(entry.text)


def test_a_new_matter_is_built_from_its_guide_elements_and_opens_in_the_editor(app, console):
    client, token = console
    response = client.post("/admin/matters/new", data={"csrf_token": token, **MATTER})
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/matters/dog-registration"
    matter = definition(app, "matter", "dog-registration")
    assert matter["name"] == {"zh-Hans": "犬只登记", "en": "Dog registration"}
    # A full-width digit typed through an IME is a digit.
    assert matter["time_limit"] == {"legal_days": 20, "promised_days": 5}
    assert [c["zh-Hans"] for c in matter["conditions"]] == [
        "在本市居住的成年人", "住所有犬只适宜的场所"]
    assert matter["legal_basis"] == [{"name": {"zh-Hans": "青岛市养犬管理条例"},
                                      "article": {"zh-Hans": "第十条"}}]
    # Left empty, where and when are the department's, and so are its phones.
    amr = definition(app, "department", "qd-amr")
    assert matter["location"] == amr["address"] and matter["hours"] == amr["office_hours"]
    assert (matter["consult_phone"], matter["complaint_phone"]) == ("0532-85911315", "12315")
    # A person applies: the form starts with their name, from the field library.
    assert list(matter["form"]["properties"]) == ["applicant_name"]
    editor = client.get(response.headers["Location"])
    assert editor.status_code == 200 and "犬只登记" in editor.text
    # The form says the department's values are copied, not followed.
    assert "此后事项保留自己的办理地点" in client.get("/admin/matters/new").text


def test_a_new_matter_is_published_and_its_guide_answers(app, console):
    client, token = console
    client.post("/admin/matters/new", data={"csrf_token": token, **MATTER,
                                             "serves": ["natural_person", "enterprise"]})
    assert list(definition(app, "matter", "dog-registration")["form"]["properties"]) == [
        "applicant_name", "entity_name"]
    published = client.post("/admin/matters/dog-registration/publish", data={
        "csrf_token": token, "revision": revision(app, "matter", "dog-registration")})
    assert published.status_code == 200, published.text[:2000]
    guide = client.get("/g/dog-registration")
    assert guide.status_code == 200
    assert "犬只登记" in guide.text and "养犬登记证" in guide.text
    # The guide names who handles it (实施主体), in full.
    assert "<dt>实施主体</dt>\n    <dd>青岛市市场监督管理局</dd>" in guide.text


MATTER_REFUSALS = [
    ({"code": "Dog Registration"}, "code", "编码为 3–64 个小写字母"),
    ({"code": "business-registration"}, "code", "该编码已被一件事或事项使用"),
    ({"code": "open-restaurant"}, "code", "该编码已被一件事或事项使用"),
    ({"code": "new"}, "code", "这个编码是控制台页面的地址"),
    ({"name_zh": "  "}, "name_zh", "请用简体中文填写名称"),
    ({"department": "no-such-department"}, "department", "请选择办理的部门"),
    ({"serves": []}, "serves", "请至少选择一类服务对象"),
    ({"code": "dog--registration"}, "code", "编码为 3–64 个小写字母"),
    ({"code": "dog-registration-"}, "code", "编码为 3–64 个小写字母"),
    ({"legal_days": "二十"}, "legal_days", "法定办结时限须为 0 到 365 之间的整数天数"),
    # Digits to str.isdigit() that int() cannot read, and more digits than it reads.
    ({"legal_days": "²"}, "legal_days", "法定办结时限须为 0 到 365 之间的整数天数"),
    ({"promised_days": "①"}, "promised_days", "承诺办结时限须为 0 到 365 之间的整数天数"),
    ({"legal_days": "9" * 5000}, "legal_days", "法定办结时限须为 0 到 365 之间的整数天数"),
    # The meta-schema's most (a year), refused at the field rather than at the save.
    ({"legal_days": "400"}, "legal_days", "法定办结时限须为 0 到 365 之间的整数天数"),
    ({"visits": "²"}, "visits", "请填写到现场的次数"),
    ({"promised_days": "30"}, "promised_days", "承诺时限不能长于法定时限"),
    ({"handling": "on_the_spot"}, "promised_days", "即办件的承诺时限为 0 天"),
    ({"visits": "11"}, "visits", "请填写到现场的次数"),
    ({"legal_basis": ""}, "legal_basis", "请填写设定这一事项的法律法规"),
    ({"conditions": "\n \n"}, "conditions", "请至少填写一项受理条件"),
    ({"result_name": ""}, "result_name", "请填写办理结果的名称"),
    ({"consult_phone": "call us"}, "consult_phone", "请按拨打的方式填写电话号码"),
]


def test_a_refused_new_matter_says_so_at_the_field_and_keeps_what_was_typed(app, console):
    client, token = console
    before = {(e.kind, e.code, e.revision) for e in all_entries(app)}
    # One app for every case: what is refused depends on the form, not on the database.
    for changes, field, said in MATTER_REFUSALS:
        typed = {**MATTER, "name_en": "Dog <registration>", **changes}
        response = client.post("/admin/matters/new", data={"csrf_token": token, **typed})
        assert response.status_code == 422, changes
        page = response.text
        # The message stands at its input, which points at it.
        assert f'id="{field}-error">{said}' in html.unescape(page), changes
        assert re.search(rf'id="{field}"[^>]*aria-describedby="[^"]*{field}-error"', page) or (
            field == "serves" and 'aria-describedby="serves-error"' in page), changes
        # Everything typed comes back, escaped.
        assert 'value="Dog &lt;registration&gt;"' in page, changes
        assert "在本市居住的成年人" in page or field == "conditions", changes
        assert ('value="qd-amr" selected' in page) == (typed["department"] == "qd-amr"), changes
    assert {(e.kind, e.code, e.revision) for e in all_entries(app)} == before


def test_a_refused_new_matter_is_said_in_english_too(console):
    client, token = console
    response = client.post("/admin/matters/new?lang=en", data={
        "csrf_token": token, **MATTER, "promised_days": "30"})
    assert response.status_code == 422
    assert "The promised limit cannot be longer than the legal limit." in response.text


def test_a_new_department_is_created_and_changed_and_keeps_its_translations(app, console):
    client, token = console
    created = client.post("/admin/departments/new", data={"csrf_token": token, **DEPARTMENT})
    assert created.status_code == 303
    assert created.headers["Location"] == "/admin/departments/qd-dog-centre?saved=1"
    stored = definition(app, "department", "qd-dog-centre")
    assert stored["parent"] == "qd-amr" and stored["short_name"] == {"zh-Hans": "犬管中心"}
    assert "complaint_phone" not in stored
    page = client.get(created.headers["Location"]).text
    assert "保存成功" in page or "已保存" in page
    assert 'value="青岛市城市管理局犬类管理中心"' in page
    # Translations added elsewhere (an import) stay while the Chinese is unchanged …
    with Session(app.extensions["onething.engine"]) as session:
        from onething.publishing.working_catalog import save_definition

        save_definition(session, "department", {
            **stored, "address": {"zh-Hans": DEPARTMENT["address"], "en": "1 Hong Kong Road"}},
            based_on=revision(app, "department", "qd-dog-centre"), saved_by="import",
            metas=app.extensions["onething.metas"])
    changed = client.post("/admin/departments/qd-dog-centre", data={
        "csrf_token": token, **DEPARTMENT, "office_hours": "周一至周六 9:00—17:00",
        "revision": revision(app, "department", "qd-dog-centre")})
    assert changed.status_code == 303
    stored = definition(app, "department", "qd-dog-centre")
    assert stored["address"] == {"zh-Hans": DEPARTMENT["address"], "en": "1 Hong Kong Road"}
    assert stored["office_hours"] == {"zh-Hans": "周一至周六 9:00—17:00"}
    # … and one of a changed Chinese text is dropped: it would say something else.
    client.post("/admin/departments/qd-dog-centre", data={
        "csrf_token": token, **DEPARTMENT, "address": "青岛市市北区敦化路1号",
        "revision": revision(app, "department", "qd-dog-centre")})
    assert definition(app, "department", "qd-dog-centre")["address"] == {
        "zh-Hans": "青岛市市北区敦化路1号"}


DEPARTMENT_REFUSALS = [
    ({"code": "qd-amr"}, "code", "已有部门使用这个编码"),
    ({"level": "galaxy"}, "level", "请选择层级"),
    ({"level": "province", "parent": "qd-amr"}, "parent", "请选择同级或更高层级的部门"),
    ({"parent": "no-such"}, "parent", "请选择同级或更高层级的部门"),
    ({"consult_phone": ""}, "consult_phone", "请按拨打的方式填写电话号码"),
    ({"address": ""}, "address", "请填写办事地址"),
]


def test_a_refused_department_says_so_at_the_field_and_keeps_what_was_typed(app, console):
    client, token = console
    before = {(e.kind, e.code, e.revision) for e in all_entries(app)}
    for changes, field, said in DEPARTMENT_REFUSALS:
        response = client.post("/admin/departments/new", data={
            "csrf_token": token, **DEPARTMENT, **changes})
        assert response.status_code == 422, changes
        page = html.unescape(response.text)
        assert f'id="{field}-error">{said}' in page, changes
        assert 'value="青岛市城市管理局犬类管理中心"' in page, changes
    assert {(e.kind, e.code, e.revision) for e in all_entries(app)} == before


def test_a_department_saved_meanwhile_is_not_overwritten_and_the_typing_is_kept(app, console):
    client, token = console
    old = revision(app, "department", "qd-amr")
    stored = definition(app, "department", "qd-amr")
    client.post("/admin/departments/qd-amr", data={
        "csrf_token": token, **DEPARTMENT, "code": "", "level": "city", "parent": "",
        "name_zh": stored["name"]["zh-Hans"], "revision": old})
    response = client.post("/admin/departments/qd-amr", data={
        "csrf_token": token, **DEPARTMENT, "level": "city", "parent": "",
        "name_zh": "另一个名称", "revision": old})
    assert response.status_code == 409
    assert 'value="另一个名称"' in response.text
    assert "北京时间" in response.text and " UTC" not in response.text
    assert definition(app, "department", "qd-amr")["name"]["zh-Hans"] == stored["name"]["zh-Hans"]
    # Saving again, having read that, puts what was typed in place of theirs: no dead end.
    again = client.post("/admin/departments/qd-amr", data={
        "csrf_token": token, **DEPARTMENT, "level": "city", "parent": "",
        "name_zh": "另一个名称",
        "revision": re.search(r'name="revision" value="(\d+)"', response.text).group(1)})
    assert again.status_code == 303
    assert definition(app, "department", "qd-amr")["name"]["zh-Hans"] == "另一个名称"


def test_a_department_never_answers_to_its_own_subordinate(app, console):
    client, token = console
    qd_amr = definition(app, "department", "qd-amr")
    assert definition(app, "department", "sn-amr")["parent"] == "qd-amr"
    values = {"name_zh": qd_amr["name"]["zh-Hans"], "address": "青岛市市北区敦化路1号",
              "office_hours": "周一至周五", "consult_phone": qd_amr["consult_phone"],
              "revision": revision(app, "department", "qd-amr"), "csrf_token": token}
    cycle = client.post("/admin/departments/qd-amr", data={
        **values, "level": "district", "parent": "sn-amr"})
    assert cycle.status_code == 422
    assert 'id="parent-error">所选部门是本部门的下级' in html.unescape(cycle.text)
    # Nor may it drop below the level of a department that answers to it.
    lowered = client.post("/admin/departments/qd-amr", data={**values, "level": "town"})
    assert lowered.status_code == 422
    assert 'id="level-error">有下级部门的层级高于所选层级' in html.unescape(lowered.text)
    assert definition(app, "department", "qd-amr") == qd_amr


def test_department_choices_list_the_higher_levels_first_by_pinyin(console):
    client, _ = console
    page = client.get("/admin/matters/new").text
    options = re.findall(r'<option value="([a-z0-9-]+)"', page.split('id="department"')[1]
                         .split("</select>")[0])
    assert options.index("qd-amr") < options.index("sn-amr")  # city before district
    city = [code for code in options if code.startswith("qd-")]
    assert options[:len(city)] == city


def test_departments_in_the_catalog_link_to_their_page_with_their_level_named(console):
    client, _ = console
    page = client.get("/admin/?q=qd-amr").text
    assert 'href="/admin/departments/qd-amr"' in page
    assert "市级" in page


def test_the_new_forms_need_an_administrator(app, client):
    assert client.get("/admin/matters/new").status_code in (302, 303)
    assert client.get("/admin/departments/qd-amr").status_code in (302, 303)
    assert client.get("/admin/departments/no-such").status_code in (302, 303)


def test_two_administrators_creating_one_code_at_once_get_a_refusal_not_an_error(
        app, console, monkeypatch):
    from onething.publishing import working_catalog

    client, token = console
    real = working_catalog._guide_code_holder

    def meanwhile(session, kind, code):
        # Another administrator's save of the same code lands between the check and the
        # commit: the unique index is what refuses the second.
        with Session(app.extensions["onething.engine"]) as other:
            other.add(CatalogEntry(kind="matter", code=code, path=f"matters/{code}.json",
                                   text=json.dumps({"code": code, "name": "另一位的犬只登记"}),
                                   updated_by="admin2"))
            other.commit()
        return real(session, kind, code) and None

    monkeypatch.setattr(working_catalog, "_guide_code_holder", meanwhile)
    refused = client.post("/admin/matters/new", data={"csrf_token": token, **MATTER})
    assert refused.status_code == 422
    assert 'id="code-error"' in refused.text or "已被" in refused.text
    assert definition(app, "matter", "dog-registration")["name"] == "另一位的犬只登记"
