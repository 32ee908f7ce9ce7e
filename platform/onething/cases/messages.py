"""Validation messages in the applicant's language, keyed by the JSON Schema keyword that failed.

``MESSAGES`` is the registry, in the style of python-jsonschema's keyword
table: one entry per keyword (``"minimum"``), a few per value where one
message cannot fit all (``"format:cn-resident-id"``, ``"type:integer"``) and
``"fallback"``. Entries are lazy gettext strings (English msgids, translated in
translations/*/LC_MESSAGES/messages.po) with ``%(name)s`` placeholders, or a
``Plural`` where English counts (``1 character``, ``2 characters``).

A field of the library may say better than any keyword what it expects: its
``x-error`` (localized text, such as 请输入11位手机号码) replaces the messages
of ``pattern``, ``format``, ``minLength`` and ``maxLength``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext, lazy_pgettext, ngettext
from flask_babel.speaklater import LazyString
from jsonschema import ValidationError

from onething.catalog.dates import DATE_BOUNDS, resolve
from onething.catalog.workdays import china_today
from onething.composer.validation import FieldError
from onething.web.i18n import localized


@dataclass(frozen=True)
class Plural:
    """A message counted by the keyword's value (``%(num)s``), rendered with ngettext."""

    singular: str
    plural: str


FALLBACK = "fallback"

MESSAGES: dict[str, LazyString | Plural] = {
    "required": lazy_gettext("This field is required."),
    "type": lazy_gettext("This value is not of the expected kind."),
    "type:string": lazy_gettext("Enter text."),
    "type:integer": lazy_gettext("Enter a whole number."),
    "type:number": lazy_gettext("Enter a number."),
    "type:boolean": lazy_gettext("Choose yes or no."),
    "type:array": lazy_gettext("Choose or add one or more items."),
    "type:object": lazy_gettext("Fill in the parts of this field."),
    "minimum": lazy_gettext("Enter at least %(limit)s."),
    "maximum": lazy_gettext("Enter at most %(limit)s."),
    "exclusiveMinimum": lazy_gettext("Enter more than %(limit)s."),
    "exclusiveMaximum": lazy_gettext("Enter less than %(limit)s."),
    "multipleOf": lazy_gettext("Enter a multiple of %(limit)s."),
    "formatMinimum": lazy_gettext("Enter a date on or after %(limit)s."),
    "formatExclusiveMinimum": lazy_gettext("Enter a date after %(limit)s."),
    "formatMaximum": lazy_gettext("Enter a date on or before %(limit)s."),
    "formatExclusiveMaximum": lazy_gettext("Enter a date before %(limit)s."),
    "minLength": Plural("Enter at least %(num)s character.",
                        "Enter at least %(num)s characters."),
    "maxLength": Plural("Enter at most %(num)s character.",
                        "Enter at most %(num)s characters."),
    "minItems": Plural("Give at least %(num)s item.", "Give at least %(num)s items."),
    "maxItems": Plural("Give at most %(num)s item.", "Give at most %(num)s items."),
    "uniqueItems": lazy_gettext("Each item may be given only once."),
    "pattern": lazy_gettext("This is not in the expected form: check what you entered."),
    "format": lazy_gettext("This is not in the expected format."),
    "format:cn-resident-id": lazy_gettext(
        "Not a valid resident ID number: check the 18 characters and the last check digit."),
    "format:cn-uscc": lazy_gettext(
        "Not a valid unified social credit code: check the 18 characters and the last "
        "check character."),
    "format:date": lazy_gettext("Enter a date such as 2024-03-15."),
    "format:email": lazy_gettext("Enter an email address such as name@example.com."),
    "enum": lazy_gettext("Choose one of: %(allowed)s."),
    "const": lazy_gettext("Must be “%(value)s”."),
    "additionalProperties": lazy_gettext("This field is not part of the form."),
    FALLBACK: lazy_gettext("This value is not valid."),
}

# Keywords whose message a field's own x-error replaces: the ones that check the
# shape of what was typed, which the field can explain in its own terms. A format with
# a message of its own is a check digit that does not add up (统一社会信用代码, 身份证号):
# the shape was right, so a message about the shape ("capital letters") would mislead.
OVERRIDDEN_BY_FIELD = ("pattern", "format", "minLength", "maxLength")

# NOTE: separates the choices listed in a message, as in "Choose one of: A, B".
LIST_SEPARATOR = lazy_pgettext("list separator", ", ")
YES = lazy_gettext("Yes")
NO = lazy_gettext("No")


def _number(value: Any) -> str:
    # 20.0 reads as 20 in a message; JSON does not tell the two apart anyway.
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _choices(schema: Any) -> list[dict] | None:
    # Labelled choices are a oneOf/anyOf of {"const", "title"}; the composer keeps
    # every locale of a title in x-title.
    if not isinstance(schema, dict):
        return None
    for keyword in ("oneOf", "anyOf"):
        choices = schema.get(keyword)
        if isinstance(choices, list) and choices and all(
                isinstance(choice, dict) and "const" in choice for choice in choices):
            return choices
    return None


def _value_text(value: Any, choices: list[dict] | None) -> str:
    for choice in choices or ():
        # `is` for booleans, so that True does not find the choice 1.
        same = choice["const"] is value if isinstance(value, bool) else choice["const"] == value
        if same and (choice.get("x-title") or choice.get("title")):
            return localized(choice.get("x-title") or choice["title"])
    if isinstance(value, bool):
        return str(YES if value else NO)
    return _number(value)


def _render(message: LazyString | Plural, **variables: Any) -> str:
    if isinstance(message, Plural):
        count = variables.pop("num")
        return ngettext(message.singular, message.plural, count, **variables)
    text = str(message)
    return text % variables if variables else text


def _key(keyword: str, params: Any) -> str:
    if keyword in ("type", "format") and isinstance(params, str):
        specific = f"{keyword}:{params}"
        if specific in MESSAGES:
            return specific
    if keyword in ("oneOf", "anyOf") and _choices({keyword: params}):
        return "enum"
    return keyword if keyword in MESSAGES else FALLBACK


def keyword_of(error: FieldError | ValidationError) -> str:
    """The JSON Schema keyword a field error broke."""
    # python-jsonschema's own errors (one field checked alone) carry it as `validator`.
    return str(error.validator) if isinstance(error, ValidationError) else error.keyword


def message_for(error: FieldError | ValidationError, field_schema: dict | None = None) -> str:
    """The message for one field error in the current locale; field_schema may give x-error."""
    keyword = keyword_of(error)
    params = error.validator_value if isinstance(error, ValidationError) else error.params
    field_schema = field_schema or {}
    key = _key(keyword, params)
    if (keyword in OVERRIDDEN_BY_FIELD and field_schema.get("x-error")
            and not key.startswith("format:")):
        return localized(field_schema["x-error"])
    message = MESSAGES[key]
    if key == "enum":
        # A oneOf error carries the choices themselves, titles and all.
        choices = _choices({keyword: params}) or _choices(field_schema)
        values = [c["const"] for c in choices] if keyword in ("oneOf", "anyOf") else params
        if not isinstance(values, list):
            values = [c["const"] for c in choices or ()]
        labels = [_value_text(value, choices) for value in values]
        return _render(message, allowed=str(LIST_SEPARATOR).join(labels))
    if key == "const":
        return _render(message, value=_value_text(params, _choices(field_schema)))
    if key in ("minLength", "maxLength", "minItems", "maxItems"):
        return _render(message, num=params)
    if key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"):
        return _render(message, limit=_number(params))
    if key in DATE_BOUNDS:
        # A bound counted from today reads as the date it names today.
        try:
            limit = resolve(params, china_today()).isoformat()
        except (TypeError, ValueError):
            limit = str(params)
        return _render(message, limit=limit)
    return _render(message)
