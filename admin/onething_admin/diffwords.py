"""A version diff in the console's words: what changed, and before → after, in plain language.

`onething.publishing.diff` says which keys of which definitions differ, with their
values as the definitions hold them. Administrators read "承诺时限：4 个工作日 → 6 个工作日",
not `promised_days: 4 → 6`: this module words each change in the page's language. The
raw JSON stays available behind a <details> on the page, for those who want it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from onething.catalog.text import localize
from onething.catalog.units import unit_name
from onething.guides.flow import days_text
from onething.publishing.diff import Change, VersionDiff
from onething.web.i18n import current_locale, join_list

AREAS = {
    "questions": _l("Scenario questions (情形)"),
    "fields": _l("Fields of the one form"),
    "materials": _l("Materials"),
    "routing": _l("Matters and routing"),
    "time limits": _l("Time limits"),
}
# What happened to the subject, by area and kind.
CHANGES = {
    ("questions", "added"): _l("Question added"),
    ("questions", "removed"): _l("Question removed"),
    ("questions", "changed"): _l("Question changed"),
    ("fields", "added"): _l("Field added"),
    ("fields", "removed"): _l("Field removed"),
    ("fields", "changed"): _l("Field changed"),
    ("materials", "added"): _l("Material added"),
    ("materials", "removed"): _l("Material removed"),
    ("materials", "changed"): _l("Material changed"),
    ("routing", "added"): _l("Matter added"),
    ("routing", "removed"): _l("Matter removed"),
    ("routing", "changed"): _l("Routing changed"),
    ("time limits", "changed"): _l("Time limit changed"),
}
# The keys a diff names, as the people reading it call them.
LABELS = {
    "required": _l("Required"),
    "widget": _l("Input control"),
    "needed_by": _l("Needed by"),
    "type": _l("Kind of answer"),
    "format": _l("Format"),
    "pattern": _l("Pattern it must match"),
    "minimum": _l("Smallest value"),
    "maximum": _l("Largest value"),
    "exclusiveMinimum": _l("More than"),
    "exclusiveMaximum": _l("Less than"),
    "minLength": _l("Shortest length"),
    "maxLength": _l("Longest length"),
    "minItems": _l("Fewest entries"),
    "maxItems": _l("Most entries"),
    "enum": _l("Answers"),
    "oneOf": _l("Answers"),
    "const": _l("Fixed value"),
    "default": _l("Default answer"),
    "x-unit": _l("Unit"),
    "x-widget": _l("Input control"),
    "$ref": _l("Shared field of the library"),
    "title": _l("Wording"),
    "description": _l("Help text"),
    "necessity": _l("Necessity"),
    "commitment": _l("A signed commitment (告知承诺) may replace it"),
    "shared_data": _l("Supplied by shared data (电子证照)"),
    "copies": _l("Copies"),
    "medium": _l("Paper or electronic"),
    "matters": _l("For matters"),
    "condition": _l("Needed when"),
    "department": _l("Department"),
    "lead_department": _l("Lead department (receives the application)"),
    "waits_for": _l("Waits for"),
    "slice": _l("What the department receives"),
    "applies_when": _l("Applies when"),
    "promised_days": _l("Promised time limit (承诺时限)"),
    "legal_days": _l("Legal time limit (法定时限)"),
    "counting": _l("Days counted as"),
    "critical_path_days": _l("Whole bundle, matters in parallel"),
    "serial_days": _l("Whole bundle, one matter after another"),
}
VALUES = {
    "required": {"always": _l("required"), "conditional": _l("required in some cases"),
                 "optional": _l("optional")},
    "necessity": {"required": _l("required (必要)"), "optional": _l("optional (非必要)"),
                  "deferrable": _l("may be supplied later (容缺后补)")},
    "medium": {"paper": _l("paper original"), "electronic": _l("electronic (a scan)"),
               "either": _l("either")},
    "counting": {"working_days": _l("working days (工作日)"),
                 "calendar_days": _l("calendar days (自然日)")},
    "type": {"string": _l("text"), "integer": _l("whole number"), "number": _l("number"),
             "boolean": _l("yes or no"), "array": _l("a list"), "object": _l("a group")},
}
# Keys whose values are codes of matters, departments, fields or materials.
CODES = {"needed_by", "waits_for", "matters", "department", "lead_department"}
DAYS = {"promised_days", "legal_days", "critical_path_days", "serial_days"}


@dataclass
class Fact:
    """One changed property: its label, and its value before and after, as texts."""

    key: str
    label: str
    before: str
    after: str


@dataclass
class Line:
    """One change: what happened, to what, and each changed property."""

    change: Change
    label: str
    title: str
    facts: list[Fact]


def readable(diff: VersionDiff) -> list[tuple[str, list[Line]]]:
    """The diff as (area label, lines), in the page's language."""
    return [(str(AREAS.get(area, area)), [_line(diff, change) for change in changes])
            for area, changes in diff.by_area().items()]


def _line(diff: VersionDiff, change: Change) -> Line:
    label = CHANGES.get((change.area, change.kind), _l("Changed"))
    title = change.title or (_("The whole bundle") if change.subject == "bundle"
                             else diff.name(change.subject))
    counting = {side: value for key, *sides in change.facts if key == "counting"
                for side, value in zip(("before", "after"), sides, strict=True)}
    facts = []
    for key, before, after in change.facts:
        facts.append(Fact(key, str(LABELS.get(key, _l("Another rule"))),
                          _value(diff, key, before, counting.get("before")),
                          _value(diff, key, after, counting.get("after"))))
    return Line(change, str(label), title, facts)


def _value(diff: VersionDiff, key: str, value: Any, counting: str | None) -> str:
    """A value as people read it ("—" for none)."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in VALUES and isinstance(value, str):
        return str(VALUES[key].get(value, value))
    if key in DAYS and isinstance(value, int):
        return days_text(value, counting or "working_days")
    if key in CODES:
        codes = value if isinstance(value, list) else [value]
        return join_list([diff.name(code) for code in codes]) if codes else _("none")
    if key == "x-unit" and isinstance(value, str):
        names = unit_name(value)
        return localize(names, current_locale()) if names else value
    if key in ("title", "description") or (isinstance(value, dict) and "zh-Hans" in value):
        return localize(value, current_locale())
    if key == "enum" and isinstance(value, list):
        return join_list([_scalar(item) for item in value])
    if key == "oneOf" and isinstance(value, list):
        return join_list([localize(item.get("title"), current_locale()) or _scalar(
            item.get("const")) if isinstance(item, dict) else _scalar(item) for item in value])
    if key == "slice" and isinstance(value, dict):
        return _("%(fields)s fields, %(materials)s materials",
                 fields=len(value.get("fields", [])), materials=len(value.get("materials", [])))
    if key in ("condition", "applies_when"):
        return _condition(diff, value)
    if isinstance(value, str | int | float):
        return str(value)
    # Anything else is shown whole in the JSON view.
    return _("changed (see the JSON)")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value) if isinstance(value, str | int | float) else json.dumps(
        value, ensure_ascii=False)


def _condition(diff: VersionDiff, when: Any) -> str:
    """A condition on the scenario answers as "question = answer"."""
    if not when:
        return _("always")
    if not isinstance(when, dict) or not isinstance(when.get("properties"), dict):
        return _("changed (see the JSON)")
    parts = []
    for key, rule in when["properties"].items():
        schema = diff.questions.get("properties", {}).get(key, {})
        title = localize(schema.get("title"), current_locale()) or key
        values = ([rule["const"]] if isinstance(rule, dict) and "const" in rule
                  else rule.get("enum") if isinstance(rule, dict) else None)
        if not isinstance(values, list):
            return _("changed (see the JSON)")
        parts.append(f"{title} = {' / '.join(_answer(schema, v) for v in values)}")
    return "; ".join(parts) or _("always")


def _answer(schema: dict, value: Any) -> str:
    """A question's answer by its label (是/否 for true/false, an option's title)."""
    for option in schema.get("oneOf", []):
        if isinstance(option, dict) and option.get("const") == value:
            return localize(option.get("title"), current_locale()) or _scalar(value)
    return _scalar(value)
