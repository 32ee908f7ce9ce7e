"""Savings: the before/after figures that reformed service halls publish.

Before, an applicant filled one form per matter, handed every matter its own
materials, went to each window, and waited for approvals one after another.
After, there is one form, one deduplicated set of materials (minus what shared
data supplies), one window and parallel approvals.
"""

from __future__ import annotations

from dataclasses import dataclass

from onething.composer.scenario import all_of, holds, situations


@dataclass(frozen=True)
class Figure:
    """One before/after pair; over every situation, from its lowest to its highest."""

    before: int
    after: int
    before_low: int | None = None
    after_low: int | None = None

    @property
    def saved(self) -> int:
        """How much less the applicant has to do."""
        return self.before - self.after

    @property
    def percent(self) -> int:
        """The saving as a whole percentage of the before figure."""
        return round(100 * self.saved / self.before) if self.before else 0

    @property
    def before_text(self) -> str:
        """The before figure as shown: "3–5" when it depends on the situation."""
        return _span(self.before_low, self.before)

    @property
    def after_text(self) -> str:
        """The after figure as shown."""
        return _span(self.after_low, self.after)

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {"before": self.before, "after": self.after, "saved": self.saved,
                "percent": self.percent,
                "before_low": self.before if self.before_low is None else self.before_low,
                "after_low": self.after if self.after_low is None else self.after_low}


def _span(low: int | None, high: int) -> str:
    return str(high) if low is None or low == high else f"{low}–{high}"


def _figure(pairs: list[tuple[int, int]]) -> Figure:
    """The range of before/after pairs over situations."""
    befores = [before for before, _ in pairs]
    afters = [after for _, after in pairs]
    return Figure(max(befores), max(afters), min(befores), min(afters))


@dataclass(frozen=True)
class Savings:
    """Forms, fields, materials, visits, days and departments, before and after."""

    forms: Figure
    fields: Figure
    materials: Figure
    visits: Figure
    days: Figure
    departments: int

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {
            "forms": self.forms.as_dict(),
            "fields": self.fields.as_dict(),
            "materials": self.materials.as_dict(),
            "visits": self.visits.as_dict(),
            "days": self.days.as_dict(),
            "departments": self.departments,
        }


def compute_savings(matters, uses, materials, plan, answers, general=None) -> Savings:
    """Compare applying matter by matter with applying once for the bundle.

    With answers, for that applicant. Without, `general` is (questionnaire, each
    matter's condition): every situation an applicant can be in counts only the
    matters that apply in it, so alternatives (registering a business or verifying its
    licence) are never added together, and each figure is the range from the lightest
    situation to the heaviest.
    """
    if answers is None and general is not None:
        ranged = _over_situations(matters, uses, materials, plan, *general)
        if ranged is not None:
            return ranged

    def applies(material: dict) -> bool:
        return answers is None or holds(material.get("when"), answers)

    materials_before = sum(1 for m in matters for material in m.materials if applies(material))
    return Savings(
        forms=Figure(len(matters), 1 if matters else 0),
        fields=Figure(sum(m.field_count() for m in matters), len(uses)),
        materials=Figure(materials_before, sum(1 for m in materials if m.upload)),
        # One window receives everything in one visit; a matter that itself needs more
        # visits (an on-site interview, say) still needs them.
        visits=Figure(sum(m.visits for m in matters), max((m.visits for m in matters), default=0)),
        days=Figure(plan.serial_days, plan.critical_path_days),
        departments=len(plan.departments),
    )


def _over_situations(matters, uses, materials, plan, questions, conditions) -> Savings | None:
    pairs = [(m, material) for m in matters for material in m.materials]
    found = situations(questions, [conditions.get(m.code) for m in matters] + [
        all_of([conditions.get(m.code), material.get("when")]) for m, material in pairs])
    if found is None:
        return None
    uploaded = {m.id for m in materials if m.upload}
    fields_of = [{path for path, field_uses in uses.items()
                  if any(u.matter.code == m.code for u in field_uses)} for m in matters]
    forms, fields, handed, visits, days = [], [], [], [], []
    departments = 0
    count = len(matters)
    seen: set[tuple] = set()
    # Matters and materials grouped by the condition they need: a situation is read
    # condition by condition, not item by item.
    by_need: dict[int, tuple[list[int], list[int]]] = {}
    for index, need in enumerate(found.needs):
        group = by_need.setdefault(need, ([], []))
        group[0 if index < count else 1].append(index if index < count else index - count)
    for outcome in found.outcomes:
        present: list[int] = []
        given: list[int] = []
        for need, (held, handed_in) in by_need.items():
            if outcome >> need & 1:
                present += held
                given += handed_in
        handed.append((len(given), len({pairs[j][1]["id"] for j in given} & uploaded)))
        key = tuple(sorted(present))
        if key in seen:  # the same matters with other materials
            continue
        seen.add(key)
        chosen = [matters[i] for i in key]
        forms.append((len(chosen), 1 if chosen else 0))
        fields.append((sum(m.field_count() for m in chosen),
                       len(set().union(*(fields_of[i] for i in key)))))
        visits.append((sum(m.visits for m in chosen), max((m.visits for m in chosen), default=0)))
        days.append((sum(m.promised_days for m in chosen),
                     plan.critical_days({m.code for m in chosen})))
        departments = max(departments, len({m.department for m in chosen}))
    return Savings(forms=_figure(forms), fields=_figure(fields), materials=_figure(handed),
                   visits=_figure(visits), days=_figure(days), departments=departments)
