"""Interface languages: locale selection, gettext catalogs and localized definition texts.

The platform speaks zh-Hans (the default), zh-Hant and en. A request's locale is,
in order: the ``?lang=`` query parameter (then kept in a ``lang`` cookie for a
year), the ``lang`` cookie, zh-Hans. ``Accept-Language`` is not asked: a phone set
to English in a Qingdao hall is still served the hall's language until its owner
picks another in the switcher every page carries (the choice is then remembered).

Two kinds of text are localized:

* interface strings in code and templates, through gettext: ``gettext`` /
  ``lazy_gettext`` from flask_babel in Python, ``{{ _("…") }}`` and
  ``{% trans %}`` in templates. Message ids are English.
* definition texts (titles, descriptions, ``x-error``), which carry their own
  locale map: ``localized(text)`` in Python, ``{{ t(text) }}`` in templates.
* problems found in definitions, whose English message is a ``Text`` (its template is
  the msgid, marked by ``Text`` in babel.cfg): ``say(message)`` in Python,
  ``{{ say(p.message) }}`` in templates; a plain string is shown as it is.

Catalogs
--------
The ``.po`` files are the source of truth::

    platform/onething/translations/<zh_Hans|zh_Hant|en>/LC_MESSAGES/messages.po

zh_Hans and zh_Hant are translated in full; en may leave a msgstr empty, which
means "the msgid as it is". No ``.mo`` file is committed: ``init_app`` compiles
each ``.po`` that is newer than its ``.mo`` into
``<instance folder>/translations/`` at startup, so a fresh clone runs as it is.

After adding or changing strings, from the repository root::

    .venv/bin/pybabel extract -F platform/onething/babel.cfg -c NOTE: \\
        --add-location=file --sort-by-file -o /tmp/onething.pot \\
        platform/onething admin/onething_admin
    .venv/bin/pybabel update -i /tmp/onething.pot -d platform/onething/translations

then translate every new (empty or ``#, fuzzy``) entry of zh_Hans and zh_Hant,
and restart. There is nothing to compile by hand. tests/test_i18n.py fails while
a marked string lacks a translation or a ``.po`` keeps a string no longer used
(``pybabel update`` turns those into ``#~`` entries, which are allowed).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, get_locale
from flask_babel import gettext as _gettext
from markupsafe import escape

from onething.catalog.problems import Text
from onething.catalog.text import DEFAULT_LOCALE, LOCALES, localize

# flask_babel caches loaded translations per locale on this instance: every app of one
# process shares the catalogs below.
babel = Babel()

# Where the .po files live, inside the package so that an installed wheel has them.
CATALOGS = Path(__file__).resolve().parents[1] / "translations"
DOMAIN = "messages"

# Our locale codes (BCP 47, as in definitions and <html lang>) and Babel's identifiers
# (as in catalog folder names and babel.Locale): the one place that maps between them.
BABEL_LOCALES = {"zh-Hans": "zh_Hans", "zh-Hant": "zh_Hant", "en": "en"}

# Each language named in itself, for a language switcher.
LOCALE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}

COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 60 * 60

# Regions that write Chinese in traditional characters.
_HANT_REGIONS = {"tw", "hk", "mo"}


def match_locale(tag: str | None) -> str | None:
    """Map a language tag (zh-TW, zh_Hant, en-GB, …) to one of LOCALES, or None."""
    if not tag:
        return None
    parts = tag.replace("_", "-").lower().split("-")
    if parts[0] == "zh":
        # A script subtag decides; without one, the region does (zh-TW is traditional).
        if "hant" in parts:
            return "zh-Hant"
        if "hans" in parts:
            return "zh-Hans"
        return "zh-Hant" if _HANT_REGIONS.intersection(parts[1:]) else "zh-Hans"
    if parts[0] == "en":
        return "en"
    return None


def to_babel(locale: str) -> str:
    """Babel's identifier (zh_Hans) for one of our locale codes (zh-Hans)."""
    return BABEL_LOCALES.get(locale, BABEL_LOCALES[DEFAULT_LOCALE])


def select_locale() -> str:
    """The locale a request asks for: ?lang=, else the lang cookie, else zh-Hans."""
    if not has_request_context():
        return DEFAULT_LOCALE
    for chosen in (request.args.get("lang"), request.cookies.get(COOKIE)):
        if chosen in LOCALES:
            return chosen
    # Not Accept-Language: the stated default is zh-Hans, whatever the phone's own
    # language; an applicant's choice in the switcher is what changes it.
    return DEFAULT_LOCALE


def _babel_locale() -> str:
    locale = select_locale()
    if has_request_context():
        # Remembered so that after_request knows the response depends on the locale.
        g.onething_locale = locale
    return to_babel(locale)


def current_locale() -> str:
    """The current locale as one of LOCALES (DEFAULT_LOCALE outside a request)."""
    if not has_app_context() or "babel" not in current_app.extensions:
        return DEFAULT_LOCALE
    # get_locale() also honours flask_babel.force_locale.
    locale = get_locale()
    return (match_locale(str(locale)) if locale else None) or DEFAULT_LOCALE


def localized(text: Any) -> str:
    """A definition text (a locale map or a plain string) in the current locale."""
    return localize(text, current_locale())


# How a language separates a list's items: the enumeration comma (顿号) in Chinese.
LIST_SEPARATORS = {"en": ", "}
# How a language puts a label before its value: the full-width colon in Chinese.
COLONS = {"en": ": "}


def colon() -> str:
    """The colon between a label and its value: "：" in Chinese, ": " in English."""
    return COLONS.get(current_locale(), "：")


def labelled(title: str) -> str:
    """A label and its colon; a question's own mark gives way ("是否已取得营业执照？：" reads
    as a typo)."""
    return str(title).rstrip("？?：: ") + colon()


# Chinese text takes full-width punctuation (，；（）), English the half-width with spaces.
COMMAS = {"en": ", "}
SEMICOLONS = {"en": "; "}
PARENTHESES = {"en": (" (", ")")}


def comma() -> str:
    """The comma between two parts of a phrase: "，" in Chinese, ", " in English."""
    return COMMAS.get(current_locale(), "，")


def semicolon() -> str:
    """The semicolon between two clauses: "；" in Chinese, "; " in English."""
    return SEMICOLONS.get(current_locale(), "；")


def parenthesized(text: Any) -> Any:
    """An aside after a word: "（甲）" in Chinese, " (a)" in English; escaped as given."""
    opening, closing = PARENTHESES.get(current_locale(), ("（", "）"))
    return escape(opening) + escape(text) + escape(closing)


def join_list(items) -> str:
    """Items joined as the current language writes a list: 甲、乙 in Chinese, "a, b" in English."""
    return LIST_SEPARATORS.get(current_locale(), "、").join(str(item) for item in items)


def say(message: Any) -> str:
    """A problem's message in the current locale: a Text's template translated and formatted
    with its values (a list joined as the language joins one, a Text inside said alike);
    anything else as it is. Untranslated (and in English), the English text itself."""
    if not isinstance(message, Text):
        return message
    translated = _gettext(message.template)
    if translated == message.template:
        # English, or no translation: the text as the command line prints it.
        return str(message)
    values = {name: join_list(say(item) for item in value) if isinstance(value, (list, tuple))
              else say(value) for name, value in message.values.items()}
    try:
        return translated.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):  # a faulty translation
        return str(message)


# (.po path, its mtime and size) -> the compiled .mo bytes. Parsing the three catalogs
# takes about 0.3 s: a process that makes several apps, each with an instance folder of
# its own (the tests make hundreds), parses each catalog once.
_COMPILED: dict[tuple[Path, int, int], bytes] = {}


def _mo_bytes(po_path: Path, locale: str) -> bytes:
    """The .po file compiled, parsed once per process for each version of the file."""
    stat = po_path.stat()
    key = (po_path, stat.st_mtime_ns, stat.st_size)
    found = _COMPILED.get(key)
    if found is None:
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file, locale=locale, domain=po_path.stem)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        found = _COMPILED[key] = buffer.getvalue()
    return found


def compile_catalogs(target: Path, source: Path = CATALOGS) -> list[Path]:
    """Compile each source/<locale>/LC_MESSAGES/*.po newer than its .mo into target; list them."""
    compiled = []
    for po_path in sorted(source.glob("*/LC_MESSAGES/*.po")):
        relative = po_path.relative_to(source).with_suffix(".mo")
        mo_path = target / relative
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        content = _mo_bytes(po_path, relative.parts[0])
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: several workers may start at once, and none may
        # read a half-written catalog.
        handle, temporary = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        try:
            with os.fdopen(handle, "wb") as mo_file:
                mo_file.write(content)
            os.replace(temporary, mo_path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        compiled.append(mo_path)
    return compiled


def _remember_choice(response):
    chosen = request.args.get("lang")
    if chosen in LOCALES:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True, secure=request.is_secure)
    if "onething_locale" in g:
        # The same URL answers in another language for another cookie.
        response.vary.add("Cookie")
    return response


def init_app(app) -> None:
    """Compile the catalogs into the instance folder and set up Babel, the cookie and Jinja."""
    compiled_dir = Path(app.instance_path) / "translations"
    compile_catalogs(compiled_dir)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled_dir)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", to_babel(DEFAULT_LOCALE))
    app.config.setdefault("BABEL_DOMAIN", DOMAIN)
    # Must match `trimmed = true` in babel.cfg, or {% trans %} ids would not be found.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    babel.init_app(app, locale_selector=_babel_locale)
    app.jinja_env.filters["say"] = say
    app.after_request(_remember_choice)
    app.jinja_env.globals.update(
        t=localized,
        say=say,
        current_locale=current_locale,
        locales=LOCALES,
        locale_names=LOCALE_NAMES,
    )


def department_name(code: str, catalog) -> str:
    """A department's name in the current locale (its code if unknown)."""
    department = catalog.departments.get(code)
    if department is None:
        return code
    short = department.data.get("short_name")
    # A short name written in Chinese only is no name for an English reader: the full name
    # in English is (Chinese scripts convert one into the other).
    if short and current_locale() == "en" and not (isinstance(short, dict) and short.get("en")):
        short = None
    return localized(short or department.name)


def matter_name(code: str, catalog) -> str:
    """A matter's name in the current locale (or a nested bundle's, an item of a 一类事)."""
    item = catalog.matters.get(code) or catalog.bundles.get(code)
    return localized(item.name) if item else code
