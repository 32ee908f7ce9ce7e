"""The routing plan: which department gets which slice, who waits for whom, and how long.

Each matter is a step. A step waits for the approval of the steps named in the
bundle's `after` edges; everything else runs in parallel (并联审批). The
critical path through these edges, weighted by promised working days, is the
bundle's committed time limit; a step whose matter counts calendar days (自然日)
weighs its working equivalent (`working_equivalent`), and keeps its own counting
for pages to show. Each department receives its slice: exactly
the fields and materials its matters declared, nothing more, because the
submission holds personal data.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from onething.catalog.groups import columns, narrowed, project_rows, row_schema
from onething.catalog.problems import Text
from onething.catalog.units import convert
from onething.catalog.workdays import WORKING_DAYS, working_equivalent
from onething.composer.merge import CompositionError, Site

# 行政许可法 art. 42: joint handling (统一/联合/集中办理) must decide within 45 working days.
JOINT_HANDLING_LIMIT_DAYS = 45


@dataclass
class Slice:
    """What one department (or one matter) may see of a submission."""

    fields: list[str] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    # field path -> (the one form's unit, this slice's unit): values arrive converted.
    units: dict[str, tuple[str, str]] = field(default_factory=dict)
    # repeating group path -> the columns of each row this slice holds (absent: all).
    columns: dict[str, list[str]] = field(default_factory=dict)

    def add(self, other: Slice) -> None:
        """Take in another slice's fields and materials."""
        both = {}
        for path in {*self.columns, *other.columns}:
            mine = self.columns.get(path) if path in self.fields else []
            theirs = other.columns.get(path) if path in other.fields else []
            if mine is not None and theirs is not None:  # None: every column already
                both[path] = list(dict.fromkeys([*mine, *theirs]))
        self.fields = list(dict.fromkeys([*self.fields, *other.fields]))
        self.materials = list(dict.fromkeys([*self.materials, *other.materials]))
        self.units = {**other.units, **self.units}
        self.columns = both

    def project(self, data: dict) -> dict:
        """Cut a merged submission down to this slice's fields."""
        result: dict[str, Any] = {}
        for path in self.fields:
            if path.startswith("matters."):
                _, matter, key = path.split(".", 2)
                source = data.get("matters", {}).get(matter, {})
                if key in source:
                    result.setdefault("matters", {}).setdefault(matter, {})[key] = source[key]
            elif path in data:
                result[path] = (convert(data[path], *self.units[path]) if path in self.units
                                else data[path])
                if path in self.columns:
                    result[path] = project_rows(result[path], self.columns[path])
        return result

    def as_dict(self) -> dict:
        """Plain JSON data."""
        plain = {"fields": self.fields, "materials": self.materials}
        if self.units:
            plain["units"] = {path: to for path, (_, to) in self.units.items()}
        if self.columns:
            plain["columns"] = self.columns
        return plain


@dataclass
class Step:
    """One matter's approval: its department, time limits and the steps it waits for."""

    matter: str
    department: str
    promised_days: int
    legal_days: int
    waits_for: list[str]
    condition: Any
    slice: Slice
    # In working days from the plan's start, whatever the step's own counting.
    finish_day: int = 0
    # Values handed over between matters (办结产出): the library fields this step's approval
    # yields, and those of its slice that an earlier step yields.
    produces: list[str] = field(default_factory=list)
    receives: list[str] = field(default_factory=list)
    # How promised_days and legal_days count: working_days or calendar_days.
    counting: str = WORKING_DAYS

    @property
    def promised_working_days(self) -> int:
        """The promised limit as working days, for the plan's sums."""
        return working_equivalent(self.promised_days, self.counting)

    @property
    def legal_working_days(self) -> int:
        """The legal limit as working days, for the plan's sums."""
        return working_equivalent(self.legal_days, self.counting)

    def as_dict(self) -> dict:
        """Plain JSON data."""
        plain = {
            "matter": self.matter,
            "department": self.department,
            "promised_days": self.promised_days,
            "legal_days": self.legal_days,
            "counting": self.counting,
            "waits_for": self.waits_for,
            "condition": self.condition,
            "finish_day": self.finish_day,
            "slice": self.slice.as_dict(),
        }
        if self.produces or self.receives:
            plain["handover"] = self.handover
        return plain

    @property
    def handover(self) -> dict | None:
        """What the task records of the values handed over, if any."""
        if not (self.produces or self.receives):
            return None
        return {"produces": self.produces, "receives": self.receives}


@dataclass
class RoutingPlan:
    """Departments, their slices, the dependency DAG and the critical path."""

    lead_department: str
    steps: list[Step]
    slices: dict[str, Slice]
    critical_path: list[str]
    critical_path_days: int
    legal_critical_path_days: int
    serial_days: int
    # The matters in an order where each comes after those it waits for.
    order: list[str] = field(default_factory=list)

    @property
    def departments(self) -> list[str]:
        """The departments involved, in the order their first step appears."""
        return list(self.slices)

    def step(self, matter: str) -> Step:
        """The step of one matter."""
        return next(step for step in self.steps if step.matter == matter)

    def critical_days(self, present: set[str]) -> int:
        """The committed time limit when only these matters apply."""
        finish: dict[str, int] = {}
        # In the plan's order, what a step waits for is finished before it is reached.
        for code, days, waits in self._schedule:
            if code in present:
                start = 0
                for before in waits:
                    done = finish.get(before)
                    if done is not None and done > start:
                        start = done
                finish[code] = days + start
        return max(finish.values(), default=0)

    @cached_property
    def _schedule(self) -> list[tuple[str, int, tuple[str, ...]]]:
        # Each matter in order with its working days and what it waits for: savings ask
        # for the critical path of dozens of sets of matters.
        steps = {step.matter: step for step in self.steps}
        return [(code, steps[code].promised_working_days, tuple(steps[code].waits_for))
                for code in self.order]

    @property
    def over_joint_limit(self) -> bool:
        """Whether the plan breaks the 45-working-day limit of 行政许可法 art. 42."""
        return self.critical_path_days > JOINT_HANDLING_LIMIT_DAYS

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {
            "lead_department": self.lead_department,
            "departments": self.departments,
            "steps": [step.as_dict() for step in self.steps],
            "slices": {code: s.as_dict() for code, s in self.slices.items()},
            "critical_path": self.critical_path,
            "critical_path_days": self.critical_path_days,
            "legal_critical_path_days": self.legal_critical_path_days,
            "serial_days": self.serial_days,
            "joint_handling_limit_days": JOINT_HANDLING_LIMIT_DAYS,
        }


def plan_routing(bundle, matters, conditions, uses, materials, units=None) -> RoutingPlan:
    """Build the routing plan of the applicable matters."""
    present = {m.code for m in matters}
    fields_of: dict[str, list[str]] = {m.code: [] for m in matters}
    columns_of: dict[str, dict[str, list[str]]] = {m.code: {} for m in matters}
    for path, field_uses in uses.items():
        for use in field_uses:
            fields_of[use.matter.code].append(path)
            if use.shared and narrowed(use.schema) is not None:
                row = row_schema(use.matter.catalog.fields.get(use.key))
                if row is not None:
                    columns_of[use.matter.code][path] = columns(use.schema, row)
    materials_of: dict[str, list[str]] = {m.code: [] for m in matters}
    for material in materials:
        for code in material.matters:
            materials_of[code].append(material.id)
    steps: dict[str, Step] = {}
    yielded = {key for matter in matters for key in matter.produces}
    # Nested bundles (the stages of a 一类事) keep their own edges.
    edges = bundle.waits()
    for matter in matters:
        step_slice = Slice(fields=fields_of[matter.code], materials=materials_of[matter.code],
                           units={path: pair for (code, path), pair in (units or {}).items()
                                  if code == matter.code},
                           columns=columns_of[matter.code])
        waits_for = nearest_waits(matter.code, edges, present)
        steps[matter.code] = Step(
            matter.code, matter.department, matter.promised_days, matter.legal_days,
            waits_for, conditions.get(matter.code), step_slice, counting=matter.counting,
            produces=list(matter.produces),
            receives=[path for path in step_slice.fields if path in yielded
                      and path not in matter.produces],
        )
    order = topological_order(bundle, steps, edges)
    finish: dict[str, int] = {}
    legal: dict[str, int] = {}
    previous: dict[str, str | None] = {}
    for code in order:
        step = steps[code]
        before = max(step.waits_for, key=lambda c: finish[c], default=None)
        previous[code] = before
        finish[code] = step.promised_working_days + (finish[before] if before else 0)
        legal[code] = step.legal_working_days + max((legal[c] for c in step.waits_for),
                                                    default=0)
        step.finish_day = finish[code]
    path: list[str] = []
    end = max(order, key=lambda c: finish[c], default=None)
    while end is not None:
        path.insert(0, end)
        end = previous[end]
    # A matter handled jointly (联合办理) is a step for each of its departments: the same
    # slice, the same place in the plan, a task and a decision each.
    all_steps: list[Step] = []
    for matter in matters:
        step = steps[matter.code]
        all_steps.append(step)
        for department in matter.joint_departments:
            # What the matter yields is entered by its own department alone.
            all_steps.append(dataclasses.replace(step, department=department,
                                                 waits_for=list(step.waits_for),
                                                 produces=[]))
    slices: dict[str, Slice] = {}
    for step in all_steps:
        slices.setdefault(step.department, Slice()).add(step.slice)
    return RoutingPlan(
        lead_department=bundle.data["lead_department"],
        steps=all_steps,
        slices=slices,
        critical_path=path,
        critical_path_days=max(finish.values(), default=0),
        legal_critical_path_days=max(legal.values(), default=0),
        serial_days=sum(step.promised_working_days for step in steps.values()),
        order=order,
    )


def nearest_waits(code: str, edges: dict, present: set[str]) -> list[str]:
    """The applying matters a matter waits for: through one that does not apply, what
    that one waited for (the construction permit waits for the planning permit through a
    design review the answers left out)."""
    found: list[str] = []
    seen: set[str] = set()
    pending = list(edges.get(code, {}))
    while pending:
        before = pending.pop(0)
        if before in seen or before == code:
            continue
        seen.add(before)
        if before in present:
            found.append(before)
        else:
            pending.extend(edges.get(before, {}))
    return found


def topological_order(bundle, steps: dict[str, Step],
                      edges: dict[str, dict[str, tuple[str, str]]] | None = None) -> list[str]:
    """Order the steps so each comes after those it waits for; a cycle is a CompositionError.

    The error points at each edge of the cycle where it was written (`Bundle.waits`).
    """
    edges = edges if edges is not None else bundle.waits()
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(code: str, trail: list[str]) -> None:
        if state.get(code) == "done":
            return
        if state.get(code) == "active":
            cycle = [*trail[trail.index(code):], code]
            raise CompositionError(
                "after",
                Text("the after edges form a cycle: {cycle}", cycle=" → ".join(cycle)),
                [Site(c, *edges[c].get(after, (bundle.path, "/after")))
                 for c, after in itertools.pairwise(cycle)],
            )
        state[code] = "active"
        for before in steps[code].waits_for:
            visit(before, [*trail, code])
        state[code] = "done"
        order.append(code)

    for code in steps:
        visit(code, [])
    return order
