"""One set of materials (一套材料): every matter's materials, each document asked for once.

Materials with the same id are the same document. Merging takes the strictest
view of what the applicant must hand over: required beats deferrable (容缺后补)
beats optional; a commitment (告知承诺) replaces the document only if every
matter allows it; shared data (电子证照) supplies it if any matter says so,
because State Council order 716 forbids asking again for what can be shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onething.composer.scenario import all_of, any_of, holds

NECESSITY_ORDER = {"optional": 0, "deferrable": 1, "required": 2}


@dataclass
class MergedMaterial:
    """One document of the bundle's set of materials, with who needs it."""

    id: str
    name: Any
    type: str
    medium: str
    copies: int
    necessity: str
    commitment: bool
    shared_data: bool
    source: str
    definition: dict
    matters: list[str] = field(default_factory=list)
    departments: list[str] = field(default_factory=list)
    pointers: dict[str, str] = field(default_factory=dict)
    condition: Any = None
    # What each department takes: "paper" (the original), "electronic" (a scan) or
    # "either". The window keeps the original for those who want it, and scans it for
    # the others.
    media: dict[str, str] = field(default_factory=dict)
    # matter -> what its form's values must satisfy for the matter to want it (when_form);
    # None: the matter wants it whatever is entered.
    form_conditions: dict[str, Any] = field(default_factory=dict)
    # The electronic licence type the registry is asked for (电子证照), if a matter names one.
    licence_code: str | None = None
    # It is itself a commitment letter (告知承诺书): signed online in the bundle's one
    # letter (一书承诺) rather than uploaded.
    letter: bool = False

    @property
    def depends_on_form(self) -> bool:
        """Whether what the applicant enters decides if it is needed at all."""
        return bool(self.form_conditions) and all(
            condition is not None for condition in self.form_conditions.values())

    def needed(self, values_of) -> bool:
        """Whether some matter wants it, given each matter's values (values_of(code))."""
        return any(condition is None or holds(condition, values_of(code))
                   for code, condition in self.form_conditions.items())

    @property
    def mixed(self) -> bool:
        """Whether some departments want the paper original and others a scan."""
        wants = set(self.media.values())
        return "paper" in wants and len(wants) > 1

    @property
    def notes(self) -> list:
        """What the applicant should know when preparing it (填报须知)."""
        return [self.definition["notes"]] if self.definition.get("notes") else []

    @property
    def upload(self) -> bool:
        """Whether the applicant hands it over (shared data supplies the rest)."""
        return not self.shared_data

    def as_dict(self) -> dict:
        """Plain JSON data."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "medium": self.medium,
            "copies": self.copies,
            "necessity": self.necessity,
            "deferrable": self.necessity == "deferrable",
            "commitment": self.commitment,
            **({"commitment_letter": True} if self.letter else {}),
            "shared_data": self.shared_data,
            **({"licence_code": self.licence_code} if self.licence_code else {}),
            "upload": self.upload,
            "source": self.source,
            "matters": self.matters,
            "departments": self.departments,
            "pointers": self.pointers,
            "media": self.media,
            "condition": self.condition,
            **({"form_conditions": self.form_conditions} if self.depends_on_form else {}),
        }


def _medium(current: str, new: str) -> str:
    # "either" yields to a stated form; paper plus electronic needs the paper original,
    # which the window scans for the departments that take electronic copies.
    if current == new or new == "either":
        return current
    if current == "either":
        return new
    return "paper"


def merge_materials(matters, conditions: dict, answers: dict | None) -> list:
    """Merge the applicable matters' materials into one deduplicated list."""
    merged: dict[str, MergedMaterial] = {}
    occurrence_conditions: dict[str, list] = {}
    for matter in matters:
        for index, material in enumerate(matter.materials):
            when = material.get("when")
            if answers is not None and not holds(when, answers):
                continue
            condition = all_of([conditions.get(matter.code), when])
            item = merged.get(material["id"])
            if item is None:
                item = merged[material["id"]] = MergedMaterial(
                    id=material["id"],
                    name=material["name"],
                    type=material["type"],
                    medium=material["medium"],
                    copies=material["copies"],
                    necessity=material["necessity"],
                    commitment=bool(material.get("commitment", False)),
                    shared_data=bool(material.get("shared_data", False)),
                    source=material["source"],
                    definition=material,
                    letter=bool(material.get("commitment_letter", False)),
                )
            else:
                item.medium = _medium(item.medium, material["medium"])
                item.copies = max(item.copies, material["copies"])
                if NECESSITY_ORDER[material["necessity"]] > NECESSITY_ORDER[item.necessity]:
                    item.necessity = material["necessity"]
                item.commitment = item.commitment and bool(material.get("commitment", False))
                item.shared_data = item.shared_data or bool(material.get("shared_data", False))
            if item.licence_code is None and material.get("shared_data"):
                item.licence_code = material.get("licence_code")
                item.letter = item.letter or bool(material.get("commitment_letter", False))
            if matter.code not in item.matters:
                item.matters.append(matter.code)
            if matter.department not in item.departments:
                item.departments.append(matter.department)
            # A department wanting the original for any of its matters gets the original.
            if item.media.get(matter.department) != "paper":
                item.media[matter.department] = material["medium"]
            item.pointers[matter.code] = f"{matter.path}#/materials/{index}"
            if item.form_conditions.get(matter.code, False) is not None:
                item.form_conditions[matter.code] = material.get("when_form")
            occurrence_conditions.setdefault(item.id, []).append(condition)
    for item in merged.values():
        item.condition = any_of(occurrence_conditions[item.id])
    return list(merged.values())
