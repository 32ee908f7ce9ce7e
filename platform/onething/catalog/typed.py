"""What applicants type, folded to what the field's rule checks: 全角 to 半角, a lower-case x
in an identity number, spaces in a credit code, +86 before a mobile number.

A field of the layout says its `input` kind (from its format or pattern, see
`composer.layout.input_kind`). `fold` turns a typed text into the spelling the schema
accepts, without ever making an invalid value valid by guessing: a character that is not
merely a different spelling of an accepted one is kept, and the field's check refuses it.
The blur check and the submit both call `fold` (through `cases.forms.parse_field`), so
the two never disagree, and the folded value is what is saved and shown again.
"""

from __future__ import annotations

import re

# Full-width ASCII (！ to ～) sits 0xFEE0 above the ASCII it stands for; U+3000 is the
# ideographic space. Only these are folded: NFKC would also turn ㎡ into m2 or ① into 1,
# which changes what a free text says. In free text only letters and digits are: a
# Chinese address rightly writes （） and ，.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_ALPHANUMERIC = {code: target for code, target in _FULL_WIDTH.items()
                 if chr(target).isalnum()}
# Separators people put inside a number they read aloud in groups: 138 0013 8000,
# 138-0013-8000, and the full-width or Chinese dash.
_GROUPING = re.compile(r"[\s\-‐‑–—－]+")
# Mainland China's country code, written +86, 0086 or (+86), before an 11-digit number.
_COUNTRY = re.compile(r"^(?:\(\+?86\)|\+86|0086)(?=1\d{10}$)")

KINDS = ("resident-id", "uscc", "mobile")


def half_width(text: str, punctuation: bool = True) -> str:
    """Full-width letters and digits (and punctuation and spaces) as their ASCII selves."""
    return text.translate(_FULL_WIDTH if punctuation else _ALPHANUMERIC)


def fold(kind: str | None, text: str) -> str:
    """A typed text in the spelling the field's rule accepts (trimmed, half-width, …)."""
    text = half_width(text, punctuation=kind in KINDS).strip()
    if kind in ("resident-id", "uscc"):
        # 11010519491231002x, "9137 0202 MA3C 0001 1L": the same number, as printed.
        return _GROUPING.sub("", text).upper()
    if kind == "mobile":
        plain = _GROUPING.sub("", text)
        return _COUNTRY.sub("", plain)
    return text
