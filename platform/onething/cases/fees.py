"""What an application owes: each matter's computed fees, in words and in yuan, and a
total per department.

The formulas (catalog.fees) compute from each matter's own values, its slice: a quantity
the matter counts in another unit than the one form arrives converted, as its department
receives it. Nothing is stored: the amounts follow from the submission and the version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _

from onething.catalog.fees import (
    ComputedFee,
    Formula,
    computed_fees,
    field_schema,
    parse_formula,
    yuan_text,
)
from onething.catalog.units import unit_name
from onething.web.i18n import join_list, localized


@dataclass
class DepartmentFees:
    """The computed fees one department collects for an application, and their total."""

    department: str
    fees: list[ComputedFee] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        """The sum of the amounts known so far."""
        return sum((fee.amount.yuan for fee in self.fees if fee.amount.known), Decimal("0.00"))

    @property
    def pending(self) -> int:
        """How many of its fees cannot be computed yet."""
        return sum(1 for fee in self.fees if not fee.amount.known)


def fees_due(composition, data: dict) -> list[DepartmentFees]:
    """The computed fees of the matters that apply, by the department handling each."""
    found: dict[str, DepartmentFees] = {}
    for matter in composition.matters:
        fees = computed_fees(matter, composition.matter_values(data, matter.code))
        if fees:
            found.setdefault(matter.department, DepartmentFees(matter.department)).fees += fees
    order = composition.plan.departments
    return sorted(found.values(), key=lambda due: order.index(due.department)
                  if due.department in order else len(order))


def task_fees(composition, task) -> list[ComputedFee]:
    """The computed fees of a task's matter, from the slice its department received."""
    matter = composition.bundle.catalog.matters.get(task.matter_code)
    # A joint department (联合办理) decides on the matter; its own department collects the fee.
    if matter is None or matter.department != task.department_code:
        return []
    return computed_fees(matter, composition.matter_view(task.slice_data or {}, matter.code))


def money(amount: Decimal) -> str:
    """An amount as the bill says it: 12,345.60 元."""
    return _("%(amount)s yuan", amount=yuan_text(amount))


def field_name(matter, key: str, with_unit: bool = False) -> str:
    """A field of a matter's form by its title; `with_unit` names the unit the matter
    counts it in where that is not the one form's (its formulas compute in that unit)."""
    schema = field_schema(matter, key) or {}
    title = localized(schema.get("title", key))
    use = matter.form.get("properties", {}).get(key) or {}
    library = matter.catalog.field_for_ref(use.get("$ref"))
    unit = use.get("x-unit")
    if with_unit and unit and library is not None and library.data.get("x-unit") != unit:
        return _("%(title)s, in %(unit)s", title=title, unit=localized(unit_name(unit)))
    return title


def _call_words(name: str, arguments: list[str]) -> str:
    # Each call in parentheses of its own: it may stand inside a product.
    if name == "round":
        value, digits = arguments
        return "(" + _("%(value)s rounded to %(digits)s decimals", value=value,
                       digits=digits) + ")"
    words = {"min": _("the smallest of %(values)s"), "max": _("the largest of %(values)s")}
    return "(" + words[name] % {"values": join_list(arguments)} + ")"


def formula_words(matter, formula: Formula) -> str:
    """A fee formula for people: 申请用海面积（公顷） × 申请用海期限（年） × 7500 元."""
    words = formula.words(lambda key: field_name(matter, key, with_unit=True), _call_words)
    return _("%(formula)s yuan", formula=words)


def fee_formula_text(matter, item: dict) -> str | None:
    """The formula of a fee item in words, or None for a fee without one."""
    try:
        return formula_words(matter, parse_formula(item["amount"])) if "amount" in item \
            else None
    except ValueError:
        return None


def amount_text(fee: ComputedFee) -> str:
    """A computed fee's amount, or why it is not known yet."""
    if fee.amount.known:
        return money(fee.amount.yuan)
    if fee.amount.missing:
        names = join_list(field_name(fee.matter, key) for key in fee.amount.missing)
        return _("computed once %(fields)s is entered", fields=names)
    return _("cannot be computed from the values entered")
