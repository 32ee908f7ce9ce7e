"""Check-digit formats for Chinese identifiers, registered on a jsonschema FormatChecker.

Two named formats are used by the shared field library (``schemas/fields``):

``cn-resident-id``
    The 18-character citizen identity number of GB 11643-1999: a 6-digit
    administrative division code, the birth date ``YYYYMMDD``, a 3-digit
    sequence number and an ISO 7064 MOD 11-2 check character.

``cn-uscc``
    The 18-character unified social credit code (统一社会信用代码) of
    GB 32100-2015: registration authority, organisation category, division
    code, the 9-character organisation code of GB 11714 (with its own
    MOD 11 check character) and a MOD 31 check character.

``FORMAT_CHECKER`` is a ``jsonschema.FormatChecker`` with every standard
format (``date``, ``email``, ...) plus these two; pass it to a validator as
``Draft202012Validator(schema, format_checker=FORMAT_CHECKER)``.
"""

from __future__ import annotations

import datetime as _dt
import re

import jsonschema

from onething.catalog.workdays import china_today

__all__ = [
    "FORMAT_CHECKER",
    "KNOWN_FORMATS",
    "RESIDENT_ID_PROVINCES",
    "USCC_ALPHABET",
    "USCC_REGISTRATION_AUTHORITIES",
    "is_resident_id",
    "is_uscc",
    "organization_code_check_char",
    "resident_id_check_char",
    "uscc_check_char",
]

# --- GB 11643-1999 resident identity number ---------------------------------

# The first two digits are a province-level division of GB/T 2260; a number
# starting with anything else was never issued.  71 is Taiwan, 81 Hong Kong and
# 82 Macao (residence permits for compatriots use these).
RESIDENT_ID_PROVINCES = frozenset(
    {
        "11", "12", "13", "14", "15",
        "21", "22", "23",
        "31", "32", "33", "34", "35", "36", "37",
        "41", "42", "43", "44", "45", "46",
        "50", "51", "52", "53", "54",
        "61", "62", "63", "64", "65",
        "71", "81", "82",
    }
)  # fmt: skip

# Weight of position i (1-based) is 2^(18-i) mod 11, i.e. 2^(17-i) for a 0-based i.
_RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
# ISO 7064 MOD 11-2: the check value c satisfies (sum + c) % 11 == 1, so
# c = (12 - sum % 11) % 11; the value 10 is written as the Roman numeral X.
_RESIDENT_ID_CHECK = "10X98765432"  # indexed by sum % 11

# ASCII only: str.isdigit() and \d would also accept full-width and other
# Unicode digits, which are not valid in an identity number.
_RESIDENT_ID_RE = re.compile(r"[1-9][0-9]{16}[0-9X]", re.ASCII)
_FIRST17_RE = re.compile(r"[0-9]{17}", re.ASCII)

_EARLIEST_BIRTH = _dt.date(1900, 1, 1)


def resident_id_check_char(first17: str) -> str:
    """Return the GB 11643 check character ('0'-'9' or 'X') for 17 leading digits."""
    if not isinstance(first17, str) or not _FIRST17_RE.fullmatch(first17):
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(ch) * w for ch, w in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True))
    return _RESIDENT_ID_CHECK[total % 11]


def _birth_date(digits: str) -> _dt.date | None:
    """Return the date written as YYYYMMDD, or None if no such calendar day exists."""
    try:
        return _dt.date(int(digits[0:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def is_resident_id(value: str) -> bool:
    """Tell whether value is a valid 18-character GB 11643 resident identity number."""
    # Only the upper-case X is accepted: it is the form printed on the card and
    # stored by the public security registry, so one person has one spelling.
    if not isinstance(value, str) or not _RESIDENT_ID_RE.fullmatch(value):
        return False
    if value[:2] not in RESIDENT_ID_PROVINCES:
        return False
    born = _birth_date(value[6:14])
    # Numbers are issued in China: a baby born just after midnight in Beijing must not be
    # refused by a server that runs on UTC.
    if born is None or not _EARLIEST_BIRTH <= born <= china_today():
        return False
    return resident_id_check_char(value[:17]) == value[17]


# --- GB 11714-1997 organisation code -----------------------------------------

_ORG_CODE_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_RE = re.compile(r"[0-9A-Z]{8}", re.ASCII)


def organization_code_check_char(first8: str) -> str:
    """Return the GB 11714 organisation-code check character ('0'-'9' or 'X') for 8 characters."""
    if not isinstance(first8, str) or not _ORG_BODY_RE.fullmatch(first8):
        raise ValueError(f"expected 8 ASCII digits or capital letters, got {first8!r}")
    # Letters count as 10 (A) to 35 (Z), i.e. their value in base 36.
    total = sum(int(ch, 36) * w for ch, w in zip(first8, _ORG_CODE_WEIGHTS, strict=True))
    check = 11 - total % 11
    # 11 - r lies in 1..11: 10 is written X and 11 wraps round to 0.
    return {10: "X", 11: "0"}.get(check, str(check))


# --- GB 32100-2015 unified social credit code --------------------------------

# 31 characters: the digits and the capital letters without I, O, Z, S and V,
# which are too easily mistaken for 1, 0, 2, 5 and U.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}
# Weight of position i is 3^i mod 31 (i = 0..16).
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# Registration authority (登记管理部门) codes: 1 机构编制, 2 外交, 3 司法行政,
# 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (市场监管), A 中央军委改革和编制办公室,
# N 农业, Y 其他.
USCC_REGISTRATION_AUTHORITIES = frozenset("123456789ANY")

_USCC_RE = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}", re.ASCII)


def uscc_check_char(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 characters of a USCC."""
    if not isinstance(first17, str) or len(first17) != 17:
        raise ValueError(f"expected 17 characters, got {first17!r}")
    try:
        total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the USCC alphabet") from None
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(value: str) -> bool:
    """Tell whether value is a valid 18-character GB 32100 unified social credit code."""
    if not isinstance(value, str) or not _USCC_RE.fullmatch(value):
        return False
    if value[0] not in USCC_REGISTRATION_AUTHORITIES:
        return False
    # Positions 9-17 are the GB 11714 organisation code, whose last character
    # is a check character of its own; a code that fails it was mistyped
    # even if the outer check happens to agree.
    if organization_code_check_char(value[8:16]) != value[16]:
        return False
    return uscc_check_char(value[:17]) == value[17]


# --- jsonschema integration --------------------------------------------------

# A fresh instance copies the class-wide registry of standard formats, so
# registering ours below does not leak into other users of jsonschema.
FORMAT_CHECKER = jsonschema.FormatChecker()


@FORMAT_CHECKER.checks("cn-resident-id")
def _check_resident_id(instance: object) -> bool:
    """Check the cn-resident-id format; non-strings pass, as for every format."""
    # JSON Schema formats constrain strings only; "type" rejects other values.
    return not isinstance(instance, str) or is_resident_id(instance)


@FORMAT_CHECKER.checks("cn-uscc")
def _check_uscc(instance: object) -> bool:
    """Check the cn-uscc format; non-strings pass, as for every format."""
    return not isinstance(instance, str) or is_uscc(instance)


# The formats a definition may name: both validators check each of them (jsonschema-rs
# the standard ones itself). Any other is refused by `check`, since it would check
# nothing; the list does not grow when an optional package teaches jsonschema more.
KNOWN_FORMATS = ("cn-resident-id", "cn-uscc", "date", "email", "idn-email", "idn-hostname",
                 "ipv4", "ipv6", "time", "uuid")
