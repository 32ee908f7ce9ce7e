"""Numbers typed the way people type them: １２０, 1,200, 120㎡, 30万, 3.5万元, 2亩, 80人.

A quantity field says its unit (`x-unit`). What the applicant types is read in that
unit: full-width digits and commas are plain ones, thousands separators go, a unit word
the same quantity counts in is converted ("2亩" in a ㎡ field is 1333.333333 ㎡), and 万
or 亿 multiply. In a field counted in 万元, "30万" is 30 and "30万元" too; "3000元" is
0.3. What cannot be read so is left as typed, and the field's check says why.
"""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction

from onething.catalog.units import DIGITS, UNITS, quantity

# Words people write after a number, by unit (after NFKC: ㎡ is "m2", ｍ "m").
UNIT_WORDS = {
    "m2": ("平方米", "平米", "平方", "m2", "m²", "sqm"),
    "mu": ("亩", "畝"),
    "hectare": ("公顷", "公頃", "ha", "hm2"),
    "km2": ("平方千米", "平方公里", "km2", "km²"),
    "cm": ("厘米", "公分", "cm"),
    "m": ("米", "m"),
    "km": ("千米", "公里", "km"),
    "kg": ("千克", "公斤", "kg"),
    "t": ("吨", "噸", "t"),
    "m3": ("立方米", "立方", "方", "m3", "m³"),
    "l": ("升", "l"),
    "yuan": ("元", "圆", "块", "塊", "yuan", "rmb"),
    "wan_yuan": ("万元", "萬元"),
}
_WORDS = {word: unit for unit, words in UNIT_WORDS.items() for word in words}
# Longest first, so that 平方千米 is not read as 平方 and 千米.
_WORD_PATTERN = "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True))
MAGNITUDES = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000, "千": 1_000}
# A unit that is itself a magnitude of another: "30万" in a 万元 field is 30万 元.
_MAGNITUDE_OF = {"wan_yuan": "yuan"}
# Measure words a count is typed with ("80人", "3家"): a plain count, in a field with no unit.
COUNT_WORDS = "人个個位名家间間层層张張台辆輛件份次户戶"
_NUMBER = re.compile(
    r"(?P<sign>[+-]?)(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?P<magnitude>[万萬亿億千])?"
    rf"(?:(?P<word>{_WORD_PATTERN})|(?P<count>[{COUNT_WORDS}]))?", re.IGNORECASE)
# Longer than any number worth typing: nothing more is even looked at.
MAX_LENGTH = 64


def read_number(text: str, unit: str | None = None) -> int | float | None:
    """The number a typed text means in `unit` (None: plain count), or None if unreadable."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        return None
    plain = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()
    found = _NUMBER.fullmatch(plain)
    if found is None or (found["count"] and unit is not None):
        return None  # unreadable, or a count word ("80人") in a field of a quantity
    value = Fraction(found["digits"].replace(",", ""))
    if found["sign"] == "-":
        value = -value
    typed = _WORDS.get(found["word"] or "")
    if found["magnitude"]:
        value *= MAGNITUDES[found["magnitude"]]
        if typed is None and unit in _MAGNITUDE_OF:
            typed = _MAGNITUDE_OF[unit]
    if typed is not None and typed != unit:
        if unit is None or quantity(typed) != quantity(unit):
            return None  # another quantity, or a unit in a field that counts none
        value = value * UNITS[typed][1] / UNITS[unit][1]
    result = float(f"{float(value):.{DIGITS}g}")
    return int(result) if result.is_integer() else result
