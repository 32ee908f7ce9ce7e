"""A readable diff between two versions of a bundle, as applicants and departments feel it.

It compares compositions, not JSON files: the scenario questions (情形) asked,
fields of the one form added,
removed or changed (constraints, required or not, who needs them), materials
(added, removed, flags), routing (departments, steps and who waits for whom)
and time limits (each matter's days, the critical path). The console's version
history, the import dry run and `onething diff` all show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onething.catalog.definitions import canonical_json
from onething.catalog.text import localize

# What a diff is grouped by, in the order people read it.
AREAS = ("questions", "fields", "materials", "routing", "time limits")


@dataclass
class Change:
    """One difference: what it concerns, and how.

    `facts` are (key, before, after) with the values as the definitions hold them (None
    on the side without one), for a reader to word in its own language; `title` is the
    subject's name in the diff's locale.
    """

    area: str  # questions | fields | materials | routing | time limits
    subject: str
    kind: str  # added | removed | changed
    facts: list[tuple[str, Any, Any]] = field(default_factory=list)
    title: str = ""

    @property
    def details(self) -> list[str]:
        """The facts as 'key: before → after' ('key: value' for one side only)."""
        texts = []
        for key, before, after in self.facts:
            if self.kind == "changed":
                texts.append(f"{key}: {_short(before)} → {_short(after)}")
            else:
                texts.append(f"{key}: {_short(after if self.kind == 'added' else before)}")
        return texts

    def __str__(self) -> str:
        text = f"{self.area}: {self.subject} {self.kind}"
        return text + (f" ({'; '.join(self.details)})" if self.details else "")


@dataclass
class VersionDiff:
    """Every change between two compositions of a bundle."""

    changes: list[Change]
    # Codes of matters and departments -> their names in the diff's locale, from both sides.
    names: dict[str, str] = field(default_factory=dict)
    # The newer side's scenario questions (then the older's), to word conditions with.
    questions: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def by_area(self) -> dict[str, list[Change]]:
        """The changes grouped by area, in a fixed order."""
        areas: dict[str, list[Change]] = {a: [] for a in AREAS}
        for change in self.changes:
            areas[change.area].append(change)
        return {area: items for area, items in areas.items() if items}

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {area: [{"subject": c.subject, "kind": c.kind, "details": c.details}
                       for c in items] for area, items in self.by_area().items()}

    def name(self, code: str) -> str:
        """A matter's or a department's name (its code if neither side knows it)."""
        return self.names.get(code, code)


def _fields(composition) -> dict[str, dict]:
    entries = {}
    for section in composition.layout["sections"]:
        for entry in section["fields"]:
            entries[entry["path"]] = entry
    return entries


def _schema_of(composition, path: str) -> Any:
    properties = composition.schema["properties"]
    if path.startswith("matters."):
        _, matter, key = path.split(".", 2)
        return properties["matters"]["properties"][matter]["properties"][key]
    return properties.get(path)


def _compare(old: Any, new: Any, names: tuple[str, ...]) -> list[tuple[str, Any, Any]]:
    """The keys whose values differ, as (key, old, new)."""
    facts = []
    for name in names:
        a, b = old.get(name), new.get(name)
        if canonical_json(a) != canonical_json(b):
            facts.append((name, a, b))
    return facts


def _names(composition, locale: str) -> dict[str, str]:
    """The composition's matters and departments by code, named in `locale`."""
    catalog = composition.bundle.catalog
    names = {code: localize(d.data.get("short_name") or d.name, locale)
             for code, d in catalog.departments.items()}
    names.update({code: localize(m.name, locale) for code, m in catalog.matters.items()})
    # A department's slice lists field paths and material ids: named too.
    names.update({path: localize(entry["title"], locale)
                  for path, entry in _fields(composition).items()})
    names.update({m.id: localize(m.name, locale) for m in composition.materials})
    return names


def _short(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else canonical_json(value)
    return text if len(text) <= 60 else text[:57] + "…"


def diff_compositions(old, new, locale: str = "zh-Hans") -> VersionDiff:
    """Compare two compositions of one bundle (usually two versions, same answers)."""
    changes: list[Change] = []
    old_fields, new_fields = _fields(old), _fields(new)
    for path in new_fields.keys() - old_fields.keys():
        entry = new_fields[path]
        changes.append(Change("fields", path, "added",
                              [("required", None, entry["required"]),
                               ("needed_by", None, entry["needed_by"])],
                              localize(entry["title"], locale)))
    for path in old_fields.keys() - new_fields.keys():
        changes.append(Change("fields", path, "removed",
                              title=localize(old_fields[path]["title"], locale)))
    for path in sorted(old_fields.keys() & new_fields.keys()):
        a, b = old_fields[path], new_fields[path]
        details = _compare(a, b, ("required", "widget", "needed_by"))
        schema_a, schema_b = _schema_of(old, path) or {}, _schema_of(new, path) or {}
        keys = tuple(sorted((set(schema_a) | set(schema_b)) - {"title", "x-title",
                                                                "description", "x-description"}))
        details += _compare(schema_a, schema_b, keys)
        if details:
            changes.append(Change("fields", path, "changed", details,
                                  localize(b["title"], locale)))

    changes += _question_changes(old.bundle.questions, new.bundle.questions, locale)

    old_materials = {m.id: m.as_dict() for m in old.materials}
    new_materials = {m.id: m.as_dict() for m in new.materials}
    for material_id in new_materials.keys() - old_materials.keys():
        added = new_materials[material_id]
        changes.append(Change("materials", material_id, "added",
                              [("necessity", None, added["necessity"]),
                               ("matters", None, added["matters"])],
                              localize(added["name"], locale)))
    for material_id in old_materials.keys() - new_materials.keys():
        changes.append(Change("materials", material_id, "removed",
                              title=localize(old_materials[material_id]["name"], locale)))
    for material_id in sorted(old_materials.keys() & new_materials.keys()):
        details = _compare(old_materials[material_id], new_materials[material_id],
                           ("necessity", "commitment", "shared_data", "copies", "medium",
                            "matters", "condition"))
        if details:
            changes.append(Change("materials", material_id, "changed", details,
                                  localize(new_materials[material_id]["name"], locale)))

    names = {**_names(old, locale), **_names(new, locale)}
    old_steps = {s.matter: s for s in old.plan.steps}
    new_steps = {s.matter: s for s in new.plan.steps}
    for matter in new_steps.keys() - old_steps.keys():
        step = new_steps[matter]
        changes.append(Change("routing", matter, "added",
                              [("department", None, step.department),
                               ("waits_for", None, step.waits_for),
                               ("promised_days", None, step.promised_days)], names[matter]))
    for matter in old_steps.keys() - new_steps.keys():
        changes.append(Change("routing", matter, "removed", [], names.get(matter, matter)))
    for matter in sorted(old_steps.keys() & new_steps.keys()):
        a, b = old_steps[matter], new_steps[matter]
        details = _compare({"department": a.department, "waits_for": a.waits_for,
                            "slice": a.slice.as_dict(), "applies_when": a.condition},
                           {"department": b.department, "waits_for": b.waits_for,
                            "slice": b.slice.as_dict(), "applies_when": b.condition},
                           ("department", "waits_for", "slice", "applies_when"))
        if details:
            changes.append(Change("routing", matter, "changed", details, names[matter]))
        # The same numbers counted another way (工作日 / 自然日) are another time limit.
        days = _compare({"promised_days": a.promised_days, "legal_days": a.legal_days,
                         "counting": a.counting},
                        {"promised_days": b.promised_days, "legal_days": b.legal_days,
                         "counting": b.counting},
                        ("promised_days", "legal_days", "counting"))
        if days:
            changes.append(Change("time limits", matter, "changed", days, names[matter]))
    # The department that receives the application (牵头部门): who the applicant meets.
    lead = _compare({"lead_department": old.plan.lead_department},
                    {"lead_department": new.plan.lead_department}, ("lead_department",))
    if lead:
        changes.append(Change("routing", "bundle", "changed", lead))
    plan = _compare(
        {"critical_path_days": old.plan.critical_path_days, "serial_days": old.plan.serial_days},
        {"critical_path_days": new.plan.critical_path_days, "serial_days": new.plan.serial_days},
        ("critical_path_days", "serial_days"))
    if plan:
        changes.append(Change("time limits", "bundle", "changed", plan))
    changes.sort(key=lambda c: (AREAS.index(c.area), c.kind, c.subject))
    questions = {"properties": {**old.bundle.questions.get("properties", {}),
                                **new.bundle.questions.get("properties", {})}}
    return VersionDiff(changes, names, questions)


def _question_changes(old: dict, new: dict, locale: str) -> list[Change]:
    """Scenario questions added, removed or changed (their title, answers, required)."""
    changes = []
    before, after = old.get("properties", {}), new.get("properties", {})
    for key in sorted(after.keys() - before.keys()):
        changes.append(Change("questions", key, "added",
                              [("required", None, key in new.get("required", []))],
                              localize(after[key].get("title"), locale)))
    for key in sorted(before.keys() - after.keys()):
        changes.append(Change("questions", key, "removed",
                              title=localize(before[key].get("title"), locale)))
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        fields = tuple(sorted(set(a) | set(b)))
        details = _compare(a, b, fields)
        if (key in old.get("required", [])) != (key in new.get("required", [])):
            details.append(("required", key in old.get("required", []),
                            key in new.get("required", [])))
        if details:
            changes.append(Change("questions", key, "changed", details,
                                  localize(b.get("title"), locale)))
    return changes


def describe(diff: VersionDiff) -> str:
    """The diff as text, one change per line, grouped by area."""
    if not diff:
        return "no change"
    lines = []
    for area, items in diff.by_area().items():
        lines.append(f"{area.upper()}")
        for change in items:
            details = f": {'; '.join(change.details)}" if change.details else ""
            lines.append(f"  {change.kind:<8} {change.subject}{details}")
    return "\n".join(lines)
