"""Scenario questions (情形) and the conditions (`when`) evaluated over their answers.

Conditions are JSON Schemas, so one validator class evaluates them all. A
compiled validator is kept per distinct condition.
"""

from __future__ import annotations

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
