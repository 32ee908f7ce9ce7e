"""Definition problems: English for the command line and the API, the reader's language in the
console (catalog.problems.Text, web.i18n.say)."""

from __future__ import annotations

import ast
import html
import json
import pickle
import re
import string
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from flask_babel import force_locale
from jsonschema import Draft202012Validator

from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.problems import Problem, Text
from onething.publishing.check import schema_message
from onething.web import i18n
from test_admin import add_account, create_convenience_store, post, revision, sign_in

PACKAGE = Path(i18n.__file__).resolve().parents[1]  # platform/onething
ADMIN = PACKAGE.parents[1] / "admin" / "onething_admin"
# Every module that builds a Problem's message, or a part of one.
SOURCES = [PACKAGE / "publishing" / "check.py", PACKAGE / "publishing" / "working_catalog.py",
           PACKAGE / "catalog" / "loader.py", PACKAGE / "composer" / "merge.py",
           PACKAGE / "composer" / "compose.py", PACKAGE / "composer" / "routing.py",
           PACKAGE / "composer" / "rules.py", PACKAGE / "composer" / "logic.py",
           PACKAGE / "catalog" / "fees.py", PACKAGE / "catalog" / "patterns.py",
           PACKAGE / "catalog" / "dates.py", ADMIN / "views.py"]


# --- Text: the English text, with what it takes to translate it -------------------------------


def test_a_text_is_its_english_and_keeps_its_template_and_values():
    text = Text("unknown department {code!r}; known: {known}", code="x", known=["a", "b"])
    assert text == "unknown department 'x'; known: a, b"
    assert isinstance(text, str) and hash(text) == hash(str(text))
    assert text.template == "unknown department {code!r}; known: {known}"
    assert text.values == {"code": "x", "known": ["a", "b"]}
    problem = Problem("catalog/matters/a.json", "/department", text, ("a",))
    assert problem.as_dict()["message"] == "unknown department 'x'; known: a, b"
    assert json.loads(json.dumps(problem.as_dict()))["message"] == text
    assert str(problem) == ("catalog/matters/a.json#/department: unknown department 'x'; "
                            "known: a, b [matters: a]")
    # Sorted and deduplicated as the plain string it equals.
    assert sorted({problem, Problem(problem.file, problem.pointer, str(text), ("a",))}) == [
        problem]


def test_a_text_survives_pickling_and_another_wording():
    worded = Text("{name!r} is a required property", name="code").worded("other words")
    again = pickle.loads(pickle.dumps(worded))
    assert again == "other words" and again.template == worded.template
    assert again.values == {"name": "code"}


def test_jsonschema_errors_keep_their_own_english():
    cases = [({"required": ["a"]}, {}), ({"type": "integer"}, "soon"),
             ({"type": ["string", "null"]}, 1), ({"enum": ["a", "b"]}, "c"),
             ({"const": "a"}, "b"), ({"minLength": 1}, ""), ({"maxLength": 2}, "abc"),
             ({"minItems": 2}, [1]), ({"minimum": 0}, -1), ({"pattern": "^a"}, "b"),
             ({"format": "date"}, "x"), ({"uniqueItems": True}, [1, 1]),
             ({"additionalProperties": False}, {"b": 1}), ({"not": {}}, 1),
             ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, 1.5),
             ({"dependentRequired": {"a": ["b"]}}, {"a": 1}), ({"minProperties": 2}, {})]
    for schema, instance in cases:
        errors = list(Draft202012Validator(schema, format_checker=FORMAT_CHECKER)
                      .iter_errors(instance))
        assert errors, schema
        for error in errors:
            message = schema_message(error)
            assert message == error.message and isinstance(message, Text)


# --- say(): the console's words -----------------------------------------------------------------


@pytest.fixture
def bare_app(tmp_path):
    """A bare app with the i18n set-up alone."""
    app = Flask(__name__, instance_path=str(tmp_path))
    i18n.init_app(app)
    return app


def test_say_translates_formats_and_passes_plain_strings(bare_app):
    app = bare_app
    promised = Text("the promised limit ({promised} days) exceeds the legal limit "
                    "({legal} days)", promised=5, legal=3)
    unknown = Text("unknown unit {unit!r}; known: {known}", unit="ft", known=["m", "km"])
    nested = Text("not a valid JSON Schema: {message}",
                  message=Text("{name!r} is a required property", name="type"))
    with app.test_request_context("/"):
        assert i18n.say(promised) == "承诺时限（5 天）超过法定时限（3 天）"
        assert i18n.say(unknown) == "未知的单位“ft”；可用的单位有 m、km"
        assert i18n.say(nested) == "不是有效的 JSON Schema：缺少必填项“type”"
        assert i18n.say("plain words") == "plain words"
        assert render_template_string("{{ say(p) }}|{{ [p]|map('say')|join }}", p=promised) == (
            "承诺时限（5 天）超过法定时限（3 天）|承诺时限（5 天）超过法定时限（3 天）")
        with force_locale("zh_Hant"):
            assert i18n.say(promised) == "承諾時限（5 天）超過法定時限（3 天）"
        with force_locale("en"):
            assert i18n.say(unknown) == "unknown unit 'ft'; known: m, km"
    untranslated = Text("no such {thing}", thing="x")
    with app.test_request_context("/"):
        assert i18n.say(untranslated) == "no such x"


# --- every template has its translations ---------------------------------------------------------


def text_templates() -> dict[str, tuple[str, set[str]]]:
    """Every Text("…", name=…) literal of the modules that build problems: where, and the
    names given."""
    found = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Text":
                template = node.args[0]
                assert isinstance(template, ast.Constant) and isinstance(template.value, str), (
                    f"{path.name}:{node.lineno}: a Text's template must be a literal")
                names = {keyword.arg for keyword in node.keywords}
                if None not in names:  # **values: checked where they are built
                    assert names == placeholders(template.value), (
                        f"{path.name}:{node.lineno}: {template.value!r} takes {names}")
                found[template.value] = (f"{path.name}:{node.lineno}", names)
    return found


def placeholders(text: str) -> set[str]:
    return {re.split(r"[.\[!:]", name)[0] for _, name, _, _ in string.Formatter().parse(text)
            if name is not None}


def test_the_modules_build_their_messages_as_texts():
    templates = text_templates()
    assert len(templates) > 100
    assert "unknown department {code!r}" in templates
    # No Problem is given its message as a bare string or an f-string any more, nor is a
    # refused formula, pattern or date bound raised with one; and every module builds Texts.
    bare, without = [], []
    refusals = ("FormulaError", "PatternError", "BoundError")
    for path in SOURCES:
        calls = [node for node in ast.walk(ast.parse(path.read_text(), str(path)))
                 if isinstance(node, ast.Call)]
        for node in calls:
            name = getattr(node.func, "id", None)
            message = node.args[2] if name == "Problem" and len(node.args) >= 3 else \
                node.args[0] if name in refusals and node.args else None
            if isinstance(message, (ast.Constant, ast.JoinedStr, ast.BinOp)):
                bare.append(f"{path.name}:{node.lineno}")
        if not any(getattr(node.func, "id", None) == "Text" for node in calls):
            without.append(path.name)
    assert not bare
    assert not without


@pytest.mark.parametrize("locale", ["zh_Hans", "zh_Hant"])
def test_every_text_template_is_translated_with_the_same_placeholders(locale):
    from test_i18n import catalog

    po = catalog(locale)
    missing, wrong = [], []
    for template, (where, _names) in text_templates().items():
        message = po.get(template)
        if message is None or not message.string or message.fuzzy:
            missing.append(f"{template!r} ({where})")
        elif not placeholders(message.string) <= placeholders(template):
            wrong.append(f"{template!r} ({where}): {message.string!r}")
        else:
            # The translation formats with the values the English takes.
            message.string.format(**{name: "x" for name in placeholders(template)})
    assert not missing, f"untranslated in {locale}: {missing}"
    assert not wrong, f"placeholders the English does not give, in {locale}: {wrong}"


# --- the console ------------------------------------------------------------------------------


@pytest.fixture
def admin(app, client):
    """A signed-in administrator's browser; yields (client, its CSRF token)."""
    add_account(app, "admin", "administrator")
    return client, sign_in(client)


def matter_text(client, code: str) -> dict:
    page = client.get(f"/admin/matters/{code}").text
    return json.loads(html.unescape(re.search(
        r'<textarea name="text"[^>]*>(.*?)</textarea>', page, re.S).group(1)))


def test_a_refused_publish_says_why_in_the_administrators_language(app, admin):
    client, token = admin
    data = matter_text(client, "outdoor-signboard")
    data["time_limit"].update(legal_days=3, promised_days=5)
    saved = client.post("/admin/matters/outdoor-signboard",
                        data={"csrf_token": token, "text": json.dumps(data, ensure_ascii=False),
                              "revision": revision(app, "matter", "outdoor-signboard")})
    assert saved.status_code == 200, re.findall(r"(?s)class=\"error[^>]*>.{0,400}", saved.text)
    refused = client.post("/admin/matters/outdoor-signboard/publish",
                          data={"csrf_token": token})
    assert refused.status_code == 422
    assert "#/time_limit/promised_days</code> 承诺时限（5 天）超过法定时限（3 天）" in refused.text
    assert "exceeds the legal limit" not in refused.text
    hant = client.post("/admin/matters/outdoor-signboard/publish?lang=zh-Hant",
                       data={"csrf_token": token})
    assert "承諾時限（5 天）超過法定時限（3 天）" in hant.text
    english = client.post("/admin/matters/outdoor-signboard/publish?lang=en",
                          data={"csrf_token": token})
    assert "the promised limit (5 days) exceeds the legal limit (3 days)" in english.text


def test_raw_json_that_breaks_the_meta_schema_is_explained_in_chinese(admin):
    client, token = admin
    data = matter_text(client, "outdoor-signboard")
    del data["name"]
    data["time_limit"]["promised_days"] = "soon"
    text = json.dumps(data, ensure_ascii=False)
    checked = html.unescape(client.post("/admin/matters/outdoor-signboard/check",
                                        data={"csrf_token": token, "text": text}).text)
    assert "缺少必填项“name”" in checked
    assert "'soon' 不是整数" in checked
    english = html.unescape(client.post("/admin/matters/outdoor-signboard/check?lang=en",
                                        data={"csrf_token": token, "text": text}).text)
    assert "'name' is a required property" in english
    assert "'soon' is not of type 'integer'" in english
    # ?lang=en stays in a cookie: back to 简体中文 as the switcher would.
    not_an_object = client.post("/admin/matters/outdoor-signboard/check?lang=zh-Hans",
                                data={"csrf_token": token, "text": "[]"}).text
    assert "定义应是一个 JSON 对象 {…}，而不是 list" in html.unescape(not_an_object)



def publish_refusal(app, client, token, code: str, data: dict, lang: str) -> str:
    """Save a matter's definition, publish it (refused) and read the page in a language."""
    saved = client.post(f"/admin/matters/{code}",
                        data={"csrf_token": token, "text": json.dumps(data, ensure_ascii=False),
                              "revision": revision(app, "matter", code)})
    assert saved.status_code == 200, re.findall(r"(?s)class=\"error[^>]*>.{0,400}", saved.text)
    refused = client.post(f"/admin/matters/{code}/publish?lang={lang}",
                          data={"csrf_token": token})
    assert refused.status_code == 422
    return html.unescape(refused.text)


def test_a_pattern_re2_refuses_is_said_in_the_administrators_language(app, admin):
    client, token = admin
    data = matter_text(client, "outdoor-signboard")
    data["form"]["properties"]["signboard_text"]["pattern"] = "^(?=招)"
    chinese = publish_refusal(app, client, token, "outdoor-signboard", data, "zh-Hans")
    assert "#/form/properties/signboard_text/pattern</code> 格式规则“^(?=招)”无法在线性时间内" \
           "匹配（RE2）：invalid perl operator: (?=；不能使用先行/后行断言和反向引用" in chinese
    assert "cannot run in linear time" not in chinese
    hant = publish_refusal(app, client, token, "outdoor-signboard", data, "zh-Hant")
    assert "格式規則「^(?=招)」無法在線性時間內匹配（RE2）" in hant
    english = publish_refusal(app, client, token, "outdoor-signboard", data, "en")
    assert ("'^(?=招)' cannot run in linear time (RE2): invalid perl operator: (?=; "
            "lookarounds and backreferences are not allowed") in english


def test_a_fee_formula_and_a_rule_refused_are_said_in_the_administrators_language(app, admin):
    client, token = admin
    data = matter_text(client, "sea-area-use-approval")
    data["fee"]["items"][0]["amount"] = "sea_area_hectares ** 2"
    data["rules"] = [*data.get("rules", []), {
        "id": "reads-nothing-known", "kind": "advisory", "logic": {"var": "holder.age"},
        "explanation": {"zh-Hans": "示例", "zh-Hant": "示例", "en": "An example"}}]
    chinese = publish_refusal(app, client, token, "sea-area-use-approval", data, "zh-Hans")
    assert "#/fee/items/0/amount</code> 不能使用“**”：公式中只能用 + - * / 和 min、max、round" \
        in chinese
    assert "未知的变量“holder.age”；持证主体可读取的项有 code、birth_date" in chinese
    assert "is not allowed" not in chinese and "unknown variable" not in chinese
    english = publish_refusal(app, client, token, "sea-area-use-approval", data, "en")
    assert "'**' is not allowed: only + - * / and min, max, round" in english
    assert "unknown variable 'holder.age'; the holder has code, birth_date" in english


def test_the_bundle_previews_conflict_gives_its_reason_in_the_page_language(app, admin):
    client, token = admin
    create_convenience_store(client, token)
    added = post(client, token, "/items", app, matter="food-business-licence")
    conflict = html.unescape(added.text.split('id="conflict"')[1].split("</p>")[0])
    assert ("这些事项无法共用字段 entity_uscc：food-business-licence 需要 business-registration "
            "产出的值：必须排在 business-registration 之后（after）") in conflict
    assert "needs the value" not in conflict
    english = client.get("/admin/bundles/open-convenience-store?lang=en").text
    assert ("food-business-licence needs the value business-registration yields: it must wait "
            "for business-registration (after)") in english


def test_a_bundle_that_cannot_be_composed_says_why_in_the_page_language(app, admin,
                                                                       monkeypatch):
    from onething.catalog.patterns import PatternError
    from onething_admin import views

    client, _token = admin

    def broken(bundle):
        raise PatternError(Text("{pattern!r} cannot run in linear time (RE2): {detail}; "
                                      "lookarounds and backreferences are not allowed",
                                      pattern="(?=a)", detail="invalid perl operator: (?="))

    monkeypatch.setattr(views, "compose", broken)
    page = html.unescape(client.get("/admin/bundles/open-restaurant").text)
    said = re.search(r'id="preview-problem">(.*?)</p>', page, re.S).group(1)
    assert said == ("格式规则“(?=a)”无法在线性时间内匹配（RE2）：invalid perl operator: (?=；"
                    "不能使用先行/后行断言和反向引用")
    english = html.unescape(client.get("/admin/bundles/open-restaurant?lang=en").text)
    assert "&#39;" not in english and "'(?=a)' cannot run in linear time (RE2)" in english
    # An exception without a Text: its own words, in the page's language's frame.
    monkeypatch.setattr(views, "compose", lambda bundle: {}["no-such-matter"])
    page = html.unescape(client.get("/admin/bundles/open-restaurant?lang=zh-Hans").text)
    assert re.search(r'id="preview-problem">(.*?)</p>', page, re.S).group(1) == (
        "无法合成这件事的表单：'no-such-matter'")
    english = html.unescape(client.get("/admin/bundles/open-restaurant?lang=en").text)
    assert "This bundle cannot be composed: 'no-such-matter'" in english


def test_a_type_conflict_names_the_types_as_administrators_read_them(bare_app):
    from onething.composer.merge import _TYPE_NAMES, _type_named

    message = Text("type {type!r} cannot be reconciled with {value!r}",
                   type=_type_named("string"), value=_type_named(["integer", "null"]))
    assert str(message) == "type 'text' cannot be reconciled with 'whole number, nothing'"
    with bare_app.test_request_context(), force_locale("zh_Hans"):
        said = i18n.say(message)
    assert said == "类型“文字”与“整数、空值”无法统一"
    assert set(_TYPE_NAMES) >= {"string", "integer", "number", "boolean", "array", "object"}


def test_a_department_with_a_chinese_short_name_reads_in_english_by_its_full_name(bare_app):
    from types import SimpleNamespace

    department = SimpleNamespace(name={"zh-Hans": "青岛市市南区文化和旅游局",
                                       "en": "Shinan District Culture and Tourism Bureau"},
                                 data={"short_name": {"zh-Hans": "市南文旅"}})
    catalog = SimpleNamespace(departments={"sn-culture": department})
    with bare_app.test_request_context():
        with force_locale("en"):
            assert i18n.department_name("sn-culture", catalog) == \
                "Shinan District Culture and Tourism Bureau"
        with force_locale("zh_Hans"):
            assert i18n.department_name("sn-culture", catalog) == "市南文旅"
        with force_locale("zh_Hant"):
            assert i18n.department_name("sn-culture", catalog) != \
                "Shinan District Culture and Tourism Bureau"
