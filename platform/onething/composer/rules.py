"""Rules between a matter's fields (a field required only for a company), in standard
JSON Schema: if/then/else, allOf, anyOf, oneOf, not and dependentRequired at the top of
the form. The composer lifts them onto the merged submission, where a matter's shared
fields stand at the top and its own under matters.<code>.
"""

from __future__ import annotations

from typing import Any

from onething.catalog.definitions import Matter
from onething.catalog.problems import Text
from onething.composer.merge import CompositionError, Site

# Keywords of a form's rules between its fields; anything else at that level is refused.
RULE_KEYWORDS = ("allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentRequired")
_FORM_KEYWORDS = ("type", "properties", "required", "additionalProperties", "title",
                  "description", "$comment")


def form_rules(matter: Matter) -> list[dict]:
    """A matter form's rules between its fields, each as a schema over the form's object."""
    form = matter.form
    for keyword in form:
        if keyword not in RULE_KEYWORDS and keyword not in _FORM_KEYWORDS:
            raise CompositionError(
                keyword, Text("this keyword cannot stand at the top of a form; write rules "
                              "between fields with if/then/else, allOf, anyOf, oneOf, not or "
                              "dependentRequired"),
                [Site(matter.code, matter.path, f"/form/{keyword}")])
    rules = [{keyword: form[keyword]} for keyword in
             ("allOf", "anyOf", "oneOf", "not", "dependentRequired") if keyword in form]
    if "if" in form:  # if, then and else are one rule
        rules.append({k: form[k] for k in ("if", "then", "else") if k in form})
    return rules


def rule_required(matter: Matter) -> set[str]:
    """The fields a form's rules may require (required then, not always)."""
    found: set[str] = set()
    pending: list[Any] = form_rules(matter)
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            found.update(k for k in node.get("required", []) if isinstance(k, str))
            for keys in node.get("dependentRequired", {}).values():
                found.update(keys)
            pending.extend(node.get(k) for k in RULE_KEYWORDS if k in node)
        elif isinstance(node, list):
            pending.extend(node)
    return found


def lift_rule(rule: Any, matter: Matter, shared: set[str],
              handed: frozenset[str] = frozenset()) -> Any:
    """A rule over a matter's form, rewritten over the merged submission: its shared fields
    at the top, its own under matters.<code>.

    A value handed over by another matter (`handed`) is never required of the applicant:
    it arrives with that matter's approval. It still counts where the rule only asks
    whether it is there (`if`, `not`).
    """
    if not isinstance(rule, dict):
        return rule
    top: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for keyword, value in rule.items():
        if keyword == "properties":
            for key, sub in value.items():
                (top if key in shared else own).setdefault("properties", {})[key] = sub
        elif keyword == "required":
            for key in value:
                if key not in handed:
                    (top if key in shared else own).setdefault("required", []).append(key)
        elif keyword == "dependentRequired":
            # "if this one is given, those are required", across both places.
            top.setdefault("allOf", []).extend(
                lift_rule({"if": {"required": [key]}, "then": {"required": needed}},
                          matter, shared, handed) for key, needed in value.items())
        elif keyword in ("allOf", "anyOf", "oneOf"):
            top[keyword] = [lift_rule(part, matter, shared, handed) for part in value]
        elif keyword in ("then", "else"):
            top[keyword] = lift_rule(value, matter, shared, handed)
        elif keyword in ("not", "if"):
            top[keyword] = lift_rule(value, matter, shared)
        elif keyword not in ("title", "description", "$comment"):
            raise CompositionError(
                keyword, Text("a rule between fields may only use properties, required, "
                              "dependentRequired, if/then/else, allOf, anyOf, oneOf and not"),
                [Site(matter.code, matter.path, "/form")])
    if own:
        inner: dict[str, Any] = {"properties": {matter.code: own}}
        if "required" in own:
            inner["required"] = [matter.code]
            top["required"] = [*top.get("required", []), "matters"]
        top.setdefault("properties", {})["matters"] = inner
    return top
