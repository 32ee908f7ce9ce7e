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
    """One difference: what it concerns, and how."""

    area: str  # questions | fields | materials | routing | time limits
    subject: str
    kind: str  # added | removed | changed
    details: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"{self.area}: {self.subject} {self.kind}"
        return text + (f" ({'; '.join(self.details)})" if self.details else "")


@dataclass
class VersionDiff:
    """Every change between two compositions of a bundle."""

    changes: list[Change]

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


def _compare(old: Any, new: Any, names: tuple[str, ...]) -> list[str]:
    """Name the keys whose values differ, as 'key: old → new'."""
    details = []
    for name in names:
        a, b = old.get(name), new.get(name)
        if canonical_json(a) != canonical_json(b):
            details.append(f"{name}: {_short(a)} → {_short(b)}")
    return details


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
                              [localize(entry["title"], locale), f"required: {entry['required']}",
                               "needed by " + ", ".join(entry["needed_by"])]))
    for path in old_fields.keys() - new_fields.keys():
        changes.append(Change("fields", path, "removed",
                              [localize(old_fields[path]["title"], locale)]))
    for path in sorted(old_fields.keys() & new_fields.keys()):
        a, b = old_fields[path], new_fields[path]
        details = _compare(a, b, ("required", "widget", "needed_by"))
        schema_a, schema_b = _schema_of(old, path) or {}, _schema_of(new, path) or {}
        keys = tuple(sorted((set(schema_a) | set(schema_b)) - {"title", "x-title",
                                                                "description", "x-description"}))
        details += _compare(schema_a, schema_b, keys)
        if details:
            changes.append(Change("fields", path, "changed", details))

    changes += _question_changes(old.bundle.questions, new.bundle.questions, locale)

    old_materials = {m.id: m.as_dict() for m in old.materials}
    new_materials = {m.id: m.as_dict() for m in new.materials}
    for material_id in new_materials.keys() - old_materials.keys():
        changes.append(Change("materials", material_id, "added",
                              [localize(new_materials[material_id]["name"], locale)]))
    for material_id in old_materials.keys() - new_materials.keys():
        changes.append(Change("materials", material_id, "removed",
                              [localize(old_materials[material_id]["name"], locale)]))
    for material_id in sorted(old_materials.keys() & new_materials.keys()):
        details = _compare(old_materials[material_id], new_materials[material_id],
                           ("necessity", "commitment", "shared_data", "copies", "medium",
                            "matters", "condition"))
        if details:
            changes.append(Change("materials", material_id, "changed", details))

    old_steps = {s.matter: s for s in old.plan.steps}
    new_steps = {s.matter: s for s in new.plan.steps}
    for matter in new_steps.keys() - old_steps.keys():
        step = new_steps[matter]
        changes.append(Change("routing", matter, "added",
                              [f"department: {step.department}",
                               "waits for: " + (", ".join(step.waits_for) or "—")]))
    for matter in old_steps.keys() - new_steps.keys():
        changes.append(Change("routing", matter, "removed", []))
    for matter in sorted(old_steps.keys() & new_steps.keys()):
        a, b = old_steps[matter], new_steps[matter]
        details = _compare({"department": a.department, "waits_for": a.waits_for,
                            "slice": a.slice.as_dict(), "applies_when": a.condition},
                           {"department": b.department, "waits_for": b.waits_for,
                            "slice": b.slice.as_dict(), "applies_when": b.condition},
                           ("department", "waits_for", "slice", "applies_when"))
        if details:
            changes.append(Change("routing", matter, "changed", details))
        # The same numbers counted another way (工作日 / 自然日) are another time limit.
        days = _compare({"promised_days": a.promised_days, "legal_days": a.legal_days,
                         "counting": a.counting},
                        {"promised_days": b.promised_days, "legal_days": b.legal_days,
                         "counting": b.counting},
                        ("promised_days", "legal_days", "counting"))
        if days:
            changes.append(Change("time limits", matter, "changed", days))
    plan = _compare(
        {"critical_path_days": old.plan.critical_path_days, "serial_days": old.plan.serial_days},
        {"critical_path_days": new.plan.critical_path_days, "serial_days": new.plan.serial_days},
        ("critical_path_days", "serial_days"))
    if plan:
        changes.append(Change("time limits", "bundle", "changed", plan))
    changes.sort(key=lambda c: (AREAS.index(c.area), c.kind, c.subject))
    return VersionDiff(changes)


def _question_changes(old: dict, new: dict, locale: str) -> list[Change]:
    """Scenario questions added, removed or changed (their title, answers, required)."""
    changes = []
    before, after = old.get("properties", {}), new.get("properties", {})
    for key in sorted(after.keys() - before.keys()):
        changes.append(Change("questions", key, "added", [localize(after[key].get("title"),
                                                                   locale)]))
    for key in sorted(before.keys() - after.keys()):
        changes.append(Change("questions", key, "removed", [localize(before[key].get("title"),
                                                                     locale)]))
    for key in sorted(before.keys() & after.keys()):
        a, b = before[key], after[key]
        fields = tuple(sorted(set(a) | set(b)))
        details = _compare(a, b, fields)
        if (key in old.get("required", [])) != (key in new.get("required", [])):
            details.append(f"required: {key in old.get('required', [])} → "
                           f"{key in new.get('required', [])}")
        if details:
            changes.append(Change("questions", key, "changed", details))
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
