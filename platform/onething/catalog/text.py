"""Localized text: a plain string (zh-Hans) or one string per locale."""

from __future__ import annotations

import re
import unicodedata
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
    if isinstance(text, str):  # the common case, and a layout asks for thousands of them
        return dict.fromkeys(LOCALES, text)
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


def normalize(text: str) -> str:
    """Fold full-width forms and case, and collapse spaces: how texts are compared."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).lower()).strip()


# Names are searched on every keystroke of the console, and read twice at a first start
# (for the console's index and the public directory): each reading is worked out once,
# as pypinyin takes about 10 µs a character. Bounded: a name is some 40 bytes.
@lru_cache(maxsize=65536)
def readings(text: str) -> tuple[str, str]:
    """The pinyin of a text's Chinese characters without tones or spaces, and its initials."""
    syllables = lazy_pinyin("".join(HAN.findall(text)), errors="ignore")
    return "".join(syllables), "".join(syllable[:1] for syllable in syllables)


def syllable(char: str) -> str:
    """The commonest reading of one Chinese character, without tone ("" for other characters)."""
    found = lazy_pinyin(char, errors="ignore") if HAN.fullmatch(char) else []
    return found[0] if found else ""


# The reading of each Chinese character met so far, as str.translate wants it: at most
# the 27,584 characters HAN covers, and "~ " for any other character (\x00 stands in).
_SOUNDS: dict[int, str] = {0: "~ "}
_SOUNDED: set[str] = set()
_NOT_HAN = re.compile(r"[^\u3400-\u9fff]")


def sounds(text: str) -> str:
    """A text as the readings of its characters one by one, each followed by a space.

    Homophone typos (参饮店 for 餐饮店) meet here: " can yin dian " holds " can yin ".
    Characters without a reading keep their place as "~", so words never join across them.
    """
    for char in set(text).difference(_SOUNDED):
        if HAN.fullmatch(char):
            _SOUNDS[ord(char)] = (syllable(char) or "~") + " "
            _SOUNDED.add(char)
    return " " + _NOT_HAN.sub("\x00", text).translate(_SOUNDS)


def pinyin(text: str) -> str:
    """The reading of the Chinese characters of a text, without tones or spaces."""
    return readings(text)[0]


def initials(text: str) -> str:
    """The first letters of the reading of a text's Chinese characters ("kbcyd")."""
    return readings(text)[1]
