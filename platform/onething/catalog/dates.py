"""Date bounds (日期范围) on a `"format": "date"` field: fixed, or counted from today.

JSON Schema 2020-12 cannot bound a date; the keywords are those of the format-comparison
vocabulary that ajv-formats and other validators implement: `formatMinimum`,
`formatMaximum`, `formatExclusiveMinimum` and `formatExclusiveMaximum`. A bound is

* a date: `"2020-09-01"`;
* `"today"`, in China Standard Time;
* this year's month and day, ISO 8601 without a year: `"--08-31"`;

each optionally followed by a signed ISO 8601 duration of years, months and days:
`"today-P18Y"` (18 years ago), `"--08-31-P3Y"` (31 August three years ago: a child
enrolled this autumn must be born by then to be 3). A month-end that does not exist
(29 February in another year) is the last day of that month.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import jsonschema

from onething.catalog.patterns import LinearValidator
from onething.catalog.problems import Text
from onething.catalog.workdays import china_today

# keyword -> (bound is lower, strict)
DATE_BOUNDS = {
    "formatMinimum": (True, False),
    "formatExclusiveMinimum": (True, True),
    "formatMaximum": (False, False),
    "formatExclusiveMaximum": (False, True),
}
_BOUND = re.compile(
    r"(?:(?P<date>\d{4}-\d{2}-\d{2})|(?P<today>today)|--(?P<month>\d{2})-(?P<day>\d{2}))"
    r"(?:(?P<sign>[+-])P(?=\d)(?:(?P<years>\d{1,3})Y)?(?:(?P<months>\d{1,4})M)?"
    r"(?:(?P<days>\d{1,5})D)?)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BoundError(ValueError):
    """A bound that is not a date, today or --MM-DD, with an optional duration; its one
    argument is the message, a Text."""

    @property
    def text(self) -> Text:
        """The message as raised, with what it takes to translate it."""
        return self.args[0]


def check_bound(text: Any) -> None:
    """Refuse a bound that cannot be read, saying how one is written."""
    if not isinstance(text, str) or not (found := _BOUND.fullmatch(text)):
        raise BoundError(Text("{bound!r} is no date bound: write a date (2020-09-01), today "
                              "or --MM-DD, optionally followed by a duration such as -P3Y or "
                              "+P30D", bound=text))
    try:
        # Any today a hall will see, and a fixed date's shift, must stay in the calendar.
        for today in (dt.date(1900, 1, 1), dt.date(2199, 12, 31)):
            resolve(text, today)
    except (ValueError, OverflowError) as error:
        # _on's reason is a Text; the calendar's own (year 0 is out of range) is English.
        reason = error.args[0] if len(error.args) == 1 and isinstance(
            error.args[0], Text) else str(error)
        raise BoundError(Text("{bound!r} is no date bound: {reason}", bound=text,
                              reason=reason)) from None
    if found["sign"] and not (found["years"] or found["months"] or found["days"]):
        raise BoundError(Text("{bound!r} is no date bound: the duration names no years, "
                              "months or days", bound=text))


def resolve(text: str, today: dt.date) -> dt.date:
    """The date a bound names, on a given today."""
    found = _BOUND.fullmatch(text)
    if found is None:
        raise ValueError(f"not a date bound: {text!r}")
    if found["date"]:
        day = dt.date.fromisoformat(found["date"])
    elif found["today"]:
        day = today
    else:
        day = _on(today.year, int(found["month"]), int(found["day"]))
    if found["sign"]:
        sign = 1 if found["sign"] == "+" else -1
        months = sign * (int(found["years"] or 0) * 12 + int(found["months"] or 0))
        year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
        day = _on(year, month + 1, day.day) + dt.timedelta(days=sign * int(found["days"] or 0))
    return day


def _on(year: int, month: int, day: int) -> dt.date:
    # 29 February of a common year is the month's last day; 30 February is no day at all.
    if not 1 <= month <= 12 or not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise ValueError(Text("there is no day {month:02}-{day:02}", month=month, day=day))
    return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))


def within(keyword: str, bound: str, instance: Any, today: dt.date | None = None) -> bool:
    """Whether a value keeps a bound; what is no date is the format keyword's to judge."""
    if not isinstance(instance, str) or not _DATE.fullmatch(instance):
        return True
    try:
        value = dt.date.fromisoformat(instance)
        limit = resolve(bound, today or china_today())
    except (ValueError, OverflowError):
        return True
    lower, strict = DATE_BOUNDS[keyword]
    if lower:
        return value > limit if strict else value >= limit
    return value < limit if strict else value <= limit


def limits(schema: dict, today: dt.date | None = None) -> tuple[str | None, str | None]:
    """The earliest and latest dates a field accepts, for a date input's min and max."""
    today = today or china_today()
    low = high = None
    for keyword, (lower, strict) in DATE_BOUNDS.items():
        for bound in bounds(schema, keyword):
            try:
                day = resolve(bound, today) + dt.timedelta(days=(1 if lower else -1) * strict)
            except (ValueError, OverflowError):
                continue
            if lower:
                low = max(low, day) if low else day
            else:
                high = min(high, day) if high else day
    return (low.isoformat() if low else None, high.isoformat() if high else None)


def bounds(schema: dict, keyword: str) -> list[str]:
    """A keyword's bounds in a schema and the allOf beside it (merged forms put more there)."""
    found = [schema[keyword]] if isinstance(schema.get(keyword), str) else []
    for part in schema.get("allOf", []) if isinstance(schema.get("allOf"), list) else []:
        if isinstance(part, dict) and isinstance(part.get(keyword), str):
            found.append(part[keyword])
    return found


def comparable(one: str, other: str) -> bool:
    """Whether two bounds keep their order whatever the day: both fixed, or both counted
    from the same day of the year (today, or one --MM-DD)."""
    if not isinstance(one, str) or not isinstance(other, str):
        return False
    first, second = _BOUND.fullmatch(one), _BOUND.fullmatch(other)
    if first is None or second is None:
        return False
    if first["date"] and second["date"]:
        return True
    anchor = ("today" if first["today"] else (first["month"], first["day"]))
    return not first["date"] and not second["date"] and anchor == (
        "today" if second["today"] else (second["month"], second["day"]))


def order(one: str, other: str) -> int:
    """-1, 0 or 1 as the first comparable bound falls before, on or after the second."""
    reference = dt.date(2001, 3, 1)  # one day serves: comparable bounds keep their order
    try:
        a, b = resolve(one, reference), resolve(other, reference)
    except (ValueError, OverflowError):
        return 0  # unreadable: check reports the bound itself
    return (a > b) - (a < b)


def _keyword(name: str) -> Callable:
    def check(validator, bound, instance, schema):
        if isinstance(bound, str) and not within(name, bound, instance):
            yield jsonschema.ValidationError(f"{instance!r} is outside the date bound {bound}")
    return check


# python-jsonschema with the date bounds and patterns on RE2: every validator of
# applicants' data is one.
FormValidator = jsonschema.validators.extend(
    LinearValidator, {keyword: _keyword(keyword) for keyword in DATE_BOUNDS})


class _FastBound:
    """The same keyword for jsonschema-rs."""

    keyword = ""

    def __init__(self, parent_schema, value, schema_path):
        self.bound = value

    def validate(self, instance):
        if isinstance(self.bound, str) and not within(self.keyword, self.bound, instance):
            raise ValueError(f"{instance!r} is outside the date bound {self.bound}")


FAST_KEYWORDS = {keyword: type(f"_{keyword}", (_FastBound,), {"keyword": keyword})
                 for keyword in DATE_BOUNDS}
