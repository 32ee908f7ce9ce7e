"""Commitment letters (告知承诺书) generated from the matters' own texts: one per bundle.

Under 国办发〔2020〕42号 the department tells the applicant in writing what the
replaced proof had to show and the liability for a false commitment; the
applicant commits in writing. The letter therefore quotes, for every matter
that needs the material, its acceptance conditions (受理条件) and legal basis.

一书承诺: however many commitments a bundle asks for (a material that is itself a
commitment letter, such as the fire check's, or a proof the applicant chose to replace
by a commitment), the applicant reads and signs ONE letter, each part headed by its
department and matter. The text signed, the signer's name and the time are kept on
every material it covers, so what was committed to stays known; a letter whose parts
changed after signing is not signed any more.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from flask_babel import gettext as _

from onething.web.i18n import department_name, localized

# The longest signer's name kept (names of people and their titles, not essays).
SIGNER_MAX = 50


def covered_materials(composition, data: dict, entries: dict) -> list:
    """The needed materials the one letter covers: letters not handed in on paper, and
    proofs the applicant chose to replace by a commitment."""
    covered = []
    for material in composition.materials_for(data):
        if not material.upload:
            continue
        entry = entries.get(material.id)
        state = entry.get("state") if isinstance(entry, dict) else None
        if (material.letter and state != "uploaded") or (
                material.commitment and state == "commitment"):
            covered.append(material)
    return covered


def bundle_letter(composition, materials: list) -> dict:
    """The one letter for a bundle: a part per material and matter, and one promise."""
    catalog = composition.bundle.catalog
    parts = []
    for material in materials:
        for code in material.matters:
            matter = catalog.matters[code]
            notes = material.definition.get("notes")
            parts.append({
                "material": material.id,
                "heading": f"{department_name(matter.department, catalog)} · "
                           f"{localized(matter.name)}",
                "name": localized(material.name),
                "notes": localized(notes) if notes else "",
                "conditions": [localized(text) for text in matter.data.get("conditions", [])],
                "basis": [localized(item["name"]) + (f" {localized(item['article'])}"
                                                     if item.get("article") else "")
                          for item in matter.data.get("legal_basis", [])],
            })
    return {
        "title": _("Notification and commitment letter (告知承诺书): %(name)s",
                   name=localized(composition.bundle.name)),
        "parts": parts,
        "promise": _(
            "I have read what each department above requires. I commit that the facts "
            "committed to above are true and meet those conditions, and I accept that a false "
            "commitment leads to the approvals concerned being revoked and the breach being "
            "recorded in my credit record."),
    }


def letter_text(letter: dict) -> str:
    """The letter as plain text, as signed."""
    lines = [letter["title"]]
    for number, part in enumerate(letter["parts"], 1):
        lines.append(f"{number}. {part['heading']}: {part['name']}")
        if part["notes"]:
            lines.append(f"   {part['notes']}")
        lines += [f"   - {condition}" for condition in part["conditions"]]
        if part["basis"]:
            lines.append("   " + "；".join(part["basis"]))
    lines.append(letter["promise"])
    return "\n".join(lines)


def letter_digest(text: str) -> str:
    """A short fingerprint of a letter's text: signing names the text that was shown."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def signature(composition, data: dict, entries: dict) -> dict | None:
    """The signature that covers exactly today's letter, or None (unsigned, or signed
    before its parts changed)."""
    covered = {m.id for m in covered_materials(composition, data, entries)}
    if not covered:
        return None
    signed = [entries.get(mid) for mid in covered]
    if not all(isinstance(e, dict) and e.get("signer") for e in signed):
        return None
    first = signed[0]
    if any(e.get("signed_at") != first["signed_at"] or set(e.get("covers") or ()) != covered
           for e in signed):
        return None
    return {"signer": first["signer"], "signed_at": first["signed_at"],
            "letter": first.get("letter", "")}


def sign(composition, data: dict, entries: dict, signer: str, now: dt.datetime) -> dict:
    """The draft's material entries with the one letter signed by `signer` over every
    material it covers."""
    covered = covered_materials(composition, data, entries)
    text = letter_text(bundle_letter(composition, covered))
    ids = sorted(m.id for m in covered)
    signed = dict(entries)
    for material in covered:
        signed[material.id] = {"state": "commitment", "signer": signer,
                               "signed_at": now.isoformat(timespec="seconds"),
                               "letter": text, "covers": ids}
    return signed


def withdraw(composition, entries: dict) -> dict:
    """The entries with the signature undone: a chosen commitment stays chosen, unsigned."""
    by_id = {m.id: m for m in composition.materials}
    kept = {}
    for mid, entry in entries.items():
        if isinstance(entry, dict) and entry.get("state") == "commitment":
            material = by_id.get(mid)
            if material is not None and material.commitment and not material.letter:
                kept[mid] = {"state": "commitment"}
            continue  # a letter material is simply not signed any more
        kept[mid] = entry
    return kept
