"""Units of quantities (计量单位): what an area, a length, a mass, a volume or a sum of
money is counted in, and how one unit converts to another of the same quantity.

A library field says the unit the one form asks in (`"x-unit": "m2"`); a matter using
the field says the unit its own form wants (`"x-unit": "mu"`), with its bounds in that
unit. The applicant answers once; each department receives the value in its unit.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

# unit -> (quantity, how many base units one of it is, its names)
UNITS: dict[str, tuple[str, Fraction, dict[str, str]]] = {
    "m2": ("area", Fraction(1), {"zh-Hans": "平方米", "zh-Hant": "平方米", "en": "m²"}),
    "mu": ("area", Fraction(10000, 15), {"zh-Hans": "亩", "zh-Hant": "畝", "en": "mu"}),
    "hectare": ("area", Fraction(10000), {"zh-Hans": "公顷", "zh-Hant": "公頃", "en": "ha"}),
    "km2": ("area", Fraction(1_000_000), {"zh-Hans": "平方千米", "zh-Hant": "平方千米",
                                          "en": "km²"}),
    "cm": ("length", Fraction(1, 100), {"zh-Hans": "厘米", "zh-Hant": "厘米", "en": "cm"}),
    "m": ("length", Fraction(1), {"zh-Hans": "米", "zh-Hant": "米", "en": "m"}),
    "km": ("length", Fraction(1000), {"zh-Hans": "千米", "zh-Hant": "千米", "en": "km"}),
    "kg": ("mass", Fraction(1), {"zh-Hans": "千克", "zh-Hant": "千克", "en": "kg"}),
    "t": ("mass", Fraction(1000), {"zh-Hans": "吨", "zh-Hant": "噸", "en": "t"}),
    "m3": ("volume", Fraction(1), {"zh-Hans": "立方米", "zh-Hant": "立方米", "en": "m³"}),
    "l": ("volume", Fraction(1, 1000), {"zh-Hans": "升", "zh-Hant": "升", "en": "L"}),
    "yuan": ("money", Fraction(1), {"zh-Hans": "元", "zh-Hant": "元", "en": "yuan"}),
    "wan_yuan": ("money", Fraction(10000), {"zh-Hans": "万元", "zh-Hant": "萬元",
                                            "en": "10,000 yuan"}),
}
# Converted values keep this many significant digits: 1 亩 is 666.6666667 ㎡, and a
# value converted there and back is the value again.
DIGITS = 10
BOUND_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def quantity(unit: str) -> str | None:
    """What a unit measures ("area"), or None for an unknown unit."""
    found = UNITS.get(unit)
    return found[0] if found else None


def convert(value: Any, source: str, target: str) -> Any:
    """A number in `source` units, in `target` units (rounded); anything else unchanged."""
    if source == target or isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    exact = Fraction(value) * UNITS[source][1] / UNITS[target][1]
    result = float(f"{float(exact):.{DIGITS}g}")
    return int(result) if result.is_integer() and isinstance(value, int) else result


def convert_bounds(schema: dict, source: str, target: str) -> dict:
    """A matter's constraints stated in its unit, restated in the field's unit."""
    if source == target:
        return schema
    converted = dict(schema)
    for keyword in BOUND_KEYWORDS:
        if keyword in converted:
            converted[keyword] = convert(float(converted[keyword]), source, target)
    # A multiple of one unit is no multiple of another: the matter's form checks it.
    converted.pop("multipleOf", None)
    return converted


def unit_name(unit: str | None) -> dict[str, str] | None:
    """A unit's localized names."""
    found = UNITS.get(unit or "")
    return found[2] if found else None
