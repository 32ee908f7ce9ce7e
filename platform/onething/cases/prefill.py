"""Prefilling the one form (智能预填) from the licence registry and the applicant's earlier
cases, each value with its source; values of a trust-A licence are locked.

Who may see what, in an anonymous flow (no signed-in identity yet):

- The registry: anyone can type any credit code. So a code alone prefills only the
  items the law publishes anyway (an enterprise's business licence: 企业信息公示暂行条例,
  the same items the national enterprise credit system shows), once the applicant asks
  for it. A personal licence (an ID card) never prefills: typing someone's ID number must
  reveal nothing about them.
- The signed-in applicant (统一身份认证): when their verified ID number is the one the
  enterprise's business licence registration names for its legal representative, the
  enterprise's other licences prefill too (the title to its premises, its food safety
  manager's assessment), and so do their own verified ID number and mobile, and they are
  offered as the case's contact (editable).
- Earlier cases: their answers hold personal data (mobiles, names of staff). They are
  offered only from a case whose secret access code the applicant holds (this
  browser kept it from the receipt, or they paste the receipt's link), whose holder
  code is the one this form names, and only when the applicant chooses "use my earlier
  answers". A signed-in, verified identity (OIDC) would replace the access code.

A locked value (`locked`) is kept by the server whatever a post says: it is the
authority's (trust A). Other prefilled values are suggestions the applicant may edit.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import urllib.parse

from flask import g

from onething.cases.forms import fields_of, get_path, set_path
from onething.catalog.licences import HOLDER_USCC, LICENCE_TYPES
from onething.catalog.workdays import china_today
from onething.registry.service import FOUND, holder_of, lookup, represents

TRACKING_NUMBER = re.compile(r"OT\d{8}-[0-9A-HJKMNP-TV-Z]{6}")


def prefill_of(path: str) -> dict | None:
    """The prefill record of a field of the draft being shown (template helper)."""
    return (g.get("prefill") or {}).get(path)


def fillable_paths(composition) -> set[str]:
    """The fields of the one form an applicant types (not those another matter yields)."""
    paths: set[str] = set()

    def walk(entries):
        for entry in entries:
            if entry.get("required") == "produced" or entry.get("widget") == "rows":
                continue  # handed over; or a repeating group, whose rows are not filled
            if entry.get("children"):
                walk(entry["children"])
            else:
                paths.add(entry["path"])

    walk(fields_of(composition.layout))
    return paths


# What the signed-in legal representative's verified identity fills, and from which of
# its values: their own mobile for the representative's, and themselves as the contact
# (an applicant applying for their own enterprise is whom the departments call).
IDENTITY_FIELDS = {"legal_representative.id_number": "id_number",
                   "legal_representative.mobile": "mobile",
                   "contact_name": "name", "contact_mobile": "mobile"}


def from_registry(session, provider, composition, data: dict, prefill: dict,
                  today: dt.date | None = None, identity: dict | None = None
                  ) -> tuple[dict, dict, str]:
    """Fill the form from the holder's licences; (data, prefill, outcome), outcome
    "filled", "missing" (nothing in force for this holder) or "no_holder".

    A code alone fills the public items of an enterprise's licences. When `identity` (the
    signed-in applicant's verified name, ID number and mobile) is the enterprise's legal
    representative, its other licences' items fill too, and the identity's own values.
    """
    paths = fillable_paths(composition)
    data, prefill = copy.deepcopy(data), _of_this_holder(prefill, data)
    outcome = "no_holder"
    today = today or china_today()
    trusted = False  # the signed-in person represents the holder
    for kind in LICENCE_TYPES.values():
        if kind.holder != HOLDER_USCC or not any(item.field in paths for item in kind.items):
            continue
        holder = holder_of(kind.code, data)
        if holder is None or not (trusted or any(item.public and item.field in paths
                                                 for item in kind.items)):
            continue  # nothing of it may be shown: not even asked for
        found = lookup(provider, holder, kind.code, today)
        if found.state != FOUND:
            outcome = "missing" if outcome != "filled" else outcome
            continue
        outcome = "filled"
        record = found.record
        if kind.code == "business-licence":  # first: the others may depend on it
            trusted = represents(identity, record)
        shown = [item for item in kind.items
                 if item.field in paths and (item.public or trusted)]
        for item in shown:
            value = record.data.get(item.key)
            if value in (None, "") or (item.field in prefill and
                                       prefill[item.field].get("source") != "case"):
                continue  # an earlier licence type filled it already
            set_path(data, item.field, value)
            prefill[item.field] = {
                "source": record.source, "licence": kind.code, "number": record.number,
                "trust": record.trust, "locked": item.locked and record.trust == "A",
                "value": value}
        if not shown:
            continue
        for key in kind.holder_fields:
            if key in paths and get_path(data, key) and not (prefill.get(key) or {}).get(
                    "holder"):
                # Named once, after the first licence found with it (the business licence).
                # The code the licence was found with: changing it would orphan the rest.
                prefill[key] = {"source": record.source, "licence": kind.code,
                                "number": record.number, "trust": record.trust,
                                "locked": record.trust == "A", "value": get_path(data, key),
                                "holder": True}
    if trusted:
        for path, claim in IDENTITY_FIELDS.items():
            value = identity.get(claim)
            if not value or path not in paths or (path in prefill and
                                                  prefill[path].get("source") != "case"):
                continue
            set_path(data, path, value)
            prefill[path] = {"source": "identity", "trust": "A", "locked": False,
                             "value": value}
    return data, prefill, outcome


def _of_this_holder(prefill: dict, data: dict) -> dict:
    """The prefill entries that still speak for the holder the form now names.

    An applicant may change a credit code a licence filled when it was not locked (not
    trust A): the other entries were then another holder's, and asking again fills the
    form anew for this one (the values stay until then; only their sources go). Their own
    identity's stay.
    """
    if not any(record.get("holder") and get_path(data, path) != record.get("value")
               for path, record in prefill.items()):
        return dict(prefill)
    return {path: record for path, record in prefill.items()
            if record.get("source") == "identity"}


def parse_receipt_link(text: str) -> tuple[str, str] | None:
    """The tracking number and access code in a pasted receipt link, or None."""
    text = (text or "").strip()
    found = TRACKING_NUMBER.search(text.upper())
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(text).query).get("token")
    if found is None or not token:
        return None
    return found.group(0), token[0]


def same_holder(submission, data: dict) -> bool:
    """Whether an earlier case is of the holder this form names (credit code or ID)."""
    for key in ("entity_uscc", "applicant_id_number"):
        mine = (data.get(key) or "").strip().upper()
        theirs = (submission.data.get(key) or "")
        if mine and isinstance(theirs, str) and theirs.strip().upper() == mine:
            return True
    return False


def from_case(composition, data: dict, prefill: dict, entries: dict, submission
              ) -> tuple[dict, dict, dict, int]:
    """Fill what the earlier case answered and this form asks, and reuse its uploads;
    locked values stay. Returns (data, prefill, material entries, how many filled)."""
    data = copy.deepcopy(data)
    data.setdefault("matters", {})
    prefill, entries = dict(prefill), dict(entries)
    filled = 0
    earlier = submission.data or {}
    for path in sorted(fillable_paths(composition)):
        if (prefill.get(path) or {}).get("locked"):
            continue
        value = get_path(earlier, path)
        if path.startswith("matters.") and value is None:
            continue
        if value in (None, "", []) or get_path(data, path) not in (None, "", []):
            continue
        set_path(data, path, value)
        prefill[path] = {"source": "case", "case": submission.tracking_number, "trust": "D",
                         "locked": False, "value": value}
        filled += 1
    if not data["matters"]:
        data.pop("matters")
    for material in composition.materials_for({**data, "answers": composition.answers}):
        old = (submission.materials or {}).get(material.id)
        if material.id in entries or not isinstance(old, dict) or old.get("state") != "uploaded":
            continue
        entries[material.id] = {**old, "reused_from": submission.tracking_number}
        filled += 1
    return data, prefill, entries, filled


def enforce_locks(data: dict, prefill: dict) -> tuple[dict, list[str]]:
    """The posted data with every locked value put back; the paths a post tried to change."""
    tampered = []
    for path, record in prefill.items():
        if record.get("locked") and get_path(data, path) != record.get("value"):
            tampered.append(path)
            set_path(data, path, record["value"])
    return data, tampered


def source_text(record: dict) -> str:
    """Where a prefilled value came from, localized (shown under the field)."""
    from flask_babel import gettext as _

    from onething.cases.shared import source_name, trust_name, type_name

    if record.get("source") == "case":
        return _("From your earlier case %(number)s; check it is still right.",
                 number=record.get("case", ""))
    if record.get("source") == "identity":
        return _("From your verified identity (you are signed in); change it if it differs.")
    where = _("%(licence)s %(number)s, %(source)s", licence=type_name(record.get("licence")),
              number=record.get("number", ""), source=source_name(record.get("source")))
    if record.get("locked"):
        return _("From %(where)s (%(trust)s): cannot be changed here.", where=where,
                 trust=trust_name(record.get("trust")))
    return _("From %(where)s; change it if it differs.", where=where)


def notice_text(notice: tuple) -> str:
    """What prefilling did, localized."""
    from flask_babel import gettext as _

    kind, values = notice
    return {
        "registry_filled": _("Filled in from your business licence. Check the other fields."),
        "registry_missing": _("The electronic licence registry holds no business licence in "
                              "force for this credit code. Check it, or type the fields."),
        "registry_no_holder": _("Type your unified social credit code first."),
        "cleared": _("The prefilled values are yours to edit now."),
        "case_not_found": _("No earlier case matches this link. Copy the whole link of your "
                            "receipt, with its access code."),
        "case_other_holder": _("That case is of another credit code or ID number than this "
                               "form's, so its answers are not used."),
    }.get(kind) or _("%(n)s fields and materials filled in from case %(tracking_number)s. "
                     "Check them.", **values)
