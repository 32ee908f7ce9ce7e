"""`onething check`: validate a catalog against the meta-schemas and against itself.

Every problem is collected, never just the first: its file, its JSON pointer,
and the matters at fault. The rules, in order:

1. each file is valid JSON and fits its kind's meta-schema;
2. forms, questionnaires, conditions and fields are valid JSON Schema 2020-12;
3. file names match codes, and codes are unique (matters and bundles share one namespace);
4. every reference resolves: parents, departments, items, `after` edges, field `$ref`s;
5. no cycles: department parents, nested bundles, `after` edges, field `$ref`s;
6. conditions name only questions their bundle asks, and fee formulas only numeric
   fields of their matter's form (catalog.fees);
7. every bundle composes, and its critical path keeps within 45 working days.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from onething.catalog.dates import DATE_BOUNDS, BoundError, check_bound
from onething.catalog.definitions import FIELD_BASE, Catalog, Document
from onething.catalog.fees import amount_problems
from onething.catalog.formats import FORMAT_CHECKER, KNOWN_FORMATS
from onething.catalog.groups import columns, row_schema
from onething.catalog.licences import LICENCE_TYPES
from onething.catalog.loader import default_root, read_documents, read_meta
from onething.catalog.patterns import PatternError, compiled
from onething.catalog.problems import DefinitionError, Problem, Text, pointer
from onething.catalog.text import standardize_schema
from onething.catalog.units import UNITS, quantity
from onething.composer import logic
from onething.composer.compose import (
    RESERVED_KEYS,
    AnswersError,
    compose,
    is_shared,
    merged_questions,
)
from onething.composer.merge import ANNOTATIONS, BOUND_PAIRS, TIGHTENING, CompositionError
from onething.composer.routing import JOINT_HANDLING_LIMIT_DAYS
from onething.composer.rules import RULE_KEYWORDS, rule_required
from onething.composer.scenario import named_questions

LEVELS = ("province", "city", "district", "town", "village")
# Matters and bundles share one namespace of codes: both get a guide at /g/<code>.
GUIDE_KINDS = ("matter", "bundle")
# Top-level keywords a matter's form may use; cross-field logic could not be split
# between the shared part of the one form and the matter's own part.
# The rules between fields (composer.rules) may also stand at the top of a form.
FORM_KEYWORDS = {"type", "properties", "required", "title", "description", "additionalProperties",
                 "$comment", *RULE_KEYWORDS}
_SCHEMA_CHECKER = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER
)


def schema_errors(validator, instance, prefix: tuple = ()) -> Iterator[tuple[str, str]]:
    """Each (JSON pointer, message) where an instance breaks a schema, clearest branch first."""
    for error in validator.iter_errors(instance):
        # A oneOf/anyOf failure says little; its best-matching branch says what is wrong.
        # Branches that fail on type alone are the ones the author did not mean.
        meant = [e for e in error.context if e.validator != "type"] or error.context
        detail = best_match(meant) if meant else error
        yield pointer(*prefix, *detail.absolute_path), schema_message(detail)


def _shown(value: Any) -> str:
    """A value as a message quotes it (Python's repr, as jsonschema's own words), cut short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


# A value of the wrong JSON type, by the type expected.
_NOT_OF_TYPE = {
    "string": lambda value: Text("{value} is not a string", value=value),
    "integer": lambda value: Text("{value} is not a whole number", value=value),
    "number": lambda value: Text("{value} is not a number", value=value),
    "boolean": lambda value: Text("{value} is not true or false", value=value),
    "array": lambda value: Text("{value} is not a list [...]", value=value),
    "object": lambda value: Text("{value} is not an object {{...}}", value=value),
    "null": lambda value: Text("{value} is not null", value=value),
}
# A value past a bound, by the keyword that sets it.
_PAST_LIMIT = {
    "minLength": lambda value, limit: Text(
        "{value} is shorter than {limit} characters", value=value, limit=limit),
    "maxLength": lambda value, limit: Text(
        "{value} is longer than {limit} characters", value=value, limit=limit),
    "minItems": lambda value, limit: Text(
        "{value} has fewer than {limit} items", value=value, limit=limit),
    "maxItems": lambda value, limit: Text(
        "{value} has more than {limit} items", value=value, limit=limit),
    "minimum": lambda value, limit: Text(
        "{value} is less than the minimum of {limit}", value=value, limit=limit),
    "maximum": lambda value, limit: Text(
        "{value} is greater than the maximum of {limit}", value=value, limit=limit),
    "exclusiveMinimum": lambda value, limit: Text(
        "{value} is not greater than {limit}", value=value, limit=limit),
    "exclusiveMaximum": lambda value, limit: Text(
        "{value} is not less than {limit}", value=value, limit=limit),
    "multipleOf": lambda value, limit: Text(
        "{value} is not a multiple of {limit}", value=value, limit=limit),
}
_UNEXPECTED = re.compile(r"\((.*) (?:was|were) unexpected\)$", re.S)
_DEPENDENCY = re.compile(r"^(.*) is a dependency of (.*)$", re.S)


def schema_message(error) -> Text:
    """One jsonschema error's message, worded as jsonschema words it (as `onething check`
    has always printed it), as a Text the console translates by the keyword that failed."""
    return _schema_text(error).worded(error.message)


def _schema_text(error) -> Text:
    keyword, expected = error.validator, error.validator_value
    value, message = _shown(error.instance), error.message
    if keyword == "required":
        for name in expected if isinstance(expected, list) else ():
            if message == f"{name!r} is a required property":
                return Text("{name!r} is a required property", name=name)
    elif keyword == "type":
        if isinstance(expected, str) and expected in _NOT_OF_TYPE:
            return _NOT_OF_TYPE[expected](value)
        if isinstance(expected, list):
            return Text("{value} is not of type {types}", value=value, types=expected)
    elif keyword == "enum" and isinstance(expected, list):
        return Text("{value} is not one of {allowed}", value=value,
                    allowed=[_shown(item) for item in expected])
    elif keyword == "const":
        return Text("{expected} was expected", expected=_shown(expected))
    elif keyword in ("minLength", "minItems", "minProperties") and expected == 1:
        return Text("{value} should be non-empty", value=value)
    elif keyword in ("maxLength", "maxItems", "maxProperties") and expected == 0:
        return Text("{value} is expected to be empty", value=value)
    elif keyword in _PAST_LIMIT:
        return _PAST_LIMIT[keyword](value, expected)
    elif keyword == "pattern":
        return Text("{value} does not match the pattern {pattern}", value=value,
                    pattern=_shown(expected))
    elif keyword == "format":
        return Text("{value} is not a valid {format}", value=value, format=expected)
    elif keyword in ("additionalProperties", "unevaluatedProperties") and (
            found := _UNEXPECTED.search(message)):
        return Text("properties not allowed here: {names}", names=found.group(1))
    elif keyword == "uniqueItems":
        return Text("{value} has items that repeat", value=value)
    elif keyword in ("oneOf", "anyOf"):
        if " is valid under each of " in message:
            return Text("{value} fits more than one of the allowed forms", value=value)
        return Text("{value} fits none of the allowed forms", value=value)
    elif keyword in ("not", None):  # None: the schema `false`
        return Text("{value} is not allowed here", value=value)
    elif keyword == "dependentRequired" and (found := _DEPENDENCY.match(message)):
        return Text("{needed} is required when {name} is given", needed=found.group(1),
                    name=found.group(2))
    return Text("does not fit the schema: {message}", message=message)


# Built validators by the identity of the metas dict they came from (kept alive here, so
# the id cannot be reused): the console checks a definition on every keystroke.
_META_VALIDATORS: dict[int, tuple[dict, dict[str, Draft202012Validator]]] = {}


def meta_validators(metas: dict[str, dict]) -> dict[str, Draft202012Validator]:
    """A compiled validator per kind, resolving the meta-schemas' shared $defs (built once)."""
    cached = _META_VALIDATORS.get(id(metas))
    if cached is not None and cached[0] is metas:
        return cached[1]
    registry = Registry().with_resources(
        (meta["$id"], Resource.from_contents(meta)) for meta in metas.values() if "$id" in meta
    )
    validators = {
        kind: Draft202012Validator(metas[kind], registry=registry, format_checker=FORMAT_CHECKER)
        for kind in ("department", "matter", "bundle", "field")
        if kind in metas
    }
    if len(_META_VALIDATORS) >= 32:
        _META_VALIDATORS.clear()
    _META_VALIDATORS[id(metas)] = (metas, validators)
    return validators


def _refuse_retrieval(uri: str):
    # Definitions resolve only against the platform's own documents: never the network.
    raise ValueError(f"{uri} is not one of the platform's own documents")


# The fast yes/no path (jsonschema-rs) of each meta-schema, by the identity of its metas dict.
_FAST_META: dict[int, tuple[dict, dict]] = {}


def _fast_meta_validators(metas: dict[str, dict]) -> dict:
    """A jsonschema-rs validator per kind: a definition it accepts, python-jsonschema accepts.

    Only a definition it refuses goes through python-jsonschema, which explains each
    problem with the words and pointers `check` has always printed.
    """
    cached = _FAST_META.get(id(metas))
    if cached is not None and cached[0] is metas:
        return cached[1]
    fast = {}
    try:
        registry = jsonschema_rs.Registry(
            [(meta["$id"], meta) for meta in metas.values() if "$id" in meta],
            retriever=_refuse_retrieval)
        for kind in ("department", "matter", "bundle", "field"):
            if kind in metas:
                fast[kind] = jsonschema_rs.validator_for(
                    metas[kind], registry=registry, retriever=_refuse_retrieval,
                    validate_formats=False)
    except Exception:  # a meta-schema rs cannot take is checked the slow way
        fast = {}
    if len(_FAST_META) >= 32:
        _FAST_META.clear()
    _FAST_META[id(metas)] = (metas, fast)
    return fast


@cache
def _fast_schema_checker():
    """The 2020-12 meta-schema in jsonschema-rs, which ships it (nothing is fetched)."""
    return jsonschema_rs.validator_for(
        {"$ref": "https://json-schema.org/draft/2020-12/schema"}, retriever=_refuse_retrieval)


def _fast_valid(validator, instance) -> bool:
    """True when the fast validator accepts; False when it refuses or cannot say."""
    if validator is None:
        return False
    try:
        return validator.is_valid(instance)
    except Exception:  # values rs cannot represent go the slow way
        return False


def _patterns_compile(schema: Any) -> bool:
    """Every `pattern` and `patternProperties` key compiles as Python reads regexes.

    python-jsonschema checks them (format "regex") by Python's syntax, which the fast
    validator does not share; a false alarm here only sends the schema the slow way.
    """
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            candidates = list(node.get("patternProperties") or ()) if isinstance(
                node.get("patternProperties"), dict) else []
            if isinstance(node.get("pattern"), str):
                candidates.append(node["pattern"])
            for candidate in candidates:
                try:
                    re.compile(candidate)
                except (re.error, RecursionError, OverflowError):
                    return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _condition_ref_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every $ref in a condition: a condition reads the answers or the form's values, and
    may name nothing else (least of all a document elsewhere)."""
    return [Problem(path, pointer(*at), Text("a condition may not refer to {ref!r}: write "
                                             "the condition out in full", ref=ref))
            for at, ref in _refs(schema, where)]


# Keywords whose values are instance values, never a schema to walk.
_VALUES = ("enum", "const", "examples", "default")


def _schema_nodes(schema: Any, where: tuple) -> Iterator[tuple[dict, tuple]]:
    """Every object in a schema, with its path, values of instances left out."""
    stack = [(schema, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            yield node, at
            stack.extend((value, (*at, key)) for key, value in node.items()
                         if key not in _VALUES)
        elif isinstance(node, list):
            stack.extend((item, (*at, index)) for index, item in enumerate(node))


def _pattern_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every pattern RE2 cannot run in linear time (a lookaround, a backreference)."""
    problems = []
    for node, at in _schema_nodes(schema, where):
        candidates = [((*at, "pattern"), node["pattern"])] if isinstance(
            node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            candidates += [((*at, "patternProperties", key), key)
                           for key in node["patternProperties"]]
        for place, pattern in candidates:
            try:
                compiled(pattern)
            except PatternError as error:
                problems.append(Problem(path, pointer(*place), error.text))
    return problems


# Keywords that name or reach documents other than by the library's $ref: a schema using
# one could shadow a library field, or point a validator at a document it would fetch.
_IDENTITY = ("$id", "$schema", "$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveRef",
             "$recursiveAnchor", "$vocabulary")


def _identity_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every keyword that names a schema or reaches one other than by $ref; only a
    library field's own root says its $id and $schema."""
    problems = []
    for node, at in _schema_nodes(schema, where):
        for key in _IDENTITY:
            if key in node and not (at == () and key in ("$id", "$schema")):
                problems.append(Problem(path, pointer(*at, key), Text(
                    "{key!r} may not be used here: a definition reaches the library's "
                    "fields by $ref alone, and names no schema of its own", key=key)))
    return problems


def _format_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every format no validator here knows: it would check nothing, silently."""
    return [Problem(path, pointer(*at, "format"), Text(
                "unknown format {format!r}: known are {known}",
                format=node["format"], known=list(KNOWN_FORMATS)))
            for node, at in _schema_nodes(schema, where)
            if isinstance(node.get("format"), str) and node["format"] not in KNOWN_FORMATS]


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", type(None): "null", list: "array", dict: "object"}[type(value)]


def _enum_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every enum mixing kinds of values (1 and "1"): a typo no form could offer well."""
    problems = []
    for node, at in _schema_nodes(schema, where):
        values = node.get("enum")
        if isinstance(values, list) and len({_json_type(v) for v in values} - {"null"}) > 1:
            kinds = sorted({_json_type(v) for v in values})
            problems.append(Problem(path, pointer(*at, "enum"),
                                    Text("the allowed values mix kinds ({kinds})", kinds=kinds)))
    return problems


# The merge's pairs of bounds (a lower one, an upper one, whether equal is too tight),
# and two it never merges; within one schema node, a lower past its upper fits no value.
_BOUND_PAIRS = (*BOUND_PAIRS, ("minProperties", "maxProperties", False),
                ("minContains", "maxContains", False))


def _bound_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every node whose own lower bound passes its upper bound (minimum 100, maximum 10)."""
    problems = []
    for node, at in _schema_nodes(schema, where):
        for lower, upper, strict in _BOUND_PAIRS:
            low, high = node.get(lower), node.get(upper)
            if _number(low) and _number(high) and (low > high or (strict and low >= high)):
                values = {"lower": lower, "low": low, "upper": upper, "high": high}
                problems.append(Problem(path, pointer(*at, lower), Text(
                    "{lower} {low} is not below {upper} {high}: no value fits", **values)
                    if lower.endswith("imum") else Text(
                    "{lower} {low} is above {upper} {high}: no value fits", **values)))
    return problems


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _date_bound_problems(path: str, schema: Any, where: tuple) -> list[Problem]:
    """Every date bound (formatMinimum, …) that cannot be read, where it stands."""
    problems = []
    for node, at in _schema_nodes(schema, where):
        for key in DATE_BOUNDS:
            if key in node:
                try:
                    check_bound(node[key])
                except BoundError as error:
                    problems.append(Problem(path, pointer(*at, key), error.text))
    return problems


def schema_parts(document: Document) -> Iterator[tuple[tuple, Any]]:
    """The parts of a definition that are themselves JSON Schemas, with their paths."""
    data = document.data
    if document.kind == "field":
        yield (), data
    elif document.kind == "matter":
        yield ("form",), data.get("form")
        for index, material in enumerate(data.get("materials", [])):
            for key in ("when", "when_form"):
                if isinstance(material, dict) and key in material:
                    yield ("materials", index, key), material[key]
    elif document.kind == "bundle":
        yield ("questions",), data.get("questions")
        for index, item in enumerate(data.get("items", [])):
            if isinstance(item, dict) and "when" in item:
                yield ("items", index, "when"), item["when"]


def check_documents(
    documents: list[Document], metas: dict[str, dict], expected_names: bool = True
) -> list[Problem]:
    """Check documents against the meta-schemas, each other, and composition."""
    problems: list[Problem] = []
    validators = meta_validators(metas)
    fast = _fast_meta_validators(metas)
    for kind in ("department", "matter", "bundle", "field"):
        if kind not in validators:
            problems.append(Problem("schemas/meta", "",
                                    Text("the {kind} meta-schema is missing", kind=kind)))
    broken: set[tuple[str, str | None]] = set()
    sound: list[Document] = []
    for document in documents:
        found, parts_only = [], True
        if document.kind in validators and not _fast_valid(fast.get(document.kind),
                                                            document.data):
            found = [Problem(document.path, where, message)
                     for where, message in schema_errors(validators[document.kind], document.data)]
            parts_only = not found
        if not found:
            for path, part in schema_parts(document):
                part = standardize_schema(part)
                found += _date_bound_problems(document.path, part, path)
                found += _bound_problems(document.path, part, path)
                found += _pattern_problems(document.path, part, path)
                found += _enum_problems(document.path, part, path)
                found += _identity_problems(document.path, part, path)
                found += _format_problems(document.path, part, path)
                if path and path[-1] in ("when", "when_form", "questions"):
                    found += _condition_ref_problems(document.path, part, path)
                if _fast_valid(_fast_schema_checker(), part) and _patterns_compile(part):
                    continue
                invalid = [Problem(document.path, where,
                                   Text("not a valid JSON Schema: {message}", message=message))
                           for where, message in schema_errors(_SCHEMA_CHECKER, part, path)]
                # A part that is no JSON Schema at all is not read any further.
                parts_only = parts_only and not invalid
                found += invalid
        problems += found
        if found and not parts_only:
            broken.add((document.kind, document.code))
        else:
            # Problems inside its JSON Schemas (a pattern, a format, a bound) leave the
            # definition readable: checked against the rest too, so that publishing
            # lists every problem at once, not one kind per attempt.
            sound.append(document)

    problems += _check_names(documents, expected_names)
    catalog = Catalog(sound)
    known = {kind: {code for k, code in broken if k == kind} for kind in
             ("department", "matter", "bundle", "field")}
    for kind, table in (("department", catalog.departments), ("matter", catalog.matters),
                        ("bundle", catalog.bundles), ("field", catalog.fields)):
        known[kind] |= set(table)
    problems += _check_departments(catalog, known)
    problems += _check_fields(catalog, known)
    problems += _check_matters(catalog, known)
    problems += _check_rules(catalog)
    problems += _check_bundles(catalog, known)
    if not problems:
        problems += _check_compositions(catalog)
    return sorted(set(problems))


def _check_names(documents: list[Document], expected_names: bool) -> list[Problem]:
    problems = []
    seen: dict[tuple[str, str], str] = {}
    for document in documents:
        code = document.code
        if code is None:
            continue
        if expected_names and not document.path.endswith(f"/{code}.json"):
            where = "/$id" if document.kind == "field" else "/code"
            problems.append(Problem(document.path, where, Text(
                "the file of {code!r} must be named {code}.json", code=code)))
        space = "guide" if document.kind in GUIDE_KINDS else document.kind
        if (space, code) in seen:
            problems.append(Problem(document.path, "/code", Text(
                "code {code!r} is already used by {file}", code=code, file=seen[(space, code)])))
        else:
            seen[(space, code)] = document.path
    return problems


def _check_departments(catalog: Catalog, known: dict) -> list[Problem]:
    problems = []
    for department in catalog.departments.values():
        parent_code = department.data.get("parent")
        if parent_code is None:
            continue
        parent = catalog.departments.get(parent_code)
        if parent_code not in known["department"]:
            problems.append(Problem(department.path, "/parent",
                                    Text("unknown department {code!r}", code=parent_code)))
        elif parent is not None and (
            LEVELS.index(parent.data["level"]) > LEVELS.index(department.data["level"])
        ):
            problems.append(Problem(department.path, "/parent", Text(
                "parent {parent!r} is at {level} level, below this department's {own} level",
                parent=parent_code, level=parent.data["level"], own=department.data["level"])))
        trail, current = [department.code], parent
        while current is not None and current.data.get("parent"):
            if current.code in trail:
                problems.append(Problem(department.path, "/parent", Text(
                    "the parents form a cycle: {cycle}", cycle=" → ".join(trail))))
                break
            trail.append(current.code)
            current = catalog.departments.get(current.data["parent"])
    return problems


def _refs(schema: Any, where: tuple) -> Iterator[tuple[tuple, str]]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield (*where, key), value
            else:
                yield from _refs(value, (*where, key))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _refs(value, (*where, index))


def _check_fields(catalog: Catalog, known: dict) -> list[Problem]:
    problems = []
    for field in catalog.fields.values():
        if field.key in RESERVED_KEYS:
            problems.append(Problem(field.path, "/$id",
                                    Text("{key!r} is reserved in submissions", key=field.key)))
        for where, ref in _refs(field.data, ()):
            target = urljoin(field.uri, ref)
            if not target.startswith(FIELD_BASE) or \
                    target.removeprefix(FIELD_BASE) not in known["field"]:
                problems.append(Problem(field.path, pointer(*where), Text(
                    "unresolvable $ref {ref!r}: not a library field", ref=ref)))
        trail, current = [], field
        while current is not None:
            if current.key in trail:
                problems.append(Problem(field.path, "/$ref", Text(
                    "the $refs form a cycle: {cycle}", cycle=" → ".join(trail))))
                break
            trail.append(current.key)
            ref = current.data.get("$ref")
            current = catalog.field_for_ref(urljoin(current.uri, ref)) if ref else None
    problems += _nesting_cycles(catalog)
    return problems


def _nesting_cycles(catalog: Catalog) -> list[Problem]:
    """A field holding itself, through its parts (a group whose row $refs the group): a
    form that nests without end, which every walk of it would follow until the stack
    ran out. The top-level $ref chain is reported above."""
    inside: dict[str, list[tuple[tuple, str]]] = {}
    for field in catalog.fields.values():
        for where, ref in _refs(field.data, ()):
            target = catalog.field_for_ref(urljoin(field.uri, ref))
            if target is not None and where != ("$ref",):
                inside.setdefault(field.key, []).append((where, target.key))
    def leads_to(start: str, goal: str) -> bool:
        seen, pending = set(), [start]
        while pending:
            key = pending.pop()
            if key == goal:
                return True
            if key in seen or key not in catalog.fields:
                continue
            seen.add(key)
            pending.extend(target for _, target in inside.get(key, []))
            ref = catalog.fields[key].data.get("$ref")
            chained = catalog.field_for_ref(urljoin(catalog.fields[key].uri, ref)) \
                if isinstance(ref, str) else None
            if chained is not None:
                pending.append(chained.key)
        return False

    problems = []
    for field in catalog.fields.values():
        for where, target in inside.get(field.key, []):
            if leads_to(target, field.key):
                problems.append(Problem(field.path, pointer(*where), Text(
                    "the field holds itself through its parts: a form that nests "
                    "without end")))
                break
    return problems


def _check_matters(catalog: Catalog, known: dict) -> list[Problem]:
    problems = []
    for matter in catalog.matters.values():
        at = matter.path
        if matter.department not in known["department"]:
            problems.append(Problem(at, "/department", Text(
                "unknown department {code!r}", code=matter.department), (matter.code,)))
        for index, joint in enumerate(matter.data.get("joint_departments", [])):
            if joint not in known["department"]:
                problems.append(Problem(at, f"/joint_departments/{index}",
                                        Text("unknown department {code!r}", code=joint),
                                        (matter.code,)))
            elif joint == matter.department:
                problems.append(Problem(at, f"/joint_departments/{index}",
                                        Text("the matter's own department handles it already"),
                                        (matter.code,)))
        for index, key in enumerate(matter.produces):
            if key not in known["field"]:
                problems.append(Problem(at, f"/produces/{index}", Text(
                    "{key!r} is no library field: a value handed over must have one", key=key),
                    (matter.code,)))
            elif key in matter.form.get("properties", {}):
                problems.append(Problem(at, f"/produces/{index}", Text(
                    "the matter asks for {key!r} itself: it cannot also yield it", key=key),
                    (matter.code,)))
        limits = matter.data["time_limit"]
        # Both limits count the same way (`counting`), so their numbers compare as they are.
        if limits["promised_days"] > limits["legal_days"]:
            problems.append(Problem(
                at, "/time_limit/promised_days",
                Text("the promised limit ({promised} days) exceeds the legal limit "
                     "({legal} days)", promised=limits["promised_days"],
                     legal=limits["legal_days"]), (matter.code,)))
        if matter.data["handling"] == "on_the_spot" and limits["promised_days"] != 0:
            problems.append(Problem(
                at, "/time_limit/promised_days",
                Text("a matter handled on the spot (即办件) promises 0 days"), (matter.code,)))
        form = matter.form
        for keyword in sorted(set(form) - FORM_KEYWORDS):
            problems.append(Problem(
                at, f"/form/{keyword}",
                Text("a form may not use {keyword!r} at its top level: its fields are split "
                     "between the one form's shared part and the matter's own part (rules "
                     "between fields use if/then/else, allOf, anyOf, oneOf, not or "
                     "dependentRequired)", keyword=keyword), (matter.code,)))
        if not set(form) - FORM_KEYWORDS:
            for key in sorted(rule_required(matter) - set(form["properties"])):
                problems.append(Problem(at, "/form", Text(
                    "a rule requires {key!r}, which is not in properties", key=key),
                    (matter.code,)))
        for key, use in form["properties"].items():
            unit = use.get("x-unit") if isinstance(use, dict) else None
            if unit is not None and quantity(unit) is None:
                problems.append(Problem(at, f"/form/properties/{key}/x-unit", Text(
                    "unknown unit {unit!r}; known: {known}", unit=unit, known=list(UNITS)),
                    (matter.code,)))
        for key in form.get("required", []):
            if key not in form["properties"]:
                problems.append(Problem(at, "/form/required", Text(
                    "required field {key!r} is not in properties", key=key), (matter.code,)))
        for where, ref in _refs(form, ("form",)):
            if not ref.startswith(FIELD_BASE) or ref.removeprefix(FIELD_BASE) not in known["field"]:
                problems.append(Problem(at, pointer(*where), Text(
                    "unresolvable $ref {ref!r}: not a library field", ref=ref), (matter.code,)))
        for key, schema in form["properties"].items():
            if key in known["field"] and isinstance(schema, dict) and "$ref" not in schema:
                # Kept the matter's own, it is asked again beside the shared one: the one
                # form would ask the same thing twice, under one title.
                problems.append(Problem(at, f"/form/properties/{key}", Text(
                    "{key!r} is a library field's key: refer to it ({ref}) to share it with "
                    "the other matters, or give this matter's own field another key",
                    key=key, ref=f'"$ref": "{FIELD_BASE}{key}"'), (matter.code,)))
            if is_shared(key, schema):
                extra = set(schema) - {"$ref", "items", *TIGHTENING, *ANNOTATIONS}
                extra = {k for k in extra if not k.startswith("x-")}
                if "items" in schema:
                    problems += _check_group_use(matter, key, schema, catalog)
                for keyword in sorted(extra):
                    problems.append(Problem(
                        at, f"/form/properties/{key}/{keyword}",
                        Text("beside a shared field's $ref only tightening keywords may "
                             "stand, not {keyword!r}", keyword=keyword), (matter.code,)))
        for where, message in amount_problems(matter):
            problems.append(Problem(at, where, message, (matter.code,)))
        seen: set[str] = set()
        for index, material in enumerate(matter.materials):
            if material["id"] in seen:
                problems.append(Problem(at, f"/materials/{index}/id", Text(
                    "material {id!r} is listed twice", id=material["id"]), (matter.code,)))
            seen.add(material["id"])
            # Only the application form itself is drawn from the one form; a proof or a
            # signed commitment stays the applicant's (or shared data's) to supply.
            if material.get("generated") and (
                    material["type"] != "application_form" or material.get("commitment_letter")
                    or material.get("shared_data") or material.get("commitment")):
                problems.append(Problem(at, f"/materials/{index}/generated", Text(
                    "only an application form (not a commitment letter, nor shared data) is "
                    "generated from the one form"), (matter.code,)))
            for name in sorted(named_questions(material.get("when_form"))
                               - set(form["properties"])):
                problems.append(Problem(at, f"/materials/{index}/when_form", Text(
                    "the condition names {name!r}, which the matter's form does not ask",
                    name=name), (matter.code,)))
    return problems


def _check_rules(catalog: Catalog) -> list[Problem]:
    """Each matter's rules (智能预审, 秒批, 免申即享): operators, variables, size, ids."""
    questions: dict[str, set[str]] = {}
    for bundle in catalog.bundles.values():
        asked = set((bundle.data.get("questions") or {}).get("properties", {}))
        for code in bundle.matter_codes():
            questions.setdefault(code, set()).update(asked)
    problems = []
    for matter in catalog.matters.values():
        at, rules = matter.path, matter.data.get("rules", [])
        known = {"fields": set(matter.form.get("properties", {})),
                 "answers": questions.get(matter.code, set())}
        ids: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule["id"] in ids:
                problems.append(Problem(at, f"/rules/{index}/id", Text(
                    "rule {id!r} is declared twice", id=rule["id"]), (matter.code,)))
            ids[rule["id"]] = index
            for where, message in logic.problems(rule["logic"], known):
                problems.append(Problem(at, pointer("rules", index, "logic", *where), message,
                                        (matter.code,)))
            target = rule.get("field")
            if target and target.split(".")[0] not in known["fields"]:
                problems.append(Problem(at, f"/rules/{index}/field", Text(
                    "{field!r} is not a field of the matter's form", field=target),
                    (matter.code,)))
        if "instant_approval" in matter.data and not rules:
            problems.append(Problem(at, "/instant_approval", Text(
                "instant approval needs rules: nothing would be checked"), (matter.code,)))
        benefit = matter.data.get("benefit")
        for index, rule_id in enumerate((benefit or {}).get("eligibility", [])):
            if rule_id not in ids:
                problems.append(Problem(at, f"/benefit/eligibility/{index}", Text(
                    "no rule {id!r} in the matter's rules", id=rule_id), (matter.code,)))
                continue
            for name in logic.reads(rules[ids[rule_id]]["logic"]):
                if name.split(".")[0] in ("fields", "answers"):
                    problems.append(Problem(
                        at, f"/benefit/eligibility/{index}",
                        Text("an eligibility rule reads only the registry, the holder and "
                             "today, not {name!r}: nobody has applied", name=name),
                        (matter.code,)))
        if benefit and benefit["population"] not in LICENCE_TYPES:
            problems.append(Problem(at, "/benefit/population", Text(
                "unknown licence type {type!r}", type=benefit["population"]), (matter.code,)))
    return problems


def _check_group_use(matter, key: str, schema: dict, catalog: Catalog) -> list[Problem]:
    """A matter's choice of columns of a repeating group: only the library's columns, each
    only narrowed, and only those it takes required."""
    at, here = matter.path, f"/form/properties/{key}/items"
    row = row_schema(catalog.fields.get(key))
    items = schema["items"]
    if row is None:
        return [Problem(at, here, Text("{key!r} is no repeating group (an array of objects "
                                       "in the field library): items cannot narrow it",
                                       key=key), (matter.code,))]
    if not isinstance(items, dict):
        return [Problem(at, here, Text("items must be an object naming columns"),
                        (matter.code,))]
    problems = [Problem(at, f"{here}/{keyword}", Text(
                    "a group's columns are chosen with properties and required, not "
                    "{keyword!r}", keyword=keyword), (matter.code,))
                for keyword in sorted(set(items) - {"properties", "required", "$comment"})]
    declared = items.get("properties", {})
    for column, narrowing in declared.items():
        where = pointer("form", "properties", key, "items", "properties", column)
        if column not in row["properties"]:
            problems.append(Problem(at, where, Text(
                "the group {key!r} has no column {column!r}; its columns: {columns}",
                key=key, column=column, columns=list(row["properties"])), (matter.code,)))
            continue
        keywords = set(narrowing) if isinstance(narrowing, dict) else set()
        for keyword in sorted(keywords - {*TIGHTENING, *ANNOTATIONS}):
            problems.append(Problem(at, f"{where}/{keyword}", Text(
                "a column may only be narrowed by tightening keywords, not {keyword!r}",
                keyword=keyword), (matter.code,)))
    taken = columns(schema, row)
    for index, column in enumerate(items.get("required", [])):
        if column not in taken:
            problems.append(Problem(at, f"{here}/required/{index}", Text(
                "required column {column!r} is not among the columns the matter takes",
                column=column), (matter.code,)))
    return problems


def _check_bundles(catalog: Catalog, known: dict) -> list[Problem]:
    problems = []
    for bundle in catalog.bundles.values():
        at = bundle.path
        lead = bundle.data["lead_department"]
        if lead not in known["department"]:
            problems.append(Problem(at, "/lead_department",
                                    Text("unknown department {code!r}", code=lead)))
        codes: set[str] = set()
        for index, item in enumerate(bundle.data["items"]):
            if "matter" in item:
                code = item["matter"]
                if code not in known["matter"]:
                    problems.append(Problem(at, f"/items/{index}/matter",
                                            Text("unknown matter {code!r}", code=code), (code,)))
            else:
                code = item["bundle"]
                if bundle.data["kind"] != "one_class":
                    problems.append(Problem(
                        at, f"/items/{index}/bundle",
                        Text("only a one_class bundle (一类事) may hold other bundles")))
                if code not in known["bundle"]:
                    problems.append(Problem(at, f"/items/{index}/bundle",
                                            Text("unknown bundle {code!r}", code=code)))
                elif code == bundle.code or bundle in _nested(catalog, code):
                    problems.append(Problem(at, f"/items/{index}/bundle", Text(
                        "bundle {code!r} contains this bundle again", code=code)))
            if code in codes:
                problems.append(Problem(at, f"/items/{index}",
                                        Text("{code!r} is listed twice", code=code)))
            codes.add(code)
        # An edge names matters of the bundle, or bundles nested in it (all their matters).
        holding = {code: {code} for code in bundle.matter_codes()}
        holding.update({child.code: set(child.matter_codes()) for child, _ in bundle.stages()})
        for code, befores in bundle.after.items():
            if code not in holding:
                problems.append(Problem(at, pointer("after", code), Text(
                    "{code!r} is not a matter of this bundle, nor a bundle nested in it",
                    code=code), (code,)))
            for index, before in enumerate(befores):
                if before not in holding:
                    problems.append(Problem(at, pointer("after", code, index), Text(
                        "{code!r} is not a matter of this bundle, nor a bundle nested in it",
                        code=before), (before,)))
                elif holding[before] & holding.get(code, set()):
                    problems.append(Problem(at, pointer("after", code, index),
                                            Text("a matter cannot wait for itself"), (code,)))
        problems += _check_overrides(catalog, bundle)
        problems += _check_conditions(catalog, bundle)
        problems += _check_licence(bundle, known)
        held = set(bundle.matter_codes())
        for index, code in enumerate(bundle.inspected):
            if code not in held:
                problems.append(Problem(at, f"/joint_inspection/matters/{index}",
                                        Text("{code!r} is not a matter of this bundle",
                                             code=code), (code,)))
    return problems


# What a licence number pattern may hold besides literal text.
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PLACEHOLDERS = re.compile(r"year|division|seq:[1-9]")


def _check_licence(bundle, known: dict) -> list[Problem]:
    """The licence's issuer is a department, and its number pattern names known parts."""
    licence = bundle.licence
    if licence is None:
        return []
    problems = []
    if licence["issuer"] not in known["department"]:
        problems.append(Problem(bundle.path, "/licence/issuer",
                                Text("unknown department {code!r}", code=licence["issuer"])))
    for name in _PLACEHOLDER.findall(licence["number_pattern"]):
        if not _PLACEHOLDERS.fullmatch(name):
            problems.append(Problem(bundle.path, "/licence/number_pattern", Text(
                "unknown part {{{name}}}: use {{year}}, {{division}} or {{seq:N}}",
                name=name)))
    return problems


def _check_overrides(catalog: Catalog, bundle) -> list[Problem]:
    """An override names a matter the bundle holds, and a field of that matter's form."""
    problems = []
    held = set(bundle.matter_codes())
    for code, fields in bundle.data.get("overrides", {}).items():
        matter = catalog.matters.get(code)
        if code not in held or matter is None:
            problems.append(Problem(bundle.path, pointer("overrides", code), Text(
                "the override names {code!r}, which is not a matter of this bundle",
                code=code), (code,)))
            continue
        for key in fields:
            if key not in matter.form.get("properties", {}):
                problems.append(Problem(bundle.path, pointer("overrides", code, key), Text(
                    "matter {code!r} has no field {key!r}", code=code, key=key), (code,)))
    return problems


def _nested(catalog: Catalog, code: str) -> list:
    bundle = catalog.bundles.get(code)
    return bundle.nested_bundles() if bundle is not None else []


def _check_conditions(catalog: Catalog, bundle) -> list[Problem]:
    try:
        asked = set(merged_questions(bundle)["properties"])
    except CompositionError as error:
        return error.problems()
    problems = []
    # An answer offered twice: oneOf then matches both, and whoever chooses it is refused.
    for key, question in ((bundle.data.get("questions") or {}).get("properties") or {}).items():
        # A question may be any schema, true included: only a list of choices can repeat one.
        choices = question.get("oneOf") if isinstance(question, dict) else None
        values = [choice.get("const") for choice in choices
                  if isinstance(choice, dict) and "const" in choice] \
            if isinstance(choices, list) else []
        for value in sorted({json.dumps(v, ensure_ascii=False) for v in values
                             if values.count(v) > 1}):
            at = pointer("questions", "properties", key, "oneOf")
            problems.append(Problem(bundle.path, at, Text(
                "the question {key!r} offers the answer {value} more than once: whoever "
                "chooses it would be refused", key=key, value=value)))
    for item in bundle.flatten():
        for condition in item.conditions:
            for name in sorted(named_questions(condition) - asked):
                problems.append(Problem(item.path, f"{item.pointer}/when", Text(
                    "the condition names {name!r}, which the bundle does not ask", name=name),
                    (item.matter,)))
        matter = catalog.matters.get(item.matter)
        if matter is None:
            continue
        for index, material in enumerate(matter.materials):
            for name in sorted(named_questions(material.get("when")) - asked):
                problems.append(Problem(
                    matter.path, f"/materials/{index}/when",
                    Text("the condition names {name!r}, which bundle {code!r} does not ask",
                         name=name, code=bundle.code), (matter.code,)))
    return problems


def _check_compositions(catalog: Catalog) -> list[Problem]:
    problems = []
    for bundle in catalog.bundles.values():
        try:
            composition = compose(bundle)
        except CompositionError as error:
            problems += error.problems() or [Problem(bundle.path, "", str(error))]
            continue
        except AnswersError as error:  # pragma: no cover - compose() without answers
            problems.append(Problem(bundle.path, "/questions", str(error)))
            continue
        plan = composition.plan
        if plan.over_joint_limit:
            problems.append(Problem(
                bundle.path, "/after",
                Text("the critical path {path} takes {days} working days, over the "
                     "{limit} allowed for joint handling (行政许可法 art. 42)",
                     path=" → ".join(plan.critical_path), days=plan.critical_path_days,
                     limit=JOINT_HANDLING_LIMIT_DAYS),
                tuple(plan.critical_path)))
        promised = bundle.promised_days
        legal = min(plan.legal_critical_path_days, JOINT_HANDLING_LIMIT_DAYS)
        if promised is not None and promised > legal:
            problems.append(Problem(
                bundle.path, "/promised_days",
                Text("the bundle promises {promised} working days, beyond the legal limit of "
                     "{legal} (its matters' legal limits along the critical path, at most "
                     "{limit} for joint handling, 行政许可法 art. 42)", promised=promised,
                     legal=legal, limit=JOINT_HANDLING_LIMIT_DAYS)))
    return problems


def load_catalog(root: Path | None = None) -> Catalog:
    """Read and check a schemas folder; a broken one raises DefinitionError with every problem."""
    root = Path(root) if root is not None else default_root()
    documents, problems = read_documents(root)
    if not (root / "meta").is_dir():
        # Nothing can be checked without the meta-schemas; the folder's problem says why.
        raise DefinitionError(problems)
    problems += check_documents(documents, read_meta(root), expected_names=True)
    if problems:
        raise DefinitionError(problems)
    return Catalog(documents)
