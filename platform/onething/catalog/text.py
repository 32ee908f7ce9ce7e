"""Localized text: a plain string (zh-Hans) or one string per locale."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pypinyin import lazy_pinyin

LOCALES = ("zh-Hans", "zh-Hant", "en")
DEFAULT_LOCALE = "zh-Hans"

# Chinese characters, the CJK unified ideographs and their extension A.
HAN = re.compile(r"[\u3400-\u9fff]+")

# Schema keywords whose values may be localized text in definitions.
TEXT_KEYWORDS = ("title", "description")


def is_localized(value: Any) -> bool:
    """Tell whether a value is a locale map such as {"zh-Hans": …, "en": …}."""
    return (
        isinstance(value, dict)
        and DEFAULT_LOCALE in value
        and all(key in LOCALES and isinstance(text, str) for key, text in value.items())
    )


def localize(text: Any, locale: str = DEFAULT_LOCALE) -> str:
    """Pick the text for a locale, falling back to zh-Hans, then to any text."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, dict):
        for key in (locale, DEFAULT_LOCALE, *LOCALES):
            if text.get(key):
                return text[key]
    return str(text)


def as_map(text: Any) -> dict[str, str]:
    """Return localized text as a full locale map (missing locales fall back)."""
    return {locale: localize(text, locale) for locale in LOCALES}


def standardize_schema(schema: Any) -> Any:
    """Copy a schema with each localized title/description as a zh-Hans string plus x-title.

    Definitions may localize titles inside JSON Schemas; the 2020-12 meta-schema wants
    strings there, so the composer writes `title` in zh-Hans and keeps every locale in
    `x-title` / `x-description`.
    """
    if isinstance(schema, list):
        return [standardize_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in TEXT_KEYWORDS and is_localized(value):
            result[key] = value[DEFAULT_LOCALE]
            result[f"x-{key}"] = as_map(value)
        else:
            result[key] = standardize_schema(value)
    return result


# Names are searched on every keystroke of the console: each reading is worked out once
# (pypinyin was nine tenths of a keystroke's time).
@lru_cache(maxsize=16384)
def readings(text: str) -> tuple[str, str]:
    """The pinyin of a text's Chinese characters without tones or spaces, and its initials."""
    syllables = lazy_pinyin("".join(HAN.findall(text)), errors="ignore")
    return "".join(syllables), "".join(syllable[:1] for syllable in syllables)


def pinyin(text: str) -> str:
    """The reading of the Chinese characters of a text, without tones or spaces."""
    return readings(text)[0]


def initials(text: str) -> str:
    """The first letters of the reading of a text's Chinese characters ("kbcyd")."""
    return readings(text)[1]
