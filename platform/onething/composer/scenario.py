"""Scenario questions (情形) and the conditions (`when`) evaluated over their answers.

Conditions are JSON Schemas, so one validator class evaluates them all. A
compiled validator is kept per distinct condition.
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator

from onething.catalog.definitions import canonical_json
from onething.catalog.formats import FORMAT_CHECKER

# Keywords whose subschemas are evaluated against the same answers object.
_SAME_INSTANCE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else")


@lru_cache(maxsize=4096)
def _validator(condition_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(condition_json), format_checker=FORMAT_CHECKER)


def holds(condition: Any, answers: dict) -> bool:
    """Tell whether answers satisfy a condition (None means always)."""
    if condition is None:
        return True
    return _validator(canonical_json(condition)).is_valid(answers)


def all_of(conditions: list[Any]) -> Any:
    """Combine conditions that must all hold; None when there are none."""
    conditions = [c for c in conditions if c is not None and c is not True]
    if not conditions:
        return None
    return conditions[0] if len(conditions) == 1 else {"allOf": conditions}


def any_of(conditions: list[Any]) -> Any:
    """Combine alternative conditions; None (always) when any of them is None."""
    if any(c is None or c is True for c in conditions):
        return None
    unique = list({canonical_json(c): c for c in conditions}.values())
    return unique[0] if len(unique) == 1 else {"anyOf": unique}


def named_questions(condition: Any) -> set[str]:
    """The answer keys a condition names at the top level of the answers object."""
    names: set[str] = set()
    if not isinstance(condition, dict):
        return names
    names.update(condition.get("properties", {}))
    names.update(condition.get("required", []))
    names.update(condition.get("dependentRequired", {}))
    for keyword in _SAME_INSTANCE:
        sub = condition.get(keyword)
        for part in sub if isinstance(sub, list) else [sub]:
            names |= named_questions(part)
    return names


def answer_errors(questions: dict, answers: Any) -> list:
    """Every way the answers contradict the questionnaire, as jsonschema errors."""
    return list(_validator(canonical_json(questions)).iter_errors(answers))


# Beyond this many combinations of answers, two conditions are taken to be able to hold
# together: a conflict is then reported as if they could (the safe side).
MAX_COMBINATIONS = 20_000
_ABSENT = object()


def can_hold_together(conditions: list[Any], questions: dict) -> bool:
    """Whether some answers to the questionnaire satisfy every condition at once.

    Tried on representative answers: each question's own choices (yes and no, its
    options, a few sets of them), the numbers each condition compares with and either
    side of them, and no answer at all.
    """
    condition = all_of(conditions)
    if condition is None:
        return True
    names = sorted(named_questions(condition))
    properties = questions.get("properties", {})
    choices = [_candidates(properties.get(name, {}), _numbers(condition, name),
                           _strings(condition, name)) for name in names]
    total = 1
    for values in choices:
        total *= len(values)
    if total > MAX_COMBINATIONS:
        return True
    validator = _validator(canonical_json(condition))
    for combination in itertools.product(*choices):
        answers = {name: value for name, value in zip(names, combination, strict=True)
                   if value is not _ABSENT}
        if validator.is_valid(answers):
            return True
    return False


def _options(schema: dict) -> list | None:
    if "enum" in schema:
        return list(schema["enum"])
    if "const" in schema:
        return [schema["const"]]
    choices = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(choices, list) and choices and all(
            isinstance(c, dict) and "const" in c for c in choices):
        return [c["const"] for c in choices]
    return None


def _candidates(schema: dict, numbers: set, strings: set) -> list:
    kind = schema.get("type")
    options = _options(schema)
    if options is not None:
        return [*options, _ABSENT]
    if kind == "boolean":
        return [True, False, _ABSENT]
    if kind == "array":
        items = _options(schema.get("items", {})) or sorted(strings, key=str)
        subsets = [[]] + [[o] for o in items]
        if len(items) <= 6:
            subsets += [list(pair) for pair in itertools.combinations(items, 2)]
        subsets.append(list(items))
        unique = list({canonical_json(s): s for s in subsets}.values())
        return [*unique, _ABSENT]
    if kind in ("number", "integer"):
        step = 1 if kind == "integer" else 0.5
        values = {0}
        for number in numbers | {schema[k] for k in ("minimum", "maximum", "exclusiveMinimum",
                                                   "exclusiveMaximum") if k in schema}:
            values.update((number - step, number, number + step))
        return [*sorted(values), _ABSENT]
    return [*sorted(strings), "", _ABSENT]


def _walk(condition: Any, name: str):
    """Every schema a condition applies to the answer `name`, at any depth of logic."""
    if not isinstance(condition, dict):
        return
    own = condition.get("properties", {}).get(name)
    if isinstance(own, dict):
        yield own
    for keyword in _SAME_INSTANCE:
        sub = condition.get(keyword)
        for part in sub if isinstance(sub, list) else [sub]:
            yield from _walk(part, name)


def _values(schema: Any):
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("const", "enum", "minimum", "maximum", "exclusiveMinimum",
                       "exclusiveMaximum", "contains", "items", *_SAME_INSTANCE):
                yield from _values(value) if isinstance(value, (dict, list)) else [value]
    elif isinstance(schema, list):
        for item in schema:
            yield from _values(item) if isinstance(item, (dict, list)) else [item]


def _numbers(condition: Any, name: str) -> set:
    return {v for schema in _walk(condition, name) for v in _values(schema)
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _strings(condition: Any, name: str) -> set:
    return {v for schema in _walk(condition, name) for v in _values(schema) if isinstance(v, str)}
