"""Savings: the before/after figures that reformed service halls publish.

Before, an applicant filled one form per matter, handed every matter its own
materials, went to each window, and waited for approvals one after another.
After, there is one form, one deduplicated set of materials (minus what shared
data supplies), one window and parallel approvals. Materials count what the applicant
supplies: an application form the platform generates from the one form is a form (it is
counted among the forms before), not a material, before as after.

Days before are each matter's own promised limit, one after another; after, the
bundle's committed limit (联办承诺时限) or the critical path of parallel approvals,
whichever is shorter. Where the bundle declares a joint inspection (一同核查), each
inspected matter would have had its own inspection visit; together they are one.
"""

from __future__ import annotations

from dataclasses import dataclass

from onething.catalog.workdays import working_equivalent
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
    def ranged(self) -> bool:
        """Whether the figure depends on the applicant's situation."""
        return (self.before_low not in (None, self.before)
                or self.after_low not in (None, self.after))

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


def compute_savings(matters, uses, materials, plan, answers, general=None, *,
                    promised: int | None = None, inspected: frozenset | set = frozenset()
                    ) -> Savings:
    """Compare applying matter by matter with applying once for the bundle.

    With answers, for that applicant. Without, `general` is (questionnaire, each
    matter's condition): every situation an applicant can be in counts only the
    matters that apply in it, so alternatives (registering a business or verifying its
    licence) are never added together, and each figure is the range from the lightest
    situation to the heaviest.
    """
    if answers is None and general is not None:
        ranged = _over_situations(matters, uses, materials, plan, *general,
                                  promised=promised, inspected=inspected)
        if ranged is not None:
            return ranged

    def applies(material: dict) -> bool:
        return not material.get("generated") and (
            answers is None or holds(material.get("when"), answers))

    materials_before = sum(1 for m in matters for material in m.materials if applies(material))
    return Savings(
        forms=Figure(len(matters), 1 if matters else 0),
        fields=Figure(sum(m.field_count() for m in matters), len(uses)),
        materials=Figure(materials_before, sum(1 for m in materials if _handed_over(m))),
        # One window receives everything in one visit; a matter that itself needs more
        # visits (an on-site interview, say) still needs them.
        visits=Figure(sum(m.visits for m in matters) + sum(m.code in inspected for m in matters),
                      max((m.visits for m in matters), default=0)
                      + any(m.code in inspected for m in matters)),
        days=Figure(plan.serial_days, _committed(plan.critical_path_days, promised)),
        departments=len(plan.departments),
    )


def _handed_over(material) -> bool:
    # Counted as handed over: what the applicant uploads, and what the registry supplies
    # only when it holds it (a title to the premises, where many trade under a lease); a
    # published saving must hold for every applicant. An application form the platform
    # generates from the one form is never handed over.
    return material.upload or (material.source != "government" and not material.generated)


def _committed(critical: int, promised: int | None) -> int:
    # The bundle's own promise binds when shorter than its parallel approvals take.
    return critical if promised is None else min(critical, promised)


_NOTHING = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def _together(a: tuple, b: tuple) -> tuple:
    # Matters, forms, own fields, visits, days, max visits, fields, departments,
    # materials, uploads: sets are bits joined, counts are added, the most visits is kept.
    return (a[0] | b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3], a[4] + b[4],
            a[5] if a[5] > b[5] else b[5], a[6] | b[6], a[7] | b[7], a[8] + b[8], a[9] | b[9])


# Past this many distinct sets of matters, the time limit's range is read from the
# lightest and the heaviest of them only (adding matters never shortens a critical path).
CRITICAL_PATHS_TRIED = 64


def _members(bits: int, matters) -> set[str]:
    # The codes of the matters whose bits are set, visiting the set bits only.
    codes = set()
    while bits:
        low = bits & -bits
        codes.add(matters[low.bit_length() - 1].code)
        bits ^= low
    return codes


def _over_situations(matters, uses, materials, plan, questions, conditions, *,
                     promised: int | None = None,
                     inspected: frozenset | set = frozenset()) -> Savings | None:
    # A generated application form is counted among the forms, never the materials.
    pairs = [(m, material) for m in matters for material in m.materials
             if not material.get("generated")]
    found = situations(questions, [conditions.get(m.code) for m in matters] + [
        all_of([conditions.get(m.code), material.get("when")]) for m, material in pairs])
    if found is None:
        return None
    # Everything a condition brings, summed or as bitsets, so that a situation is read
    # condition by condition: which matters (as bits), how many forms, fields, materials,
    # visits and days, which fields, uploads and departments (as bits).
    fields_of: dict[str, int] = {}
    for bit, field_uses in enumerate(uses.values()):
        for use in field_uses:
            fields_of[use.matter.code] = fields_of.get(use.matter.code, 0) | 1 << bit
    uploaded = {m.id: bit for bit, m in enumerate(m for m in materials if _handed_over(m))}
    departments = {d: bit for bit, d in enumerate(dict.fromkeys(m.department for m in matters))}
    brings: dict[int, list | tuple] = {}
    count = len(matters)
    for index, need in enumerate(found.needs):
        # [matters, forms, own fields, visits, days, max visits, fields, departments,
        #  materials, uploads]
        got = brings.setdefault(need, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        if index < count:
            matter = matters[index]
            got[0] |= 1 << index
            got[1] += 1
            got[2] += matter.field_count()
            # Applying separately, an inspected matter's inspection is a visit of its own.
            got[3] += matter.visits + (matter.code in inspected)
            got[4] += working_equivalent(matter.promised_days, matter.counting)
            got[5] = max(got[5], matter.visits)
            got[6] |= fields_of.get(matter.code, 0)
            got[7] |= 1 << departments[matter.department]
        else:
            _, material = pairs[index - count]
            got[8] += 1
            if material["id"] in uploaded:
                got[9] |= 1 << uploaded[material["id"]]
    brings = {need: tuple(got) for need, got in brings.items()}
    inspected_bits = sum(1 << index for index, m in enumerate(matters) if m.code in inspected)
    forms, fields, handed, visits, befores = [], [], [], [], []
    present_sets: dict[int, int] = {}
    most_departments = 0
    # What every subset of 8 conditions brings, worked out once per chunk of 8 (each
    # subset from a smaller one): a situation then takes one entry per chunk, instead of
    # testing each condition.
    width = 8
    size = max(brings, default=-1) + 1
    chunks = []
    for start in range(0, size, width):
        table = [_NOTHING] * (1 << min(width, size - start))
        for mask in range(1, len(table)):
            low = mask & -mask
            table[mask] = _together(table[mask ^ low],
                                    brings.get(start + low.bit_length() - 1, _NOTHING))
        chunks.append((start, len(table) - 1, table))
    combined = set()
    if len(chunks) == 2:  # the common case, spelled out: a third of the time
        (_, low_mask, low_table), (high_start, high_mask, high_table) = chunks
        for outcome in found.outcomes:
            combined.add(_together(low_table[outcome & low_mask],
                                   high_table[outcome >> high_start & high_mask]))
    else:
        for outcome in found.outcomes:
            got = _NOTHING
            for start, mask, table in chunks:
                got = _together(got, table[outcome >> start & mask])
            combined.add(got)
    # Situations bringing the same things count once.
    for bits, forms_n, own, trips, days_n, most, paths, offices, handed_n, ups in combined:
        forms.append((forms_n, 1 if forms_n else 0))
        fields.append((own, paths.bit_count()))
        handed.append((handed_n, ups.bit_count()))
        visits.append((trips, most + (1 if bits & inspected_bits else 0)))
        befores.append(days_n)
        present_sets[bits] = forms_n
        most_departments = max(most_departments, offices.bit_count())
    chosen = sorted(present_sets, key=lambda bits: present_sets[bits])
    if len(chosen) > CRITICAL_PATHS_TRIED:
        half = CRITICAL_PATHS_TRIED // 2
        chosen = chosen[:half] + chosen[-half:]
    afters = [_committed(plan.critical_days(_members(bits, matters)), promised)
              for bits in chosen]
    if not befores:
        return None
    days = Figure(max(befores), max(afters), min(befores), min(afters))
    return Savings(forms=_figure(forms), fields=_figure(fields), materials=_figure(handed),
                   visits=_figure(visits), days=days, departments=most_departments)
