"""Validate merged submissions and attribute each error to its field and its matters.

A CompiledForm is built once per composition (bundle version plus answers)
and reused. Its fast path is jsonschema-rs, which compiles the schema once
(tens of milliseconds for the largest bundles) and then validates a submission
in about a millisecond. Most submissions are valid, so only an invalid one
pays for python-jsonschema's detailed errors, which say which keyword failed
where and carry the values that localized messages need.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from onething.catalog.dates import FAST_KEYWORDS, FormValidator
from onething.catalog.formats import FORMAT_CHECKER, is_resident_id, is_uscc
from onething.composer.scenario import OFFLINE

# The named formats with check digits, for the compiled validator (python-jsonschema
# gets the same functions through FORMAT_CHECKER).
CUSTOM_FORMATS = {"cn-resident-id": is_resident_id, "cn-uscc": is_uscc}

_COMPILED: OrderedDict[str, CompiledForm] = OrderedDict()
_COMPILED_LIMIT = 256


@dataclass(frozen=True)
class FieldError:
    """One error on one field of the one form."""

    path: str
    keyword: str
    message: str
    matters: tuple[str, ...] = field(default=())
    params: Any = None


def _refuse_retrieval(uri: str):
    # A merged form refers only to its own $defs: never to a document elsewhere.
    raise ValueError(f"{uri} is not part of the form")


class CompiledForm:
    """A merged schema compiled for fast yes/no checks, with detailed errors on demand."""

    def __init__(self, schema: dict):
        self.schema = schema
        try:
            # The regex crate, not fancy-regex: linear time, as RE2 is on the slow path.
            self.fast = jsonschema_rs.validator_for(
                schema, formats=CUSTOM_FORMATS, validate_formats=True, keywords=FAST_KEYWORDS,
                pattern_options=jsonschema_rs.RegexOptions(), retriever=_refuse_retrieval,
            )
        except (ValueError, jsonschema_rs.ValidationError):
            # A schema the compiled validator cannot take (an exotic regex, say) still
            # validates, more slowly, through python-jsonschema alone.
            self.fast = None

    @cached_property
    def detailed(self) -> Draft202012Validator:
        """python-jsonschema's validator, for errors with their keyword and values."""
        return FormValidator(self.schema, format_checker=FORMAT_CHECKER, registry=OFFLINE)

    def is_valid(self, data: Any) -> bool:
        """Tell whether a submission is valid."""
        if self.fast is not None:
            return self.fast.is_valid(data)
        return self.detailed.is_valid(data)

    def iter_errors(self, data: Any):
        """Every error of an invalid submission (nothing for a valid one)."""
        if self.fast is not None and self.fast.is_valid(data):
            return iter(())
        return self.detailed.iter_errors(data)


def build_validator(schema: dict) -> CompiledForm:
    """Compile a merged schema (what the cache saves per request)."""
    return CompiledForm(schema)


def validator_for(composition) -> CompiledForm:
    """The compiled form of a composition, built once per bundle version and answers."""
    compiled = _COMPILED.get(composition.key)
    if compiled is None:
        compiled = build_validator(composition.schema)
        _COMPILED[composition.key] = compiled
        if len(_COMPILED) > _COMPILED_LIMIT:
            _COMPILED.popitem(last=False)
    else:
        _COMPILED.move_to_end(composition.key)
    return compiled


def clear_validators() -> None:
    """Forget every compiled form."""
    _COMPILED.clear()


def _field_path(parts: list) -> str:
    # A field is named by its keys up to an array index: "food_items", not "food_items.2";
    # "legal_representative.id_number" for a part of a group. A row of a repeating group
    # is named by its number: "shareholders.1.id_number".
    names = []
    for index, part in enumerate(parts):
        if isinstance(part, int) and not (index + 1 < len(parts)
                                          and isinstance(parts[index + 1], str)):
            break
        names.append(str(part))
    return ".".join(names)


def _owner(path: str) -> str:
    parts = path.split(".")
    return ".".join(parts[:3]) if parts[0] == "matters" else parts[0]


def _required_leaves(node: Any, defs: dict, parts: list) -> list[list]:
    """The required fields a missing group stands for, each by its path; the path itself
    for a field that is no group. A group left wholly empty is then refused field by field
    (法定代表人's name, ID number, mobile), each message at its own input."""
    seen = set()
    while isinstance(node, dict) and str(node.get("$ref", "")).startswith("#/$defs/"):
        name = node["$ref"].removeprefix("#/$defs/")
        if name in seen:
            break  # a definition that refers to itself names no field
        seen.add(name)
        node = {**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
    if not isinstance(node, dict) or node.get("type") != "object":
        return [parts]
    required, properties = node.get("required"), node.get("properties")
    if not required or not isinstance(properties, dict):
        return [parts]
    return [leaf for name in required
            for leaf in _required_leaves(properties.get(name), defs, [*parts, name])]


def field_errors(composition, data: Any) -> dict[str, list[FieldError]]:
    """Every error of a submission, keyed by the path of the field it belongs to."""
    found: dict[str, list[FieldError]] = {}
    for error in validator_for(composition).iter_errors(data):
        parts = list(error.absolute_path)
        if error.validator == "required":
            missing = [name for name in error.validator_value
                       if isinstance(error.instance, dict) and name not in error.instance]
            defs = composition.schema.get("$defs", {})
            paths = [_field_path(leaf) for name in missing for leaf in _required_leaves(
                error.schema.get("properties", {}).get(name), defs, [*parts, name])]
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            allowed = error.schema.get("properties", {})
            paths = [_field_path([*parts, name]) for name in error.instance if name not in allowed]
        else:
            paths = [_field_path(parts)]
        for path in paths:
            owner = composition.provenance.get(_owner(path))
            matters = tuple(owner.matters) if owner else ()
            found.setdefault(path, []).append(
                FieldError(path, error.validator, error.message, matters, error.validator_value)
            )
    return found
