"""Savings: the before/after figures that reformed service halls publish.

Before, an applicant filled one form per matter, handed every matter its own
materials, went to each window, and waited for approvals one after another.
After, there is one form, one deduplicated set of materials (minus what shared
data supplies), one window and parallel approvals.
"""

from __future__ import annotations

from dataclasses import dataclass

from onething.composer.scenario import holds


@dataclass(frozen=True)
class Figure:
    """One before/after pair."""

    before: int
    after: int

    @property
    def saved(self) -> int:
        """How much less the applicant has to do."""
        return self.before - self.after

    @property
    def percent(self) -> int:
        """The saving as a whole percentage of the before figure."""
        return round(100 * self.saved / self.before) if self.before else 0

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {"before": self.before, "after": self.after, "saved": self.saved,
                "percent": self.percent}


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


def compute_savings(matters, uses, materials, plan, answers) -> Savings:
    """Compare applying matter by matter with applying once for the bundle."""
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
