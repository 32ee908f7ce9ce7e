"""Interface languages: locale selection, compiled catalogs, validation messages, completeness."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask, jsonify, render_template_string
from flask_babel import force_locale, gettext, ngettext
from jsonschema import Draft202012Validator

from onething.cases.messages import MESSAGES, Plural, message_for
from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.text import DEFAULT_LOCALE, LOCALES
from onething.composer.validation import FieldError
from onething.web import i18n

PACKAGE = Path(i18n.__file__).resolve().parents[1]  # platform/onething
ADMIN = PACKAGE.parents[1] / "admin" / "onething_admin"
FIELDS = Path(__file__).resolve().parents[1] / "schemas" / "fields"
TRANSLATED = ("zh_Hans", "zh_Hant")

REQUIRED = {
    "zh-Hans": "此项为必填项。",
    "zh-Hant": "此項為必填項。",
    "en": "This field is required.",
}


def library_field(key: str) -> dict:
    """A field of the shared library, as written in schemas/fields."""
    return json.loads((FIELDS / f"{key}.json").read_text())


@pytest.fixture
def app(tmp_path):
    """A bare app with the i18n set-up and routes that speak through it."""
    app = Flask(__name__, instance_path=str(tmp_path))
    i18n.init_app(app)

    @app.get("/hello")
    def hello():
        return gettext("This field is required.")

    @app.get("/locale")
    def locale():
        return i18n.current_locale()

    @app.get("/messages")
    def messages():
        return jsonify({
            "minimum": message_for(FieldError("area", "minimum", "", (), 20)),
            "pattern": message_for(FieldError("mobile", "pattern", "", (), "^1"),
                                   library_field("mobile")),
            "resident_id": message_for(FieldError("id", "format", "", (), "cn-resident-id")),
            "enum": message_for(FieldError("child_gender", "enum", "", (), ["male", "female"]),
                                library_field("child_gender")),
        })

    return app


@pytest.fixture
def client(app):
    """A test client that keeps cookies between requests."""
    return app.test_client()


@pytest.mark.parametrize("locale", LOCALES)
def test_lang_parameter_picks_the_locale(client, locale):
    assert client.get(f"/hello?lang={locale}").text == REQUIRED[locale]
    assert client.get(f"/locale?lang={locale}").text == locale


def test_default_is_simplified_chinese(client):
    assert client.get("/hello").text == REQUIRED["zh-Hans"]
    assert client.get("/locale").text == DEFAULT_LOCALE == "zh-Hans"


def test_lang_parameter_sets_a_cookie_that_sticks(client):
    response = client.get("/hello?lang=en")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lang=en;")
    assert "Max-Age=31536000" in cookie
    assert "SameSite=Lax" in cookie
    assert client.get("/hello").text == REQUIRED["en"]
    # The parameter still wins over the cookie, and moves it.
    assert client.get("/hello?lang=zh-Hant").text == REQUIRED["zh-Hant"]
    assert client.get("/hello").text == REQUIRED["zh-Hant"]


def test_unknown_lang_is_ignored_and_not_remembered(client):
    response = client.get("/hello?lang=fr")
    assert response.text == REQUIRED["zh-Hans"]
    assert "Set-Cookie" not in response.headers
    client.set_cookie("lang", "xx")
    assert client.get("/hello").text == REQUIRED["zh-Hans"]


def test_cookie_beats_accept_language(client):
    client.set_cookie("lang", "zh-Hant")
    assert client.get("/locale", headers={"Accept-Language": "en"}).text == "zh-Hant"


@pytest.mark.parametrize("header", [
    "en-US,en;q=0.9", "en-GB", "zh-TW", "zh-HK,zh;q=0.8", "fr,de", "*"])
def test_the_phones_language_does_not_choose(client, header):
    # zh-Hans is the stated default: an en-US phone gets it too, until its owner
    # chooses another language, which is then remembered.
    assert client.get("/locale", headers={"Accept-Language": header}).text == "zh-Hans"
    assert client.get("/locale?lang=en", headers={"Accept-Language": header}).text == "en"
    assert client.get("/locale", headers={"Accept-Language": header}).text == "en"


@pytest.mark.parametrize(("tag", "expected"), [
    ("zh-TW", "zh-Hant"),
    ("zh-HK", "zh-Hant"),
    ("zh-MO", "zh-Hant"),
    ("zh-Hant", "zh-Hant"),
    ("zh-Hant-CN", "zh-Hant"),
    ("zh", "zh-Hans"),
    ("zh_CN", "zh-Hans"),
    ("zh-SG", "zh-Hans"),
    ("zh-Hans-HK", "zh-Hans"),
    ("en-US", "en"),
    ("en-GB", "en"),
    ("fr-FR", None),
    ("", None),
])
def test_language_tags_map_to_our_locales(tag, expected):
    assert i18n.match_locale(tag) == expected


def test_locale_dependent_responses_vary(client):
    assert "Cookie" in set(client.get("/hello").vary)


def test_current_locale_outside_a_request(app):
    assert i18n.current_locale() == DEFAULT_LOCALE
    with app.app_context():
        assert i18n.current_locale() == DEFAULT_LOCALE
        with force_locale("zh_Hant"):
            assert i18n.current_locale() == "zh-Hant"


def test_babel_identifiers_map_both_ways():
    for locale in LOCALES:
        assert i18n.match_locale(i18n.to_babel(locale)) == locale
    assert i18n.BABEL_LOCALES == {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}


def test_catalogs_compile_into_the_instance_folder(app, tmp_path):
    compiled = tmp_path / "translations"
    assert app.config["BABEL_TRANSLATION_DIRECTORIES"] == str(compiled)
    for locale in i18n.BABEL_LOCALES.values():
        assert (compiled / locale / "LC_MESSAGES" / "messages.mo").stat().st_size > 0
    # Nothing compiled is kept in the package: the .po files are the source.
    assert not list(PACKAGE.glob("translations/**/*.mo"))


def test_only_a_newer_po_is_compiled_again(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(i18n.CATALOGS, source)
    target = tmp_path / "compiled"
    assert len(i18n.compile_catalogs(target, source)) == len(i18n.BABEL_LOCALES)
    assert i18n.compile_catalogs(target, source) == []
    po = source / "zh_Hant" / "LC_MESSAGES" / "messages.po"
    mo = target / "zh_Hant" / "LC_MESSAGES" / "messages.mo"
    later = mo.stat().st_mtime + 10
    os.utime(po, (later, later))
    assert i18n.compile_catalogs(target, source) == [mo]
    # An edited catalog is compiled anew, not served from what this process parsed before.
    po.write_text(po.read_text(encoding="utf-8").replace(
        'msgid "Sign in"\nmsgstr "登入"', 'msgid "Sign in"\nmsgstr "簽入"', 1), encoding="utf-8")
    os.utime(po, (later + 10, later + 10))
    assert i18n.compile_catalogs(target, source) == [mo]
    with mo.open("rb") as compiled:
        assert read_mo(compiled).get("Sign in").string == "簽入"


def test_messages_in_each_locale(client):
    zh = client.get("/messages").json
    assert zh["minimum"] == "不能小于 20。"
    assert zh["pattern"] == library_field("mobile")["x-error"]["zh-Hans"]
    assert zh["resident_id"] == "居民身份证号码不正确，请核对18位号码及最后一位校验码。"
    assert zh["enum"] == "请从以下选项中选择：男、女。"
    hant = client.get("/messages?lang=zh-Hant").json
    assert hant["minimum"] == "不能小於 20。"
    assert hant["pattern"] == "請輸入11位手機號碼，如 13800138000。"
    assert hant["enum"] == "請從以下選項中選擇：男、女。"
    en = client.get("/messages?lang=en").json
    assert en["minimum"] == "Enter at least 20."
    assert en["pattern"] == "Enter an 11-digit mobile number, such as 13800138000."
    assert en["resident_id"] == (
        "Not a valid resident ID number: check the 18 characters and the last check digit.")
    assert en["enum"] == "Choose one of: Male, Female."


@pytest.mark.parametrize(("keyword", "params", "zh", "en"), [
    ("required", ["mobile"], "此项为必填项。", "This field is required."),
    ("minLength", 1, "请至少输入 1 个字符。", "Enter at least 1 character."),
    ("maxLength", 200, "最多输入 200 个字符。", "Enter at most 200 characters."),
    ("maximum", 99.0, "不能大于 99。", "Enter at most 99."),
    ("exclusiveMinimum", 0.5, "必须大于 0.5。", "Enter more than 0.5."),
    ("type", "integer", "请输入整数。", "Enter a whole number."),
    ("type", ["string", "null"], "填写的内容类型不正确。",
     "This value is not of the expected kind."),
    ("format", "cn-uscc", "统一社会信用代码不正确，请核对18位代码及最后一位校验码。",
     "Not a valid unified social credit code: check the 18 characters and the last "
     "check character."),
    ("format", "ipv4", "请按要求的格式填写。", "This is not in the expected format."),
    ("enum", ["a", "b"], "请从以下选项中选择：a、b。", "Choose one of: a, b."),
    ("const", True, "只能为“是”。", "Must be “Yes”."),
    ("if", {}, "填写的内容不符合要求。", "This value is not valid."),
])
def test_message_per_keyword(app, keyword, params, zh, en):
    error = FieldError("field", keyword, "python-jsonschema's message", (), params)
    with app.test_request_context("/"):
        assert message_for(error) == zh
    with app.test_request_context("/?lang=en"):
        assert message_for(error) == en


def test_x_error_replaces_only_the_shape_keywords(app):
    field = library_field("resident_id")
    with app.test_request_context("/?lang=zh-Hant"):
        for keyword, params in (("pattern", "^"), ("format", "ipv4"),
                                ("minLength", 18), ("maxLength", 18)):
            error = FieldError("applicant_id_number", keyword, "", (), params)
            assert message_for(error, field) == field["x-error"]["zh-Hant"]
        assert message_for(FieldError("x", "required", "", (), ["x"]), field) == "此項為必填項。"
        # A check digit that does not add up is said as that, not as the shape.
        checked = message_for(FieldError("x", "format", "", (), "cn-resident-id"), field)
        assert checked == "居民身份證號碼不正確，請核對18位號碼及最後一位校驗碼。"


def test_jsonschema_errors_are_accepted_too(app):
    gender = library_field("child_gender")
    [error] = Draft202012Validator(gender).iter_errors("other")
    assert error.validator == "oneOf"
    uscc = library_field("uscc")
    found = list(Draft202012Validator(uscc, format_checker=FORMAT_CHECKER)
                 .iter_errors("91350100M000100Y44"))
    assert [e.validator for e in found] == ["format"]
    with app.test_request_context("/?lang=en"):
        assert message_for(error, gender) == "Choose one of: Male, Female."
        # The check character is wrong, not the letters' case the field's x-error names.
        assert message_for(found[0], uscc) == MESSAGES["format:cn-uscc"]
        assert "capital" not in message_for(found[0], uscc)
        assert message_for(found[0]) == MESSAGES["format:cn-uscc"]


def test_every_registry_message_is_translated_at_runtime(app):
    def render(message):
        if isinstance(message, Plural):
            return ngettext(message.singular, message.plural, 2)
        return str(message)

    # zh-Hans must find each one in the compiled catalog, not fall back to the msgid.
    for key, message in MESSAGES.items():
        with app.test_request_context("/?lang=en"):
            english = render(message)
        with app.test_request_context("/"):
            assert render(message) != english, key


def test_templates_get_t_and_gettext(app):
    title = {"zh-Hans": "手机号码", "zh-Hant": "手機號碼", "en": "Mobile phone number"}
    source = "{{ current_locale() }}|{{ t(title) }}|{{ t('仅中文') }}|{{ _('No') }}"
    with app.test_request_context("/?lang=zh-Hant"):
        assert render_template_string(source, title=title) == "zh-Hant|手機號碼|仅中文|否"
    with app.test_request_context("/?lang=en"):
        assert render_template_string(source, title=title) == "en|Mobile phone number|仅中文|No"
        assert render_template_string("{{ locale_names[locales[1]] }}") == "繁體中文"
    with app.test_request_context("/", headers={"Cookie": "lang=zh-Hant"}):
        assert render_template_string("{{ t(title) }}", title=title) == "手機號碼"


# --- catalog completeness: what the code marks, the catalogs translate -------------


def extracted_messages() -> dict[tuple[str, str | None], list[str]]:
    """Every msgid marked in the engine and the console (python and templates), with locations."""
    with (PACKAGE / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[tuple[str, str | None], list[str]] = {}
    # The console (onething_admin) shares the engine's catalogs: one domain, one workflow.
    for folder in (PACKAGE, ADMIN):
        for filename, lineno, message, _comments, context in extract_from_dir(
                folder, method_map, options_map, keywords=DEFAULT_KEYWORDS):
            msgid = message[0] if isinstance(message, tuple) else message
            found.setdefault((msgid, context), []).append(f"{folder.name}/{filename}:{lineno}")
    return found


def catalog(locale: str):
    """One locale's .po file, parsed."""
    with (i18n.CATALOGS / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


def test_catalogs_exist_for_every_locale():
    assert sorted(p.name for p in i18n.CATALOGS.iterdir() if p.is_dir()) == sorted(
        i18n.BABEL_LOCALES.values())


def test_extraction_finds_the_validation_messages():
    found = extracted_messages()
    assert ("Enter at least %(limit)s.", None) in found
    assert (", ", "list separator") in found


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_marked_string_is_translated(locale):
    po = catalog(locale)
    missing = []
    for (msgid, context), where in extracted_messages().items():
        message = po.get(msgid, context=context)
        strings = message.string if message and isinstance(message.string, tuple) else (
            (message.string,) if message else ())
        if not message or message.fuzzy or not all(strings):
            missing.append(f"{msgid!r} ({', '.join(where)})")
    assert not missing, f"untranslated in {locale}: run the update in onething/i18n.py: {missing}"


@pytest.mark.parametrize("locale", i18n.BABEL_LOCALES.values())
def test_no_stale_strings_and_consistent_placeholders(locale):
    po = catalog(locale)
    found = extracted_messages()
    stale = [message.id for message in po if message.id
             and ((message.id[0] if message.pluralizable else message.id), message.context)
             not in found]
    assert not stale, f"no longer in the code (pybabel update makes them #~): {stale}"
    assert [(message.id, errors) for message, errors in po.check()] == []


def test_traditional_chinese_quotes_with_corner_brackets():
    # Taiwan and Hong Kong quote with 「」 (and 『』 inside): “” in a 繁體 message is a
    # mainland habit left over from a conversion.
    po = catalog("zh_Hant")
    strings = [text for message in po if message.id
               for text in (message.string if isinstance(message.string, tuple)
                            else (message.string,))]
    assert [text for text in strings if set(text) & set("“”‘’")] == []
    assert any("「" in text for text in strings)


def test_every_audit_action_the_platform_writes_has_a_localized_name():
    # The log shows actions by name: one written without a name would show as a raw code.
    import re

    from onething.cases.decisions import ACTIONS
    from onething.web.templating import AUDIT_ACTIONS

    source = "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))
    written = set(re.findall(r'AuditEntry\([^)]*?action="(\w+)"', source, re.S))
    written |= set(re.findall(r'_log\(session, [^,]+, "(\w+)"', source))
    assert {"status", "unlock", "stop", "resubmit", "submit_for_applicant"} <= written
    assert set(ACTIONS) | written <= set(AUDIT_ACTIONS)


def test_every_task_status_has_a_localized_name():
    from onething.storage.models import TASK_STATUSES
    from onething.web.templating import TASK_STATES

    assert set(TASK_STATES) == set(TASK_STATUSES)

