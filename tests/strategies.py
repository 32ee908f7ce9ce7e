"""Hypothesis strategies for the check-digit formats of onething.formats.

hypothesis-jsonschema cannot invent values for unknown formats, so property
tests that generate form data pass these in::

    from hypothesis_jsonschema import from_schema
    from strategies import CUSTOM_FORMATS

    from_schema(schema, custom_formats=CUSTOM_FORMATS)

Every value drawn is valid for its format and also matches the pattern the
field library puts beside the format, so either constraint can be tested
without the other getting in the way.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from onething.catalog.dates import DATE_BOUNDS, limits
from onething.catalog.formats import (
    RESIDENT_ID_PROVINCES,
    USCC_ALPHABET,
    USCC_REGISTRATION_AUTHORITIES,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)

__all__ = ["CUSTOM_FORMATS", "form_formats", "resident_ids", "usccs", "with_date_ranges"]

# Sorted so that hypothesis shrinks towards the same example on every run.
_PROVINCES = sorted(RESIDENT_ID_PROVINCES)
_AUTHORITIES = sorted(USCC_REGISTRATION_AUTHORITIES)


def _digits(n: int) -> st.SearchStrategy[str]:
    """Strategy of strings of exactly n ASCII digits."""
    return st.text("0123456789", min_size=n, max_size=n)


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    """Strategy of valid GB 11643 resident ID numbers born 1900-2020."""
    # 2020 rather than today keeps the strategy independent of the clock.
    born = draw(st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)))
    first17 = (
        draw(st.sampled_from(_PROVINCES))
        + draw(_digits(4))
        + born.strftime("%Y%m%d")
        + draw(_digits(3))
    )
    return first17 + resident_id_check_char(first17)


@st.composite
def usccs(draw: st.DrawFn) -> str:
    """Strategy of valid GB 32100 unified social credit codes."""
    # The organisation code is drawn from the USCC alphabet, so the whole code
    # stays within it (GB 11714 itself would also allow I, O, Z, S and V).
    org_body = draw(st.text(USCC_ALPHABET, min_size=8, max_size=8))
    first17 = (
        draw(st.sampled_from(_AUTHORITIES))
        + draw(st.sampled_from(USCC_ALPHABET))
        + draw(st.sampled_from(_PROVINCES))
        + draw(_digits(4))
        + org_body
        + organization_code_check_char(org_body)
    )
    return first17 + uscc_check_char(first17)


CUSTOM_FORMATS = {"cn-resident-id": resident_ids(), "cn-uscc": usccs()}


# The bounded dates met so far, each a format of its own (see with_date_ranges).
DATE_FORMATS: dict = {}


def form_formats() -> dict:
    """Every custom format a form's strategy may meet: the check-digit ones and the dates."""
    return {**CUSTOM_FORMATS, **DATE_FORMATS}


def with_date_ranges(schema):
    """The schema with each bounded date (formatMinimum, …, unknown to hypothesis-jsonschema)
    turned into a format of its own whose strategy draws only dates within the bounds today.

    The format is registered in DATE_FORMATS: pass form_formats() to from_schema.
    """
    if isinstance(schema, list):
        return [with_date_ranges(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {key: with_date_ranges(value) if key not in ("enum", "const", "examples")
              else value for key, value in schema.items()}
    if result.get("format") == "date" and any(key in result for key in DATE_BOUNDS):
        low, high = limits(result)
        name = f"date-within:{low}:{high}"
        DATE_FORMATS.setdefault(name, st.dates(
            dt.date.fromisoformat(low) if low else dt.date(1900, 1, 1),
            dt.date.fromisoformat(high) if high else dt.date(2999, 12, 31),
        ).map(dt.date.isoformat))
        for key in DATE_BOUNDS:
            result.pop(key, None)
        result["format"] = name
    return result


def cache_regex_strategies() -> None:
    """Make hypothesis-jsonschema build each pattern's strategy once per session.

    Turning a regex into a strategy is pure but slow (about 0.4 s for the library's
    Chinese-name pattern), and hypothesis-jsonschema repeats it for every schema that
    holds the pattern: with one schema per scenario that dominated the soundness tests.
    """
    from hypothesis_jsonschema import _from_schema

    original = _from_schema.from_js_regex
    if getattr(original, "cached", False):
        return
    cache: dict = {}

    def from_js_regex(pattern, alphabet):
        key = (pattern, id(alphabet))
        if key not in cache:
            cache[key] = (original(pattern, alphabet), alphabet)
        return cache[key][0]

    from_js_regex.cached = True
    _from_schema.from_js_regex = from_js_regex
