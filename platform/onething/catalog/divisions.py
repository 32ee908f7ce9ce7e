"""Administrative divisions (行政区划, GB/T 2260): a code's full name, and codes found by name.

Applicants know where their shop is (市南区), not its six-digit code (370202):
the one form's division field offers matching divisions as they type, and
review pages and department slices show the name beside the code. The table
is `schemas/divisions.json`, down to county level.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

import opencc

from onething.catalog.text import pinyin

# Suggestions offered at a time: enough for every 市南区 or 朝阳区 of the country.
SUGGESTIONS = 12


def _table_path() -> Path:
    from onething.catalog.loader import default_root

    return default_root() / "divisions.json"


def load_divisions(path: str | None = None) -> dict[str, tuple[str, str]]:
    """Every division by code: its own name and its full name (市南区, 山东省青岛市市南区).

    Empty for a schemas folder without the table: its codes are then shown as they are.
    """
    return _read_table(str(path or _table_path()))


@lru_cache(maxsize=4)
def _read_table(path: str) -> dict[str, tuple[str, str]]:
    # Keyed by the path itself, so that another schemas folder reads its own table.
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    names = json.loads(text)["divisions"]
    return {code: (name, _full_name(names, code)) for code, name in names.items()}


def _full_name(names: dict[str, str], code: str) -> str:
    # A county sits under its prefecture (XXXX00) and province (XX0000); a municipality's
    # districts and the counties a province governs directly have no prefecture entry.
    province, prefecture = code[:2] + "0000", code[:4] + "00"
    parts = [names.get(province)] if code != province else []
    if prefecture not in (code, province):
        parts.append(names.get(prefecture))
    return "".join(part for part in [*parts, names[code]] if part)


@cache
def _converter(config: str) -> opencc.OpenCC:
    # The table is in simplified characters: t2s reads a zh-Hant search, s2t writes for one.
    return opencc.OpenCC(config)


def full_name(code: str | None, locale: str = "zh-Hans") -> str | None:
    """The full name of a division code in a locale's script, or None for an unknown code."""
    found = load_divisions().get(code) if isinstance(code, str) else None
    if found is None:
        return None
    return _converter("s2t").convert(found[1]) if locale == "zh-Hant" else found[1]


def code_of(typed: str) -> str | None:
    """The code of the one division a typed name means (市南区, 青岛市市南区, 市南區), or
    None when it names none, or several (朝阳区 is in Beijing and in Changchun)."""
    query = "".join(_converter("t2s").convert(unicodedata.normalize("NFKC", typed)).split())
    if not query or query.isdigit():
        return None
    found = [code for code, (name, full) in load_divisions().items()
             if full.endswith(query) and query.endswith(name)]
    return found[0] if len(found) == 1 else None


def search(query: str, limit: int = SUGGESTIONS, locale: str = "zh-Hans"
           ) -> list[tuple[str, str]]:
    """(code, full name in the locale's script) of the divisions a query names, best first.

    A code's first digits, or a part of the name, in either script: 市南 (or 市南區) finds
    市南区 before a 天津市南开区 that only holds it across the 市 of 天津市 and the 南 of 南开区.
    """
    query = _converter("t2s").convert(unicodedata.normalize("NFKC", query or "").strip())
    if not query:
        return []
    if _LATIN.search(query):
        return [(code, full_name(code, locale)) for code in _by_reading(query, limit)]
    terms = query.split()  # "青岛 市南": every word somewhere in the full name
    ranked = []
    for code, (name, full) in load_divisions().items():
        if code.startswith(query) or name.startswith(query):
            rank = 0
        elif query in name:
            rank = 1
        elif all(term in full for term in terms):
            rank = 2
        else:
            continue
        # An address is filed at county level: districts and counties before their cities.
        ranked.append((rank, code.endswith("00"), code, full))
    ranked.sort()
    return [(code, full_name(code, locale)) for _, _, code, _ in ranked[:limit]]


_LATIN = re.compile(r"[A-Za-z]")
# English words a place name carries that its pinyin does not: "Shinan District".
_ENGLISH_LEVELS = {"district", "county", "city", "province", "prefecture", "region",
                   "autonomous", "banner", "league", "new", "area"}


def _fold_reading(word: str) -> str:
    """Typed pinyin as pypinyin writes it: lower case, no tone marks or numbers, ü as v."""
    word = word.lower().replace("ü", "v").replace("u:", "v")
    word = "".join(char for char in unicodedata.normalize("NFD", word)
                   if not unicodedata.combining(char))
    return re.sub(r"[^a-z]", "", word)


@lru_cache(maxsize=4)
def _readings(path: str) -> tuple[tuple[str, str, str], ...]:
    # (code, the name's pinyin, the full name's pinyin), worked out once per table; a full
    # name's from its parts' (pypinyin reads each name once, not once per division under it).
    table = _read_table(path)
    own = {code: pinyin(name) for code, (name, _) in table.items()}
    readings = []
    for code in table:
        province, prefecture = code[:2] + "0000", code[:4] + "00"
        parts = [province] if code != province else []
        if prefecture not in (code, province):
            parts.append(prefecture)
        readings.append((code, own[code], "".join(own.get(p, "") for p in [*parts, code])))
    return tuple(readings)


def _by_reading(query: str, limit: int) -> list[str]:
    """Division codes whose names read as typed pinyin ("Shinan", "shí nán", "Qingdao shinan")."""
    words = [_fold_reading(word) for word in query.split()
             if word.lower() not in _ENGLISH_LEVELS]
    words = [word for word in words if word]
    joined = "".join(words)
    if not joined:
        return []
    ranked = []
    for code, name, full in _readings(str(_table_path())):
        if name.startswith(joined):
            rank = 0
        elif joined in name:
            rank = 1
        elif joined in full or all(word in full for word in words):
            rank = 2
        else:
            continue
        ranked.append((rank, code.endswith("00"), code))
    ranked.sort()
    return [code for _, _, code in ranked[:limit]]
