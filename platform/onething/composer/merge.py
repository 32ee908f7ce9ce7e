"""Merge the constraints that several matters put on one shared field into the strictest.

Required if any matter requires it, the tightest bounds, the intersection of
enums, every pattern. Constraints that cannot be reconciled raise a
CompositionError naming the field, both matters and both JSON pointers.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Any

from onething.catalog.dates import DATE_BOUNDS, comparable, order
from onething.catalog.problems import Problem, Text

# Keywords a matter may put beside a shared field's $ref: each can only narrow it.
TIGHTENING = (
    "type",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "enum",
    "const",
    "multipleOf",
    "format",
    *DATE_BOUNDS,
)
# Annotations that may also stand beside the $ref; they do not constrain.
ANNOTATIONS = ("title", "description", "examples", "default", "$comment")

LOWER_BOUNDS = ("minimum", "exclusiveMinimum", "minLength", "minItems")
UPPER_BOUNDS = ("maximum", "exclusiveMaximum", "maxLength", "maxItems")
# Keywords of which every distinct value holds: the first in place, the others in allOf.
# Two date bounds counted from different days (a fixed date, today) have no order that
# holds for good, so each stays.
EACH_HOLDS = ("pattern", "multipleOf", *DATE_BOUNDS)
# Each lower date bound with each upper one.
DATE_PAIRS = tuple(itertools.product(
    (k for k, (low, _) in DATE_BOUNDS.items() if low),
    (k for k, (low, _) in DATE_BOUNDS.items() if not low)))
# (lower, upper, strict): the pair is contradictory when lower > upper, or >= if strict.
BOUND_PAIRS = (
    ("minimum", "maximum", False),
    ("minimum", "exclusiveMaximum", True),
    ("exclusiveMinimum", "maximum", True),
    ("exclusiveMinimum", "exclusiveMaximum", True),
    ("minLength", "maxLength", False),
    ("minItems", "maxItems", False),
)


@dataclass(frozen=True)
class Site:
    """Where a constraint was written: a matter's form, or the library field itself."""

    matter: str | None
    path: str
    pointer: str

    def describe(self) -> str:
        """Name the site for a message."""
        if self.matter:
            return Text("matter {matter} ({file}#{pointer})", matter=self.matter,
                        file=self.path, pointer=self.pointer)
        return Text("the field library ({file}#{pointer})", file=self.path,
                    pointer=self.pointer)


@dataclass(frozen=True)
class Use:
    """One site's constraints on a shared field."""

    site: Site
    constraints: dict


class CompositionError(Exception):
    """Definitions that cannot be composed into one form; names field, matters and pointers."""

    def __init__(self, field: str, reason: str, sites: list[Site]):
        self.field = field
        self.reason = reason
        self.sites = sites
        where = " and ".join(site.describe() for site in sites)
        super().__init__(f"field {field!r}: {reason}: {where}")

    @property
    def matters(self) -> tuple[str, ...]:
        """The matters at fault."""
        return tuple(dict.fromkeys(site.matter for site in self.sites if site.matter))

    def problems(self) -> list[Problem]:
        """One problem per site, each naming every matter at fault."""
        others = {site: [o.describe() for o in self.sites if o != site] for site in self.sites}
        return [
            Problem(
                site.path,
                site.pointer,
                Text("field {field!r}: {reason} (conflicts with {others})", field=self.field,
                     reason=self.reason, others=functools.reduce(_then, others[site]))
                if others[site]
                else Text("field {field!r}: {reason}", field=self.field, reason=self.reason),
                self.matters,
            )
            for site in self.sites
        ]


def _then(one: str, next_: str) -> Text:
    """Two sites of a conflict, one after the other, as "a; b"."""
    return Text("{one}; {next}", one=one, next=next_)


class CompositionErrors(CompositionError):
    """Several conflicts in one bundle, each reported with both of its sites."""

    def __init__(self, errors: list[CompositionError]):
        first = errors[0]
        super().__init__(first.field, first.reason, first.sites)
        self.errors = errors
        self.args = ("; ".join(str(error) for error in errors),)

    @property
    def matters(self) -> tuple[str, ...]:
        """The matters at fault in any of the conflicts."""
        return tuple(dict.fromkeys(m for error in self.errors for m in error.matters))

    def problems(self) -> list[Problem]:
        """Every conflict's problems."""
        return [problem for error in self.errors for problem in error.problems()]


def _key(value: Any) -> Any:
    # A value as a dictionary key: what a definition wrote may be a list.
    return value if isinstance(value, (str, int, float)) else repr(value)


def _types(value: Any) -> set[str]:
    types = set(value) if isinstance(value, list) else {value}
    # An integer is a number, so "number" admits what "integer" narrows it to.
    if "number" in types:
        types.add("integer")
    return types


def merge_constraints(field: str, uses: list[Use]) -> dict:
    """Combine every use's constraints into the strictest; the output holds the matters' part."""
    if not any(use.constraints for use in uses):
        return {}  # most uses only name the field
    merged: dict[str, Any] = {}
    origin: dict[str, Site] = {}
    from_matters = {key for use in uses if use.site.matter for key in use.constraints}

    for use in uses:
        for keyword, value in use.constraints.items():
            _combine(field, keyword, value, use.site, merged, origin)
    for lower, upper, strict in BOUND_PAIRS:
        if lower in merged and upper in merged:
            low, high = merged[lower], merged[upper]
            if low > high or (strict and low >= high):
                raise CompositionError(
                    field,
                    Text("{lower} {low} is not below {upper} {high}", lower=lower, low=low,
                         upper=upper, high=high),
                    [origin[lower], origin[upper]],
                )
    for lower, upper in DATE_PAIRS:
        if lower not in merged or upper not in merged:
            continue
        strict = DATE_BOUNDS[lower][1] or DATE_BOUNDS[upper][1]
        for low, high in itertools.product(merged[lower], merged[upper]):
            if comparable(low, high) and order(low, high) >= (0 if strict else 1):
                raise CompositionError(
                    field, Text("{lower} {low} is not before {upper} {high}", lower=lower,
                                low=low, upper=upper, high=high),
                    [origin[lower, _key(low)], origin[upper, _key(high)]])
    if "const" in merged and "enum" in merged and merged["const"] not in merged["enum"]:
        raise CompositionError(
            field,
            Text("const {value!r} is not among the allowed values", value=merged["const"]),
            [origin["const"], origin["enum"]],
        )

    result = {key: value for key, value in merged.items() if key in from_matters}
    if "type" in result:
        result["type"] = _type_value(result["type"])
    extra = []
    for keyword in EACH_HOLDS:
        values = result.pop(keyword, [])
        if values:
            result[keyword] = values[0]
            extra += [{keyword: value} for value in values[1:]]
    if extra:
        result["allOf"] = extra
    return result


# A JSON type as an administrator reads it (文本, 整数), not as the schema writes it.
_TYPE_NAMES = {"string": Text("text"), "integer": Text("whole number"),
               "number": Text("number"), "boolean": Text("yes or no"),
               "array": Text("a list"), "object": Text("a group"), "null": Text("nothing")}


def _type_named(value):
    if isinstance(value, list | tuple):
        return [_TYPE_NAMES.get(item, item) for item in value]
    return _TYPE_NAMES.get(value, value)


def _type_value(types: set[str]) -> Any:
    # "integer" is only implied by "number"; drop it again when "number" stays.
    if "number" in types:
        types = types - {"integer"}
    ordered = sorted(types)
    return ordered[0] if len(ordered) == 1 else ordered


def _combine(field, keyword, value, site, merged, origin) -> None:
    if keyword not in merged:
        if keyword == "type":
            value = _types(value)
        elif keyword in EACH_HOLDS:
            origin[keyword, _key(value)] = site
            value = [value]
        merged[keyword], origin[keyword] = value, site
        return
    current = merged[keyword]
    if keyword in LOWER_BOUNDS:
        if value > current:
            merged[keyword], origin[keyword] = value, site
    elif keyword in UPPER_BOUNDS:
        if value < current:
            merged[keyword], origin[keyword] = value, site
    elif keyword == "type":
        common = current & _types(value)
        if not common:
            raise CompositionError(
                field,
                Text("type {type!r} cannot be reconciled with {value!r}",
                     type=_type_named(_type_value(current)), value=_type_named(value)),
                [origin[keyword], site],
            )
        merged[keyword] = common
    elif keyword == "enum":
        common = [item for item in current if item in value]
        if not common:
            raise CompositionError(
                field, Text("the allowed values have nothing in common"),
                [origin[keyword], site]
            )
        merged[keyword] = common
        origin[keyword] = site if len(common) < len(current) else origin[keyword]
    elif keyword in ("const", "format"):
        if value != current:
            raise CompositionError(
                field, Text("{keyword} {current!r} differs from {value!r}", keyword=keyword,
                            current=current, value=value), [origin[keyword], site]
            )
    elif keyword in EACH_HOLDS and value not in current:
        current.append(value)
        origin[keyword, _key(value)] = site
