"""Regular expressions that cannot stall: JSON Schema patterns run on RE2, in linear time.

A pattern in a definition is text an administrator writes; with a backtracking engine
(Python's `re`), `^(a+)+$` takes seconds on 28 characters and days on 60, and every
worker that checks a field with it stalls. RE2 (google-re2) matches in time linear in
the text, and refuses what it cannot run so: lookarounds and backreferences. `check`
refuses such a pattern where it stands.

JSON Schema patterns are ECMA-262 regular expressions: `\\uXXXX` escapes become RE2's
`\\x{XXXX}`; the rest of what the field library writes reads the same in both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import jsonschema
import re2
from jsonschema import Draft202012Validator

from onething.catalog.problems import Text

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is reported by check, not on stderr
# An escape \uXXXX not itself escaped (an even number of backslashes before it).
_ECMA_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9A-Fa-f]{4})")


class PatternError(ValueError):
    """A pattern RE2 cannot run (a lookaround, a backreference, bad syntax); its one
    argument is the message, a Text."""

    @property
    def text(self) -> Text:
        """The message as raised, with what it takes to translate it."""
        return self.args[0]


def translate(pattern: str) -> str:
    """An ECMA-262 pattern in RE2's syntax."""
    return _ECMA_ESCAPE.sub(lambda m: f"{m[1]}\\x{{{m[2]}}}", pattern)


@lru_cache(maxsize=4096)
def compiled(pattern: str):
    """The pattern compiled for RE2; PatternError says why it cannot be."""
    try:
        return re2.compile(translate(pattern), options=_OPTIONS)
    except re2.error as error:
        detail = error.args[0].decode() if error.args and isinstance(
            error.args[0], bytes) else str(error)
        # RE2's own words for what it refuses (invalid perl operator: (?<): English.
        raise PatternError(Text("{pattern!r} cannot run in linear time (RE2): {detail}; "
                                "lookarounds and backreferences are not allowed",
                                pattern=pattern, detail=detail)) from None


def matches(pattern: str, text: str) -> bool:
    """Whether a pattern is found in a text, as JSON Schema's `pattern` asks (unanchored)."""
    return compiled(pattern).search(text) is not None


def _pattern(validator, pattern: Any, instance: Any, schema: dict):
    if not validator.is_type(instance, "string") or not isinstance(pattern, str):
        return
    try:
        found = matches(pattern, instance)
    except PatternError:
        found = False  # check refuses such a pattern; here it can only fail safe
    if not found:
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# python-jsonschema with patterns on RE2: every validator of applicants' data and of
# conditions over it is one.
LinearValidator = jsonschema.validators.extend(Draft202012Validator, {"pattern": _pattern})
