"""The composer: one form (一表申请) and one set of materials (一套材料) from a bundle's matters.

`compose(bundle, answers=None)` returns a Composition: the merged JSON Schema,
the UI layout, provenance, the merged materials, the routing plan and the
savings. Without answers the merged schema carries the scenario logic as
`if`/`then`, so one schema validates correctly whatever the answers.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from onething.catalog.definitions import FIELD_BASE, Bundle, Matter, canonical_json
from onething.catalog.groups import (
    column_schema,
    columns,
    narrowed,
    project_rows,
    required_columns,
    restricted,
    row_schema,
    union_columns,
)
from onething.catalog.problems import Text
from onething.catalog.text import standardize_schema
from onething.catalog.units import convert_bounds, quantity
from onething.composer.layout import build_layout, resolve
from onething.composer.materials import MergedMaterial, merge_materials
from onething.composer.merge import (
    TIGHTENING,
    CompositionError,
    CompositionErrors,
    Site,
    Use,
    merge_constraints,
)
from onething.composer.routing import RoutingPlan, plan_routing
from onething.composer.rules import form_rules, lift_rule
from onething.composer.savings import Savings, compute_savings
from onething.composer.scenario import (
    all_of,
    answer_errors,
    any_of,
    can_hold_together,
    holds,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Top-level keys of a submission that are not shared fields.
RESERVED_KEYS = ("answers", "matters")


class AnswersError(ValueError):
    """Answers that contradict the bundle's questionnaire."""

    def __init__(self, bundle: str, errors: list):
        self.bundle = bundle
        self.errors = errors
        details = "; ".join(f"{e.json_path}: {e.message}" for e in errors)
        super().__init__(f"answers do not fit the questionnaire of {bundle}: {details}")


@dataclass
class FieldUse:
    """One matter's declaration of one field in its form."""

    matter: Matter
    key: str
    schema: dict
    required: bool
    shared: bool

    @property
    def site(self) -> Site:
        """Where the declaration stands."""
        return Site(self.matter.code, self.matter.path, f"/form/properties/{self.key}")


@dataclass
class Provenance:
    """Which matters and departments need a field, and where each declared it."""

    path: str
    shared: bool
    library: str | None
    matters: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    pointers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {
            "shared": self.shared,
            "library": self.library,
            "matters": self.matters,
            "departments": self.departments,
            "pointers": self.pointers,
        }


@dataclass
class Composition:
    """Everything derived from one bundle (and, optionally, one set of answers)."""

    bundle: Bundle
    answers: dict | None
    matters: list[Matter]
    conditions: dict[str, Any]
    schema: dict
    layout: dict
    provenance: dict[str, Provenance]
    materials: list[MergedMaterial]
    plan: RoutingPlan
    savings: Savings
    uses: dict[str, list[FieldUse]]
    # (matter, field path) -> (the one form's unit, the matter's unit), where they differ.
    units: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The bundle version this composition was built from."""
        return self.bundle.version

    @property
    def key(self) -> str:
        """Identifies the composition: bundle version plus the answers, if any."""
        answers = "*" if self.answers is None else canonical_json(self.answers)
        return f"{self.bundle.code}@{self.version}:{answers}"

    def matter_view(self, data: dict, matter: str) -> dict:
        """Cut a merged submission, or the matter's slice of it, back to the matter's own
        form shape. Values stay as they are: a slice's are in the matter's units already."""
        view = {}
        for uses in self.uses.values():
            for use in uses:
                if use.matter.code != matter:
                    continue
                source = data if use.shared else data.get("matters", {}).get(matter, {})
                if use.key in source:
                    view[use.key] = source[use.key]
                    row = row_schema(self.bundle.catalog.fields.get(use.key)) \
                        if use.shared and narrowed(use.schema) is not None else None
                    if row is not None:
                        view[use.key] = project_rows(view[use.key], columns(use.schema, row))
        return view

    def matter_values(self, data: dict, matter: str) -> dict:
        """A merged submission as the matter itself reads it: its slice (quantities in its
        own units) in its own form's shape, what its fee formulas compute from."""
        return self.matter_view(self.plan.step(matter).slice.project(data), matter)

    def materials_for(self, data: dict) -> list[MergedMaterial]:
        """The materials needed for what was entered: those whose matters' conditions on
        their own form values (when_form) hold, each read in the matter's own units."""
        values: dict[str, dict] = {}  # each matter's values, cut from its slice once

        def values_of(code: str) -> dict:
            if code not in values:
                values[code] = self.matter_values(data, code)
            return values[code]

        return [material for material in self.materials
                if not material.depends_on_form or material.needed(values_of)]

    def as_dict(self) -> dict:
        """Plain JSON data for `onething compose --json` and `generated/`."""
        return {
            "bundle": self.bundle.code,
            "version": self.version,
            "answers": self.answers,
            "matters": [m.code for m in self.matters],
            "conditions": self.conditions,
            "schema": self.schema,
            "layout": self.layout,
            "provenance": {path: p.as_dict() for path, p in self.provenance.items()},
            "materials": [m.as_dict() for m in self.materials],
            "plan": self.plan.as_dict(),
            "savings": self.savings.as_dict(),
        }


_CACHE: dict[str, Composition] = {}
_CACHE_LIMIT = 1024


def compose(bundle: Bundle, answers: dict | None = None) -> Composition:
    """Compose a bundle into one form; cached by bundle version and answers."""
    key = f"{bundle.code}@{bundle.version}:{'*' if answers is None else canonical_json(answers)}"
    cached = _CACHE.get(key)
    if cached is None:
        cached = _compose(bundle, answers)
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = cached
    return cached


def compose_submitted(bundle: Bundle, answers: dict | None) -> Composition:
    """A submitted case's composition: its answers', or every matter of the bundle when
    they do not fit its questionnaire. A case submitted here always fits the version it
    is pinned to; a case seeded for the demo (no answers) or imported does not, and its
    pages still open, each department's matter among every matter."""
    try:
        return compose(bundle, answers)
    except AnswersError:
        return compose(bundle)


def clear_cache() -> None:
    """Forget every cached composition (cold compose)."""
    _CACHE.clear()


def _compose(bundle: Bundle, answers: dict | None) -> Composition:
    catalog = bundle.catalog
    questions = merged_questions(bundle)
    if answers is not None:
        errors = answer_errors(questions, answers)
        if errors:
            raise AnswersError(bundle.code, errors)

    conditions = item_conditions(bundle)
    if answers is not None:
        conditions = {code: None for code, cond in conditions.items() if holds(cond, answers)}
    matters = [catalog.matters[code] for code in conditions]

    uses = collect_uses(matters, catalog)
    units = field_units(uses, catalog)
    schema = build_schema(bundle, questions, matters, conditions, uses, catalog)
    provenance = build_provenance(uses)
    materials = merge_materials(matters, conditions, answers)
    plan = plan_routing(bundle, matters, conditions, uses, materials, units)
    layout = build_layout(bundle, matters, conditions, uses, catalog)
    savings = compute_savings(matters, uses, materials, plan, answers,
                              None if answers is not None else (questions, conditions),
                              promised=bundle.promised_days, inspected=set(bundle.inspected))
    return Composition(
        bundle, answers, matters, conditions, schema, layout, provenance, materials, plan,
        savings, uses, units,
    )


def merged_questions(bundle: Bundle) -> dict:
    """The questionnaire of a bundle and every bundle nested in it, as one schema.

    A nested bundle's own rules (which of its questions are required, and how they
    depend on each other) hold only when that bundle applies: a stage of a 一类事
    that the answers leave out asks nothing.
    """
    questions = copy.deepcopy(bundle.questions)
    origin = {key: (bundle, f"/questions/properties/{key}") for key in questions["properties"]}
    extra_rules = []
    for child, condition in stage_conditions(bundle).values():
        for key, schema in child.questions.get("properties", {}).items():
            pointer = f"/questions/properties/{key}"
            if key in origin:
                owner, owner_pointer = origin[key]
                if canonical_json(owner_schema(owner, key)) != canonical_json(schema):
                    raise CompositionError(
                        f"answers.{key}",
                        Text("the question is asked differently"),
                        [Site(None, owner.path, owner_pointer), Site(None, child.path, pointer)],
                    )
                continue
            questions["properties"][key] = copy.deepcopy(schema)
            origin[key] = (child, pointer)
        rest = {k: v for k, v in child.questions.items() if k not in ("properties", "type")}
        if rest:
            rule = copy.deepcopy(rest)
            extra_rules.append(rule if condition is None else {"if": condition, "then": rule})
    if extra_rules:
        questions.setdefault("allOf", []).extend(extra_rules)
    return questions


def stage_conditions(bundle: Bundle) -> dict[str, tuple[Bundle, Any]]:
    """Each nested bundle, by code, with the condition under which it applies (None: always)."""
    paths: dict[str, tuple[Bundle, list]] = {}
    for child, conditions in bundle.stages():
        paths.setdefault(child.code, (child, []))[1].append(all_of(list(conditions)))
    return {code: (child, any_of(conditions)) for code, (child, conditions) in paths.items()}


def owner_schema(bundle: Bundle, key: str) -> Any:
    """The schema a bundle gives one of its questions."""
    return bundle.questions.get("properties", {}).get(key)


def item_conditions(bundle: Bundle) -> dict[str, Any]:
    """Each matter's condition, in item order: None when it always applies."""
    occurrences: dict[str, list] = {}
    for item in bundle.flatten():
        occurrences.setdefault(item.matter, []).append(all_of(list(item.conditions)))
    return {code: any_of(conds) for code, conds in occurrences.items()}


def is_shared(key: str, schema: Any) -> bool:
    """Tell whether a form property shares the library field of the same key."""
    return isinstance(schema, dict) and schema.get("$ref") == FIELD_BASE + key


def collect_uses(matters: list[Matter], catalog) -> dict[str, list[FieldUse]]:
    """Every field declaration, keyed by its path in the merged submission."""
    uses: dict[str, list[FieldUse]] = {}
    for matter in matters:
        required = set(matter.form.get("required", []))
        for key, schema in matter.form.get("properties", {}).items():
            shared = is_shared(key, schema) and key in catalog.fields
            path = key if shared else f"matters.{matter.code}.{key}"
            uses.setdefault(path, []).append(FieldUse(matter, key, schema, key in required, shared))
    return uses


def library_constraints(field, catalog) -> dict:
    """The constraints a library field carries itself, following its $ref chain."""
    chain, seen = [], set()
    while field is not None and field.key not in seen:
        seen.add(field.key)
        chain.append(field.data)
        ref = field.data.get("$ref")
        field = catalog.field_for_ref(urljoin(field.uri, ref)) if isinstance(ref, str) else None
    constraints: dict = {}
    for data in reversed(chain):
        constraints.update({k: data[k] for k in TIGHTENING if k in data})
        choices = data.get("oneOf")
        if isinstance(choices, list) and choices and all("const" in c for c in choices):
            constraints["enum"] = [c["const"] for c in choices]
    return constraints


def build_schema(bundle, questions, matters, conditions, uses, catalog) -> dict:
    """The merged JSON Schema 2020-12 document, self-contained through $defs."""
    properties: dict[str, Any] = {"answers": standardize_schema(questions)}
    required = ["answers"]
    then: dict[str, dict] = {m.code: {} for m in matters if conditions[m.code] is not None}
    defs: dict[str, Any] = {}

    conflicts: list[CompositionError] = []
    producers = producers_of(matters)
    handover_rules: list[dict] = []
    for field_uses in uses.values():
        if not field_uses[0].shared:
            continue
        key = field_uses[0].key
        library = catalog.fields[key]
        # A value a matter of the bundle yields (the credit code of the registration) is
        # not asked of the applicant where that matter applies: it is handed over.
        asks = {id(u): u.required for u in field_uses}
        if key in producers:
            conflicts += handover_conflicts(bundle, key, producers[key], field_uses, conditions,
                                            questions)
            given = any_of([conditions[p.code] for p in producers[key]])
            for u in field_uses:
                if asks[id(u)] and given is not None:
                    handover_rules.append({
                        "if": {"properties": {"answers": all_of(
                            [conditions[u.matter.code], {"not": given}])},
                            "required": ["answers"]},
                        "then": {"required": [key]}, "x-matter": u.matter.code})
                asks[id(u)] = False
        base = Use(Site(None, library.path, ""), library_constraints(library, catalog))
        unit = library.data.get("x-unit")
        all_uses = [base] + [
            Use(u.site, convert_bounds({k: v for k, v in u.schema.items() if k in TIGHTENING},
                                       u.schema.get("x-unit", unit), unit)
                if unit else {k: v for k, v in u.schema.items() if k in TIGHTENING})
            for u in field_uses
        ]
        try:
            merge_constraints(key, all_uses)
        except CompositionError:
            found = field_conflicts(key, base, all_uses[1:], field_uses, conditions, questions)
            if found:
                conflicts += found
                continue
        always = [use for use, u in zip(all_uses[1:], field_uses, strict=True)
                  if conditions[u.matter.code] is None]
        prop = {"$ref": f"#/$defs/{key}", **merge_constraints(key, [base, *always])}
        properties[key] = prop
        if any(asks[id(u)] for u in field_uses if conditions[u.matter.code] is None):
            required.append(key)
        for use, u in zip(all_uses[1:], field_uses, strict=True):
            if conditions[u.matter.code] is None:
                continue
            clause = then[u.matter.code]
            own = merge_constraints(key, [use])
            if own:
                clause.setdefault("properties", {})[key] = own
            if asks[id(u)]:
                clause.setdefault("required", []).append(key)
        row = row_schema(library)
        if row is not None and any(narrowed(u.schema) is not None for u in field_uses):
            found: list[CompositionError] = []
            properties[key] = group_property(key, library, row, field_uses, conditions, then,
                                             questions, catalog, defs, found)
            properties[key].update({k: v for k, v in prop.items() if k != "$ref"})
            conflicts += found
            continue
        include_field(key, catalog, defs)

    if conflicts:
        raise CompositionErrors(conflicts)

    namespaces: dict[str, Any] = {}
    always_required = []
    local_of: dict[str, dict[str, FieldUse]] = {m.code: {} for m in matters}
    for field_uses in uses.values():
        for use in field_uses:
            if not use.shared:
                local_of[use.matter.code][use.key] = use
    for matter in matters:
        local = local_of[matter.code]
        if not local:
            continue
        ns = {
            "type": "object",
            "title": matter.label(),
            "x-title": standardize_schema({"title": matter.name}).get("x-title"),
            "properties": {k: rewrite_refs(standardize_schema(u.schema), catalog, defs)
                           for k, u in local.items()},
            "additionalProperties": False,
        }
        if ns["x-title"] is None:
            del ns["x-title"]
        local_required = [k for k, u in local.items() if u.required]
        if local_required:
            ns["required"] = local_required
            if conditions[matter.code] is None:
                always_required.append(matter.code)
            else:
                clause = then[matter.code]
                clause.setdefault("required", []).append("matters")
                clause.setdefault("properties", {})["matters"] = {"required": [matter.code]}
        namespaces[matter.code] = ns
    if namespaces:
        properties["matters"] = {
            "type": "object",
            "properties": namespaces,
            "additionalProperties": False,
        }
        if always_required:
            properties["matters"]["required"] = always_required
            required.append("matters")

    # A matter's own rules between its fields (a field required only for a company):
    # lifted onto the merged submission's paths, holding only when the matter applies.
    shared_of: dict[str, set[str]] = {m.code: set() for m in matters}
    for field_uses in uses.values():
        for use in field_uses:
            if use.shared:
                shared_of[use.matter.code].add(use.key)
    # What a matter that always applies hands over is required of nobody.
    handed = frozenset(key for key, yielding in producers.items()
                       if any(conditions[p.code] is None for p in yielding))
    lifted_rules = []
    for matter in matters:
        for rule in form_rules(matter):
            lifted = rewrite_refs(lift_rule(rule, matter, shared_of[matter.code],
                                            handed - set(matter.produces)), catalog, defs)
            condition = conditions[matter.code]
            lifted_rules.append({**({"if": {"properties": {"answers": condition},
                                            "required": ["answers"]}, "then": lifted}
                                    if condition is not None else lifted),
                                 "x-matter": matter.code})

    schema: dict[str, Any] = {
        "$schema": SCHEMA_DIALECT,
        "title": bundle.label(),
        "x-bundle": bundle.code,
        "x-version": bundle.version,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    rules = [
        {
            "if": {"properties": {"answers": conditions[code]}, "required": ["answers"]},
            "then": clause,
            "x-matter": code,
        }
        for code, clause in then.items()
        if clause
    ]
    rules += handover_rules + lifted_rules
    if rules:
        schema["allOf"] = rules
    if defs:
        schema["$defs"] = dict(sorted(defs.items()))
    return schema


def producers_of(matters: list[Matter]) -> dict[str, list[Matter]]:
    """For each library field some matter's approval yields, the matters that yield it."""
    found: dict[str, list[Matter]] = {}
    for matter in matters:
        for key in matter.produces:
            found.setdefault(key, []).append(matter)
    return found


def waited_for(bundle: Bundle, codes: set[str]) -> dict[str, set[str]]:
    """For each applying matter, every applying matter it waits for, directly or through
    others (applying or not, as routing does)."""
    edges = bundle.waits()
    closure: dict[str, set[str]] = {}
    for code in codes:
        seen: set[str] = set()
        pending = [code]
        while pending:
            for before in edges.get(pending.pop(), {}):
                if before not in seen:
                    seen.add(before)
                    pending.append(before)
        closure[code] = seen & codes
    return closure


def handover_conflicts(bundle, key, producers, field_uses, conditions, questions) -> list:
    """A matter requiring a value another matter yields must wait for that matter when both
    can apply together: else it would be routed before the value exists."""
    codes = set(conditions)
    waits = waited_for(bundle, codes)
    found = []
    for use in field_uses:
        if not use.required or use.matter in producers:
            continue
        for producer in producers:
            if producer.code not in waits[use.matter.code] and can_hold_together(
                    [conditions[use.matter.code], conditions[producer.code]], questions):
                index = producer.produces.index(key)
                found.append(CompositionError(
                    key, Text("{matter} needs the value {producer} yields: it must wait for "
                              "{producer} (after)", matter=use.matter.code,
                              producer=producer.code),
                    [use.site, Site(producer.code, producer.path, f"/produces/{index}")]))
    return found


def group_property(key, library, row, field_uses, conditions, then, questions, catalog, defs,
                   conflicts: list) -> dict:
    """A repeating group asked with the columns of every matter that uses it.

    Each column carries the strictest of what the matters that always apply put on it;
    a conditional matter's columns, requirements and constraints hold when it applies.
    """
    always = [u for u in field_uses if conditions[u.matter.code] is None]
    taken = union_columns([u.schema for u in field_uses], row)
    required = [column for column in taken
                if any(column in required_columns(u.schema, row) for u in always)]
    extra: dict[str, dict] = {}
    for column in taken:
        name = f"{key}.{column}"
        base = Use(Site(None, library.path, f"/items/properties/{column}"),
                   {k: v for k, v in resolve(row["properties"][column], catalog,
                                             library.uri).items() if k in TIGHTENING})
        mine = [(Use(Site(u.matter.code, u.matter.path,
                          f"/form/properties/{u.key}/items/properties/{column}"),
                     {k: v for k, v in column_schema(u.schema, column).items()
                      if k in TIGHTENING}), u)
                for u in field_uses if column in columns(u.schema, row)]
        mine = [(use, u) for use, u in mine if use.constraints]
        if not mine:
            continue
        try:
            merge_constraints(name, [base, *(use for use, _ in mine)])
        except CompositionError:
            found = field_conflicts(name, base, [use for use, _ in mine], [u for _, u in mine],
                                    conditions, questions)
            if found:
                conflicts += found
                continue
        merged = merge_constraints(name, [base, *(use for use, u in mine
                                                  if conditions[u.matter.code] is None)])
        if merged:
            extra[column] = merged
        for use, u in mine:
            if conditions[u.matter.code] is not None:
                own = merge_constraints(name, [use])
                _row_clause(then[u.matter.code], key).setdefault(
                    "properties", {})[column] = own
    for u in field_uses:
        if conditions[u.matter.code] is None:
            continue
        more = [c for c in required_columns(u.schema, row) if c not in required]
        if more:
            _row_clause(then[u.matter.code], key)["required"] = more
    body = {k: v for k, v in library.schema.items() if k not in ("$id", "$schema")}
    return rewrite_refs(restricted(body, row, taken, required, extra), catalog, defs,
                        base=library.uri)


def _row_clause(clause: dict, key: str) -> dict:
    # What a conditional matter adds to each row of a group, within its `then`.
    return clause.setdefault("properties", {}).setdefault(key, {}).setdefault("items", {})


def field_conflicts(key, base, own, field_uses, conditions, questions) -> list:
    """The pairs of declarations of one shared field that contradict each other and can
    apply together: a matter and the library, or two matters whose conditions can hold at
    once. Alternatives (an EIA report form for ≥ 1000 ㎡, a filing below) never meet.
    """
    found = []
    for use in own:
        try:
            merge_constraints(key, [base, use])
        except CompositionError as error:
            found.append(error)
    pairs = list(zip(own, field_uses, strict=True))
    for (one, first), (other, second) in itertools.combinations(pairs, 2):
        try:
            merge_constraints(key, [base, one, other])
        except CompositionError as error:
            if any(e.sites == error.sites for e in found):
                continue
            if can_hold_together([conditions[first.matter.code],
                                  conditions[second.matter.code]], questions):
                found.append(error)
    return found


def field_units(uses: dict[str, list[FieldUse]], catalog) -> dict:
    """Where a matter counts a shared quantity in another unit than the one form asks in.

    A matter naming a unit the library field does not have, one of another quantity, or
    re-titling a quantity (亩 under a ㎡ title) is a CompositionError with both pointers.
    """
    units: dict[tuple[str, str], tuple[str, str]] = {}
    for path, field_uses in uses.items():
        for use in field_uses:
            wanted = use.schema.get("x-unit") if isinstance(use.schema, dict) else None
            library = catalog.fields.get(use.key) if use.shared else None
            unit = library.data.get("x-unit") if library is not None else None
            here = Site(use.matter.code, use.matter.path, f"/form/properties/{use.key}/x-unit")
            if wanted is None:
                if unit and "title" in use.schema and canonical_json(
                        use.schema["title"]) != canonical_json(library.data.get("title")):
                    raise CompositionError(
                        use.key, Text("a quantity in {unit} keeps the library's title; say "
                                      "the matter's own unit with x-unit", unit=unit), [
                            Site(None, library.path, "/title"),
                            Site(use.matter.code, use.matter.path,
                                 f"/form/properties/{use.key}/title")])
                continue
            if not use.shared:
                # A matter's own quantity says the unit it asks in ("6米" in a field of
                # metres): nothing to convert, only how a typed number is read.
                continue
            if not unit:
                raise CompositionError(use.key, Text("x-unit needs a library field that says "
                                                     "its own unit (x-unit)"), [here] + (
                                           [Site(None, library.path, "")] if library else []))
            if quantity(wanted) is None or quantity(wanted) != quantity(unit):
                raise CompositionError(
                    use.key, Text("unit {wanted!r} cannot be converted to {unit!r}",
                                  wanted=wanted, unit=unit),
                    [Site(None, library.path, "/x-unit"), here])
            if wanted != unit:
                units[use.matter.code, path] = (unit, wanted)
    return units


def include_field(key: str, catalog, defs: dict) -> None:
    """Copy a library field, and every field it refers to, into $defs."""
    if key in defs:
        return
    library = catalog.fields[key]
    body = {k: v for k, v in library.schema.items() if k not in ("$id", "$schema")}
    defs[key] = {}  # reserve first: fields may refer to each other
    defs[key] = rewrite_refs(body, catalog, defs, base=library.uri)


def rewrite_refs(schema: Any, catalog, defs: dict, base: str = FIELD_BASE) -> Any:
    """Point every $ref to a library field at its copy in $defs."""
    if isinstance(schema, list):
        return [rewrite_refs(item, catalog, defs, base) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            target = catalog.field_for_ref(urljoin(base, value))
            if target is None:
                raise CompositionError(value, Text("the $ref does not name a library field"),
                                       [])
            include_field(target.key, catalog, defs)
            result[key] = f"#/$defs/{target.key}"
        else:
            result[key] = rewrite_refs(value, catalog, defs, base)
    return result


def build_provenance(uses: dict[str, list[FieldUse]]) -> dict[str, Provenance]:
    """For each field of the one form: who needs it and where they declared it."""
    provenance = {}
    for path, field_uses in uses.items():
        first = field_uses[0]
        record = Provenance(path, first.shared, first.key if first.shared else None)
        for use in field_uses:
            record.matters.append(use.matter.code)
            if use.matter.department not in record.departments:
                record.departments.append(use.matter.department)
            record.pointers[use.matter.code] = f"{use.matter.path}#{use.site.pointer}"
        provenance[path] = record
    return provenance
