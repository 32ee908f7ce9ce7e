"""Commitment letters (告知承诺书) generated from the matters' own texts.

Under 国办发〔2020〕42号 the department tells the applicant in writing what the
replaced proof had to show and the liability for a false commitment; the
applicant commits in writing. The letter therefore quotes, for every matter
that needs the material, its acceptance conditions (受理条件) and legal basis.
The text signed is kept with the draft, so what was committed to stays known.
"""

from __future__ import annotations

from flask_babel import gettext as _

from onething.web.i18n import localized


def commitment_letter(composition, material) -> dict:
    """The letter for one material: its title, the matters' conditions and the promise."""
    catalog = composition.bundle.catalog
    matters = []
    for code in material.matters:
        matter = catalog.matters[code]
        matters.append({
            "name": localized(matter.name),
            "conditions": [localized(text) for text in matter.data.get("conditions", [])],
            "basis": [localized(item["name"]) + (f" {localized(item['article'])}"
                                                 if item.get("article") else "")
                      for item in matter.data.get("legal_basis", [])],
        })
    name = localized(material.name)
    return {
        "title": _("Commitment letter replacing: %(name)s", name=name),
        "matters": matters,
        "promise": _(
            "I commit that what %(name)s would prove is true and meets the conditions above, "
            "and I accept that a false commitment leads to the approval being revoked and the "
            "breach being recorded in my credit record.", name=name),
    }


def letter_text(letter: dict) -> str:
    """The letter as plain text, as signed."""
    lines = [letter["title"]]
    for matter in letter["matters"]:
        lines.append(matter["name"])
        lines += [f"- {condition}" for condition in matter["conditions"]]
        if matter["basis"]:
            lines.append("  " + "；".join(matter["basis"]))
    lines.append(letter["promise"])
    return "\n".join(lines)
