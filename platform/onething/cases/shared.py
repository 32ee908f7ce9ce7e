"""Materials from shared data (电子证照): looked up for the applicant's holder code.

A material a matter marks `shared_data` with a `licence_code` is asked of the licence
registry for the holder the one form names (the credit code, or the ID number). What
the draft, and then each task's slice, records for it:

- `{"state": "shared", "licence": {...}, "trust": "A", "source": ...}`: found in force,
  attached with its source and trust level, nothing uploaded;
- `{"state": "in_case", "matter": code}`: the licence is issued by another matter of
  the same case (本次同步办理), so there is nothing to fetch yet;
- `{"state": "missing" | "expired" | "unavailable", ...}`: the applicant is told and
  asked to upload it instead (the upload then records trust C);
- `{"state": "private", ...}`: an enterprise's licence with no public item (a title to
  its premises) for someone who is not its legal representative, signed in: not looked
  up at all, so the page does not even tell whether it exists; uploaded instead.

Only the server writes these states: an applicant's post can upload, defer, commit or
clear, never claim a licence. Each lookup records when it was made (`looked_up_at`).
Submitting asks nothing over the network (a slow provincial platform must not hold a
submission's transaction): it asks the registry kept here again, and otherwise trusts
the lookup the materials page recorded if it is recent (LICENCE_LOOKUP_MAX_AGE); an
older one, or none, sends the applicant back to the materials page to look again.

A material without a licence type, or whose holder code the form does not carry, stays
as before: the department obtains it by sharing.
"""

from __future__ import annotations

import datetime as dt

from flask import current_app, has_app_context

from onething.catalog.licences import HOLDER_USCC, licence_type
from onething.catalog.workdays import china_today
from onething.registry.providers import (
    LicenceRecord,
    LocalRegistry,
    ProviderUnavailable,
    provider_for,
)
from onething.registry.service import (
    EXPIRED,
    FOUND,
    MISSING,
    UNAVAILABLE,
    holder_of,
    lookup,
    represents,
)

# Not looked up: the licence is not for the eyes of whoever typed its holder's code.
PRIVATE = "private"
LOOKUP_STATES = (MISSING, EXPIRED, UNAVAILABLE, PRIVATE)
SERVER_STATES = ("shared", "in_case", *LOOKUP_STATES)


def provider(session):
    """The licence provider this deployment is configured with."""
    return provider_for(current_app.config, session) if has_app_context() \
        else LocalRegistry(session)


def issued_in_case(composition, code: str) -> str | None:
    """The matter of this case whose certificate is this licence type, if any."""
    for matter in composition.matters:
        if (matter.data.get("result") or {}).get("licence_code") == code:
            return matter.code
    return None


def resolve(session, composition, material, data: dict, entry, today: dt.date | None = None,
            identity: dict | None = None, answers: dict | None = None) -> dict | None:
    """What a draft records for a shared material now, or None to leave it as it is;
    `identity` is the signed-in applicant's verified identity, if any. `answers` keeps the
    lookups made (by holder and type) for the caller's next materials: one view asks the
    registry each question once."""
    code = material.licence_code
    if not material.shared_data or not code or licence_type(code) is None:
        return None
    matter = issued_in_case(composition, code)
    if matter is not None:
        return {"state": "in_case", "matter": matter}
    if isinstance(entry, dict) and entry.get("state") in ("uploaded", "deferred", "commitment"):
        return None  # the applicant's own, after a lookup that found nothing
    holder = holder_of(code, data)
    if holder is None:
        # No code to look it up with (a company being registered in this very case). What
        # only the government issues is obtained by sharing later, as before; what the
        # applicant may hold elsewhere (a title, or a lease) is asked for.
        return None if material.source == "government" else {
            "state": MISSING, "holder": "", "type_code": code,
            "looked_up_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    today = today or china_today()
    answers = {} if answers is None else answers
    withheld = _withheld(session, code, holder, identity, today, answers)
    if withheld is not None:
        return {"state": withheld, "holder": holder, "type_code": code,
                "looked_up_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return _entry(holder, code, _lookup(session, holder, code, today, answers))


def _lookup(session, holder: str, code: str, today: dt.date, answers: dict):
    key = (holder, code)
    if key not in answers:
        answers[key] = lookup(provider(session), holder, code, today)
    return answers[key]


def _private(code: str) -> bool:
    # An enterprise's licence with no public item (不动产权证书: whether it owns its
    # premises) is looked up only for its legal representative, signed in: for anyone else
    # even "found" or "not held" would tell what only the holder may know.
    kind = licence_type(code)
    return not (is_public(code) or kind is None or kind.holder != HOLDER_USCC)


def _withheld(session, code: str, holder: str, identity: dict | None, today: dt.date,
              answers: dict) -> str | None:
    # None when this applicant may see the holder's licences of this type; otherwise the
    # state recorded instead of looking it up.
    if not _private(code):
        return None
    if not identity:
        return PRIVATE
    found = _lookup(session, holder, "business-licence", today, answers)
    if found.state == UNAVAILABLE:
        # Whether she represents the enterprise is not known: the registry did not answer,
        # as the applicant is told for any licence (which tells nothing of this one).
        return UNAVAILABLE
    return None if found.state == FOUND and represents(identity, found.record) else PRIVATE


def _entry(holder: str, code: str, found, now: dt.datetime | None = None) -> dict:
    # What a draft records of a lookup, and when it was made (submit trusts it for a while).
    at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    if found.state == FOUND:
        record = found.record
        return {"state": "shared", "holder": holder, "trust": record.trust,
                "source": record.source, "licence": record.as_dict(), "looked_up_at": at}
    result = {"state": found.state, "holder": holder, "type_code": code, "looked_up_at": at}
    if found.state == EXPIRED and found.record.expires_on:
        result["expires_on"] = found.record.expires_on.isoformat()
    return result


def resolve_all(session, composition, data: dict, entries: dict,
                identity: dict | None = None) -> dict:
    """The draft's material entries with every shared material looked up again."""
    updated = dict(entries)
    answers: dict = {}
    for material in composition.materials_for(data):
        result = resolve(session, composition, material, data, entries.get(material.id),
                         identity=identity, answers=answers)
        if result is not None:
            updated[material.id] = result
        elif isinstance(entries.get(material.id), dict) and \
                entries[material.id].get("state") in SERVER_STATES and \
                not material.licence_code:
            updated.pop(material.id, None)
    return updated


def needs_upload(material, entry) -> bool:
    """Whether the applicant is asked to hand this material over themselves."""
    if not material.shared_data:
        return True
    return isinstance(entry, dict) and (entry.get("state") in LOOKUP_STATES or entry.get(
        "state") in ("uploaded", "deferred", "commitment")) and bool(material.licence_code)


# Licences the registry kept here holds (issued here, or imported): it answers for them.
LOCAL_SOURCES = ("onething", "import")


def _remote_configured() -> bool:
    return has_app_context() and bool(current_app.config.get("LICENCE_REGISTRY_URL"))


def _max_age() -> dt.timedelta:
    minutes = current_app.config.get("LICENCE_LOOKUP_MAX_AGE", 60) if has_app_context() \
        else 60
    return dt.timedelta(minutes=float(minutes))


def _recent(entry: dict, now: dt.datetime) -> bool:
    # Whether the materials page recorded this lookup within LICENCE_LOOKUP_MAX_AGE.
    try:
        at = dt.datetime.fromisoformat(entry["looked_up_at"])
    except (KeyError, TypeError, ValueError):
        return False
    return at.tzinfo is not None and dt.timedelta(0) <= now - at <= _max_age()


class RecordedLookups:
    """The provider submitting gives the rules (智能预审, 秒批): the registry kept here, else
    the answers the materials page recorded on the draft, if recent; never the network.
    A licence nobody looked up recently is unavailable: a rule reading it holds nothing
    against the applicant, and 秒批 leaves the case to its department."""

    name = "recorded"

    def __init__(self, session, entries: dict | None, now: dt.datetime):
        self.local = LocalRegistry(session)
        self.entries = [e for e in (entries or {}).values()
                        if isinstance(e, dict) and e.get("state") in ("shared", MISSING)
                        and _recent(e, now)]

    def licences(self, holder_code: str, type_code: str) -> list[LicenceRecord]:
        """The registry's licences when one is in force, else the recorded answer."""
        found = self.local.licences(holder_code, type_code)
        if any(record.valid_on(china_today()) for record in found):
            return found
        holder = holder_code.upper()
        for entry in self.entries:
            licence = entry.get("licence") or {}
            if entry.get("holder") != holder:
                continue
            if entry["state"] == MISSING and entry.get("type_code") == type_code:
                return found  # the platform said it holds none
            if entry["state"] == "shared" and licence.get("type_code") == type_code \
                    and entry.get("source") not in LOCAL_SOURCES:
                try:
                    return [LicenceRecord.from_dict(licence, entry["source"])]
                except (KeyError, TypeError, ValueError):
                    continue
        raise ProviderUnavailable("not looked up recently")


def submit_provider(session, entries: dict | None, now: dt.datetime):
    """The provider submitting reads licences through: never the network."""
    if not _remote_configured():
        return LocalRegistry(session)
    return RecordedLookups(session, entries, now)


def recheck(session, material, data: dict, entry, now: dt.datetime
            ) -> tuple[dict | None, str | None]:
    """What submitting records for a shared material, or why it refuses, asking nothing
    over the network: the registry kept here, else the lookup the materials page recorded
    for this holder if it is recent. (record, None) or (None, reason)."""
    code = material.licence_code
    holder = holder_of(code, data)
    if holder is None:
        # No holder code to ask with: shared later as before, unless the applicant may
        # hold it elsewhere (resolve asked for it then).
        return ({"state": "shared"}, None) if material.source == "government" \
            else (None, "licence_missing")
    recorded = entry if isinstance(entry, dict) and entry.get("holder") == holder else None
    if _private(code):
        # Looked up here only if the materials page did, for this holder, for whoever was
        # signed in: otherwise whether it is held would answer a code typed at submit.
        if recorded is None or recorded.get("state") == PRIVATE:
            return None, "licence_private"
        if recorded.get("state") == UNAVAILABLE:
            # Whether this applicant may see it was never known: not looked up here either.
            return None, "licence_unavailable"
    today = china_today()
    local = lookup(LocalRegistry(session), holder, code, today)
    if local.state == FOUND:
        return _entry(holder, code, local, now), None
    if not _remote_configured():
        return None, f"licence_{local.state}"  # the registry kept here is the only one
    if recorded is None or not _recent(recorded, now):
        # Never looked up for this holder, or too long ago: the materials page asks again.
        return None, "licence_lookup_stale"
    if recorded.get("state") != "shared":
        return None, f"licence_{recorded.get('state')}"
    licence = recorded.get("licence") or {}
    if recorded.get("source") in LOCAL_SOURCES:
        # Found here then, not now: revoked or expired since.
        return None, f"licence_{local.state}"
    expires = licence.get("expires_on")
    if expires and dt.date.fromisoformat(expires) < today:
        return None, "licence_expired"
    return dict(recorded), None


# --- what pages say ------------------------------------------------------------------------------

def _texts():
    from flask_babel import gettext as _

    return {
        "onething": _("OneThing's electronic licence registry"),
        "import": _("Electronic licence registry (imported)"),
        "provincial": _("The provincial licence platform"),
    }


def source_name(source: str | None) -> str:
    """Where a shared licence came from, localized."""
    return _texts().get(source or "", source or "")


def type_name(code: str | None) -> str:
    """A licence type's name in the page's language."""
    from onething.web.i18n import localized

    kind = licence_type(code)
    return localized(kind.name) if kind else (code or "")


def trust_name(level: str | None) -> str:
    """A trust level (国办函〔2016〕108号), localized."""
    from onething.catalog.licences import TRUST_NAMES
    from onething.web.i18n import localized

    return localized(TRUST_NAMES[level]) if level in TRUST_NAMES else (level or "")


def is_public(code: str | None) -> bool:
    """Whether a licence type's data items are public by law (an enterprise's licence), so
    they may be shown to anyone who typed the holder's code."""
    kind = licence_type(code)
    return kind is not None and any(item.public for item in kind.items)


def problem(entry: dict, material) -> str:
    """Why a shared material must be uploaded after all, localized."""
    from flask_babel import gettext as _

    name = type_name(material.licence_code)
    holder = entry.get("holder", "")
    if not holder:
        return _("The form names no credit code or ID number to look the %(licence)s up "
                 "with: upload it.", licence=name)
    if entry.get("state") == EXPIRED and not is_public(material.licence_code):
        # A personal licence's dates are not told to whoever typed the ID number.
        return _("The %(licence)s held for %(holder)s is not in force. Upload a valid one.",
                 licence=name, holder=holder)
    if entry.get("state") == EXPIRED:
        return _("The %(licence)s held for %(holder)s expired on %(date)s. Upload a valid one "
                 "(renew it first if need be).", licence=name, holder=holder,
                 date=entry.get("expires_on", ""))
    if entry.get("state") == PRIVATE:
        return _("The %(licence)s is fetched from the registry only for the enterprise's "
                 "legal representative, signed in. Upload it, or sign in as the legal "
                 "representative.", licence=name)
    if entry.get("state") == UNAVAILABLE:
        return _("The licence registry did not answer just now. Reload this page to ask it "
                 "again, or upload the %(licence)s.", licence=name)
    return _("The electronic licence registry holds no %(licence)s for %(holder)s. Check the "
             "code in the form, or upload it.", licence=name, holder=holder)


SUBMIT_PROBLEMS = ("licence_missing", "licence_expired", "licence_unavailable", "licence_stale",
                   "licence_lookup_stale", "licence_private")


def submit_problem(reason: str) -> str:
    """Why a shared material holds a submission up, localized (review page)."""
    from flask_babel import gettext as _

    return {
        "licence_missing": _("the licence registry does not hold it: upload it"),
        "licence_expired": _("the licence has expired: upload a valid one"),
        "licence_unavailable": _("the licence registry did not answer: try again or upload it"),
        "licence_stale": _("the credit code or ID number changed: open the materials again"),
        "licence_lookup_stale": _("the licence was not looked up recently: open the materials "
                                  "page to look it up again"),
        "licence_private": _("fetched only for the legal representative, signed in: upload "
                             "it"),
    }.get(reason, _("not provided yet"))


def item_name(code: str | None, key: str) -> str:
    """A licence data item's name in the page's language."""
    from onething.web.i18n import localized

    kind = licence_type(code)
    item = kind.item(key) if kind else None
    return localized(item.name) if item else key
