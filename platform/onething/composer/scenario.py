"""Scenario questions (情形) and the conditions (`when`) evaluated over their answers.

Conditions are JSON Schemas, so one validator class evaluates them all. A
compiled validator is kept per distinct condition.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.exceptions import NoSuchResource

from onething.catalog.definitions import canonical_json
from onething.catalog.formats import FORMAT_CHECKER
from onething.catalog.patterns import LinearValidator

# Keywords whose subschemas are evaluated against the same answers object.
_SAME_INSTANCE = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else")


def _refuse_retrieval(uri: str):
    # A condition reads the answers and the form's values, never the network.
    raise NoSuchResource(uri)


# Without a registry, python-jsonschema would fetch a remote $ref with urlopen: every
# validator of applicants' data and conditions gets this one, which never does.
OFFLINE = Registry(retrieve=_refuse_retrieval)


@lru_cache(maxsize=4096)
def _validator(condition_json: str) -> Draft202012Validator:
    return LinearValidator(json.loads(condition_json), format_checker=FORMAT_CHECKER,
                           registry=OFFLINE)


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
    tried = _representatives(questions, condition)
    if tried is None:
        return True
    validator = _validator(canonical_json(condition))
    for answers in tried:
        if validator.is_valid(answers):
            return True
    return False


# Beyond this many distinct situations, a bundle's savings are shown without ranges.
MAX_SITUATIONS = 5_000


def conjuncts(condition: Any) -> list[Any]:
    """The parts of a condition that must all hold (allOf taken apart); [] for always."""
    if condition is None or condition is True:
        return []
    if isinstance(condition, dict) and set(condition) == {"allOf"}:
        return [part for sub in condition["allOf"] for part in conjuncts(sub)]
    return [condition]


@dataclass
class Situations:
    """The distinct situations an applicant can be in, as far as some conditions tell.

    Each condition is split into conjuncts; conjuncts naming common questions are tried
    together (every representative answer of those questions the questionnaire accepts),
    the others apart. A situation says which of the distinct conditions hold, as bits.
    """

    needs: list[int]  # per condition: its bit in a situation
    outcomes: list[int]  # one per distinct situation

    def holds(self, index: int, outcome: int) -> bool:
        """Whether condition `index` holds in a situation."""
        return bool(outcome >> self.needs[index] & 1)


def situations(questions: dict, conditions: list[Any]) -> Situations | None:
    """The situations of a questionnaire for these conditions; None when too many."""
    parts: dict[str, int] = {}
    bodies: list[Any] = []
    needs = []
    for condition in conditions:
        mask = 0
        for part in conjuncts(condition):
            key = canonical_json(part)
            if key not in parts:
                parts[key] = len(bodies)
                bodies.append(part)
            mask |= 1 << parts[key]
        needs.append(mask)
    # Conjuncts sharing a question are one component (union-find over question names).
    owner: dict[str, int] = {}
    parent = list(range(len(bodies)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for index, body in enumerate(bodies):
        for name in sorted(named_questions(body)):
            if name in owner:
                parent[root(index)] = root(owner[name])
            else:
                owner[name] = index
    components: dict[int, list[int]] = {}
    for index in range(len(bodies)):
        components.setdefault(root(index), []).append(index)
    distinct = sorted(set(needs))
    # Component by component: which distinct conditions can still all hold. A condition
    # holds when its conjuncts hold in every component it spans.
    states = {(1 << len(distinct)) - 1}
    for members in components.values():
        outcomes = _outcomes(questions, [bodies[i] for i in members], members)
        if outcomes is None:
            return None
        span = sum(1 << i for i in members)
        effects = {sum(1 << k for k, need in enumerate(distinct)
                       if need & span & outcome == need & span) for outcome in outcomes}
        states = {state & effect for state in states for effect in effects}
        if len(states) > MAX_SITUATIONS:
            return None
    place = {need: k for k, need in enumerate(distinct)}
    return Situations([place[need] for need in needs], sorted(states))


def _outcomes(questions: dict, bodies: list[Any], indexes: list[int]) -> list[int] | None:
    """Which of these conjuncts can hold together: one mask per distinct outcome."""
    both = {"allOf": bodies}
    tried = _representatives(questions, both)
    if tried is None:
        return None
    names = set(named_questions(both))
    properties = questions.get("properties", {})
    questionnaire = _validator(canonical_json(questions))
    checks = [_validator(canonical_json(body)) for body in bodies]
    found: set[int] = set()
    for answers in tried:
        # What the questionnaire refuses is no applicant's answers (unanswered questions
        # of other components aside).
        if any(not (error.validator == "required" and not error.path and
                    set(error.validator_value) - set(answers) <= set(properties) - set(names))
               for error in questionnaire.iter_errors(answers)):
            continue
        mask = 0
        for index, check in zip(indexes, checks, strict=True):
            if check.is_valid(answers):
                mask |= 1 << index
        found.add(mask)
    return sorted(found) or None


def _representatives(questions: dict, condition: Any):
    """Every combination of representative answers to the questions a condition names
    (None when there are more than MAX_COMBINATIONS), as answers dicts."""
    names = sorted(named_questions(condition))
    properties = questions.get("properties", {})
    choices = [_candidates(properties.get(name, {}), _numbers(condition, name),
                           _strings(condition, name)) for name in names]
    total = 1
    for values in choices:
        total *= len(values)
    if total > MAX_COMBINATIONS:
        return None
    return ({name: value for name, value in zip(names, combination, strict=True)
             if value is not _ABSENT} for combination in itertools.product(*choices))


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
