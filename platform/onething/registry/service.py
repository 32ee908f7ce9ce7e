"""Looking licences up, entering issued certificates, importing files, the demo's registry."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import unicodedata
from dataclasses import dataclass

from sqlmodel import Session, col, select

from onething.catalog.formats import (
    is_resident_id,
    is_uscc,
    organization_code_check_char,
    resident_id_check_char,
    uscc_check_char,
)
from onething.catalog.licences import HOLDER_USCC, LICENCE_TYPES, TRUST_LEVELS, licence_type
from onething.registry.providers import LicenceProvider, LicenceRecord, ProviderUnavailable
from onething.storage.models import Licence

# What a lookup found: a licence in force, one no longer in force, none, or no answer.
FOUND, EXPIRED, MISSING, UNAVAILABLE = "found", "expired", "missing", "unavailable"


@dataclass
class Lookup:
    """The answer to "does this holder have this licence, in force today?"."""

    state: str
    record: LicenceRecord | None = None


def lookup(provider: LicenceProvider, holder_code: str, type_code: str,
           today: dt.date) -> Lookup:
    """The holder's licence of this type in force today, else the newest expired one."""
    holder = (holder_code or "").strip().upper()
    if not holder:
        return Lookup(MISSING)
    try:
        found = provider.licences(holder, type_code)
    except ProviderUnavailable:
        return Lookup(UNAVAILABLE)
    valid = [r for r in found if r.valid_on(today)]
    if valid:
        return Lookup(FOUND, valid[0])
    return Lookup(EXPIRED, found[0]) if found else Lookup(MISSING)


def _at(data: dict, path: str):
    # A dotted path into the one form's values (legal_representative.name).
    node = data
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def holder_of(type_code: str, data: dict) -> str | None:
    """The holder's code as the one form carries it, for a licence of this type."""
    kind = licence_type(type_code)
    if kind is None:
        return None
    for key in kind.holder_fields:
        value = _at(data, key)
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return None


def items_from(type_code: str, data: dict) -> dict:
    """A licence's data items (照面信息) taken from a case's values."""
    kind = licence_type(type_code)
    items = {}
    for item in kind.items if kind else ():
        value = _at(data, item.field) if item.field else None
        if value not in (None, "", []):
            items[item.key] = value
    return items


def record_issued(session: Session, *, type_code: str, number: str, data: dict,
                  issuer: str, task_id: int | None, file: str | None, today: dt.date,
                  expires_on: dt.date | None = None, items: dict | None = None
                  ) -> Licence | None:
    """Enter a certificate issued through OneThing in the registry, trust A (not committed).

    Nothing is entered when the case names no holder the licence type can be held by.
    `expires_on` overrides the type's validity, and `items` adds data items the case's
    values do not hold (a comprehensive licence's industry and permits).
    """
    kind = licence_type(type_code)
    holder = holder_of(type_code, data)
    if kind is None or holder is None:
        return None
    name = data.get("entity_name") if kind.holder == HOLDER_USCC else \
        _at(data, "legal_representative.name") or data.get("applicant_name")
    expires = expires_on
    if expires is None and kind.years:
        try:
            expires = today.replace(year=today.year + kind.years) - dt.timedelta(days=1)
        except ValueError:  # 29 February
            expires = today.replace(year=today.year + kind.years, day=28)
    existing = session.exec(select(Licence).where(
        Licence.type_code == type_code, Licence.number == number)).first()
    if existing is not None and existing.holder_code != holder:
        # Another holder's licence under this number: a typo must not overwrite it.
        return None
    row = existing or Licence(type_code=type_code, number=number, holder_code=holder,
                              holder_name="", issuer=issuer, issued_on=today, source="onething")
    row.holder_code, row.holder_name = holder, str(name or holder)[:200]
    row.issuer, row.issued_on, row.expires_on = issuer[:200], today, expires
    row.data = {**items_from(type_code, data),
                **{k: v for k, v in (items or {}).items() if kind.item(k) is not None}}
    row.file, row.trust, row.source = file, "A", "onething"
    row.task_id, row.revoked = task_id, False
    session.add(row)
    return row


def other_holder(session: Session, code: str, name: str | None) -> str | None:
    """The name of another holder the registry knows under this code (a credit code
    given to one business is never another's), or None; None too when the business's
    own name is not known, since then no holder can be told from it."""
    wanted = "".join(unicodedata.normalize("NFKC", name or "").split())
    if not wanted:
        return None
    for held in session.exec(select(Licence.holder_name).where(
            Licence.holder_code == code, col(Licence.revoked).is_(False))).all():
        if "".join(unicodedata.normalize("NFKC", held).split()) != wanted:
            return held
    return None


def revoke_licence(session: Session, type_code: str, number: str) -> Licence | None:
    """Mark one licence revoked (not committed): no longer shared."""
    row = session.exec(select(Licence).where(Licence.type_code == type_code,
                                             Licence.number == number)).first()
    if row is not None and not row.revoked:
        row.revoked = True
        session.add(row)
    return row


def revoke_issued(session: Session, task_id: int) -> list[Licence]:
    """Mark the certificates a task issued as revoked (not committed): no longer shared."""
    rows = list(session.exec(select(Licence).where(Licence.task_id == task_id,
                                                   col(Licence.revoked).is_(False))).all())
    for row in rows:
        row.revoked = True
        session.add(row)
    return rows


# --- importing ---------------------------------------------------------------------------------

COLUMNS = ("type_code", "number", "holder_code", "holder_name", "issuer", "issued_on",
           "expires_on", "trust")
REQUIRED = ("type_code", "number", "holder_code", "holder_name", "issuer", "issued_on")


@dataclass
class ImportProblem:
    """One refused row of an import: its number (1 = the first licence), field and why."""

    row: int
    field: str
    code: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field}: {self.code}"


def read_rows(text: str, filename: str = "") -> list[dict]:
    """The rows of a JSON list or CSV file of licences (ValueError if neither).

    CSV: a header row with the columns of COLUMNS and data items as `data.<key>`.
    """
    stripped = text.lstrip("\ufeff").strip()
    if filename.lower().endswith(".json") or stripped.startswith(("[", "{")):
        loaded = json.loads(stripped)
        if isinstance(loaded, dict):
            loaded = loaded.get("licences")
        if not isinstance(loaded, list):
            raise ValueError("a JSON list of licences, or {\"licences\": [...]}")
        return loaded
    rows = []
    for raw in csv.DictReader(io.StringIO(stripped)):
        row: dict = {"data": {}}
        for key, value in raw.items():
            if key is None:
                row["_extra"] = value
            elif key.startswith("data."):
                if value not in (None, ""):
                    row["data"][key[5:]] = value
            else:
                row[key] = value
        rows.append(row)
    return rows


def _date(value) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    return day if day is not None and 1949 <= day.year <= 2100 else None


def check_rows(rows: list) -> tuple[list[Licence], list[ImportProblem]]:
    """The licences of an import, or every problem with its row and field."""
    problems: list[ImportProblem] = []
    licences: list[Licence] = []
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            problems.append(ImportProblem(number, "-", "not_an_object"))
            continue
        before = len(problems)
        for key in REQUIRED:
            if not isinstance(row.get(key), str) or not row[key].strip():
                problems.append(ImportProblem(number, key, "required"))
        unknown = sorted(set(row) - {*COLUMNS, "data"})
        for key in unknown:
            problems.append(ImportProblem(number, key, "unknown_column"))
        kind = licence_type(row.get("type_code")) if isinstance(row.get("type_code"), str) \
            else None
        if row.get("type_code") and kind is None:
            problems.append(ImportProblem(number, "type_code", "unknown_type"))
        holder = str(row.get("holder_code") or "").strip().upper()
        if kind is not None and holder and not (
                is_uscc(holder) if kind.holder == HOLDER_USCC else is_resident_id(holder)):
            problems.append(ImportProblem(number, "holder_code", "invalid_holder"))
        issued = _date(row.get("issued_on"))
        if row.get("issued_on") and issued is None:
            problems.append(ImportProblem(number, "issued_on", "invalid_date"))
        expires = _date(row.get("expires_on")) if row.get("expires_on") else None
        if row.get("expires_on") and (expires is None or (issued and expires < issued)):
            problems.append(ImportProblem(number, "expires_on", "invalid_date"))
        trust = row.get("trust") or "A"
        if trust not in TRUST_LEVELS:
            problems.append(ImportProblem(number, "trust", "invalid_trust"))
        data = row.get("data") or {}
        if not isinstance(data, dict):
            problems.append(ImportProblem(number, "data", "not_an_object"))
            data = {}
        for key in data:
            if kind is not None and kind.item(key) is None:
                problems.append(ImportProblem(number, f"data.{key}", "unknown_item"))
        for key in ("number", "holder_name", "issuer"):
            if isinstance(row.get(key), str) and len(row[key].strip()) > \
                    (100 if key == "number" else 200):
                problems.append(ImportProblem(number, key, "too_long"))
        identity = (str(row.get("type_code")), str(row.get("number") or "").strip())
        if identity in seen:
            problems.append(ImportProblem(number, "number", "duplicate"))
        seen.add(identity)
        if len(problems) == before:
            licences.append(Licence(
                type_code=row["type_code"], number=row["number"].strip(), holder_code=holder,
                holder_name=row["holder_name"].strip(), issuer=row["issuer"].strip(),
                issued_on=issued, expires_on=expires, data=data, trust=trust,
                source="import"))
    return licences, problems


def import_licences(session: Session, rows: list) -> tuple[int, list[ImportProblem]]:
    """Enter the licences of an import, all or none; a licence already held (type and
    number) is replaced. Returns how many, and the problems (nothing stored if any)."""
    licences, problems = check_rows(rows)
    if problems:
        return 0, problems
    for licence in licences:
        existing = session.exec(select(Licence).where(
            Licence.type_code == licence.type_code, Licence.number == licence.number)).first()
        if existing is None:
            session.add(licence)
            continue
        # Updated in place: a revocation stands whatever a later export says, and a
        # certificate issued here stays tied to its task (a revocation finds it there).
        revoked, task_id = existing.revoked or licence.revoked, existing.task_id
        for name in ("holder_code", "holder_name", "issuer", "issued_on", "expires_on",
                     "data", "trust", "source"):
            setattr(existing, name, getattr(licence, name))
        existing.revoked, existing.task_id = revoked, task_id
        existing.file = licence.file or existing.file
        session.add(existing)
    session.commit()
    return len(licences), []


def represents(identity: dict | None, record) -> bool:
    """Whether the signed-in person is the legal representative a business licence's
    registration data names (their verified ID number)."""
    wanted = (record.data.get("legal_representative_id_number") or "") if record else ""
    mine = ((identity or {}).get("id_number") or "").strip().upper()
    return bool(mine) and str(wanted).strip().upper() == mine


# --- the demo ------------------------------------------------------------------------------------


def demo_uscc(head: str) -> str:
    """A valid credit code from its first 16 characters (both check characters computed)."""
    body = head + organization_code_check_char(head[8:16])
    return body + uscc_check_char(body)


def demo_resident_id(body: str) -> str:
    """A valid ID number from its first 17 digits."""
    return body + resident_id_check_char(body)


# Enterprises and people of the demo's registry (all invented; the codes check out).
DEMO_ENTERPRISE = demo_uscc("91370202MA3C4R8K")  # 青岛海韵餐饮管理有限公司: valid licence
DEMO_EXPIRED = demo_uscc("92370202MA3D7T5N")  # 市南区老街小吃店: its licence has expired
DEMO_PERSON = demo_resident_id("37020219850312402")  # 王海燕, the legal representative


def _born(today: dt.date, years: int, days: int = 0) -> dt.date:
    """The birthday of someone `years` old today, `days` short of the next birthday."""
    try:
        day = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        day = today.replace(year=today.year - years, day=28)
    return day - dt.timedelta(days=days)


def demo_elderly(today: dt.date) -> list[tuple[str, str, str, str, str]]:
    """The demo's older residents: (name, ID number, household division, address, trust).
    Two are eligible for the elderly allowance; one is 79 (a month short of 80), one is
    registered in Laoshan, and one's household record was only verified at a window (B)."""
    almost = _born(today, 80, -40)  # turns 80 in 40 days
    return [
        ("张秀英", demo_resident_id("37020219410308002"), "370202", "金口三路12号", "A"),
        ("刘福山", demo_resident_id("37020219441020001"), "370202", "贵州路45号", "A"),
        ("陈桂兰", demo_resident_id(f"370202{almost:%Y%m%d}006"), "370202", "湛山二路3号", "A"),
        ("赵德明", demo_resident_id("37021219400502003"), "370212", "崂山区海尔路8号", "A"),
        ("孙玉珍", demo_resident_id("37020219390115004"), "370202", "太平路29号", "B"),
    ]


def demo_rows(today: dt.date) -> list[dict]:
    """The demo registry: a company with its business licence, the title to its premises and
    its food safety manager's assessment, a sole proprietorship whose licence has expired,
    the company's legal representative's ID card, and older residents' ID cards and
    household registers (the elderly allowance, 免申即享)."""
    people = []
    for name, code, division, address, trust in demo_elderly(today):
        born = f"{code[6:10]}-{code[10:12]}-{code[12:14]}"
        people += [
            {"type_code": "resident-id-card", "number": code, "holder_code": code,
             "holder_name": name, "issuer": "青岛市公安局", "issued_on": "2010-05-01",
             "trust": "A", "data": {"name": name, "id_number": code}},
            {"type_code": "household-register", "number": f"HR{code}", "holder_code": code,
             "holder_name": name, "issuer": "青岛市公安局", "issued_on": "2005-03-01",
             "trust": trust, "data": {"name": name, "birth_date": born,
                                      "division_code": division, "address": address}},
        ]
    return [*people,
        {"type_code": "business-licence", "number": "370202000123456",
         "holder_code": DEMO_ENTERPRISE, "holder_name": "青岛海韵餐饮管理有限公司",
         "issuer": "青岛市市南区市场监督管理局", "issued_on": "2021-03-15", "trust": "A",
         "data": {"entity_name": "青岛海韵餐饮管理有限公司", "entity_uscc": DEMO_ENTERPRISE,
                  "legal_representative": "王海燕", "entity_type": "limited_company",
                  "division_code": "370202", "address": "香港中路10号", "registered_capital": 100,
                  "business_scope": "餐饮服务；食品销售",
                  "legal_representative_id_number": DEMO_PERSON}},
        # The company owns its premises, and its food safety manager passed the assessment.
        {"type_code": "real-estate-title", "number": "鲁（2021）青岛市市南区不动产权第0012345号",
         "holder_code": DEMO_ENTERPRISE, "holder_name": "青岛海韵餐饮管理有限公司",
         "issuer": "青岛市不动产登记中心", "issued_on": "2021-02-08", "trust": "A",
         "data": {"location": "香港中路10号", "division_code": "370202", "building_area": 120,
                  "floors": "地上第1—2层", "usage": "商业", "ownership": "市场化商品房"}},
        {"type_code": "food-safety-manager-assessment", "number": "SGKH3702022024000318",
         "holder_code": DEMO_ENTERPRISE, "holder_name": "青岛海韵餐饮管理有限公司",
         "issuer": "青岛市市南区市场监督管理局",
         "issued_on": (today - dt.timedelta(days=200)).isoformat(),
         "expires_on": (today + dt.timedelta(days=900)).isoformat(), "trust": "A",
         "data": {"manager_name": "赵安",
                  "passed_on": (today - dt.timedelta(days=200)).isoformat()}},
        {"type_code": "business-licence", "number": "370202600654321",
         "holder_code": DEMO_EXPIRED, "holder_name": "市南区老街小吃店",
         "issuer": "青岛市市南区市场监督管理局", "issued_on": "2016-05-20",
         "expires_on": (today - dt.timedelta(days=30)).isoformat(), "trust": "A",
         "data": {"entity_name": "市南区老街小吃店", "entity_uscc": DEMO_EXPIRED,
                  "legal_representative": "李建国", "entity_type": "individual_business",
                  "division_code": "370202", "address": "中山路88号"}},
        {"type_code": "resident-id-card", "number": DEMO_PERSON, "holder_code": DEMO_PERSON,
         "holder_name": "王海燕", "issuer": "青岛市公安局市南分局", "issued_on": "2018-06-01",
         "expires_on": "2038-06-01", "trust": "A", "data": {"name": "王海燕",
                                                             "id_number": DEMO_PERSON}},
    ]


def seed_demo(session: Session, today: dt.date) -> int:
    """Fill an empty registry with the demo's licences; how many were entered."""
    if session.exec(select(Licence.id).limit(1)).first() is not None:
        return 0
    count, problems = import_licences(session, demo_rows(today))
    if problems:  # the demo's own rows: a bug, never the user's doing
        raise RuntimeError("; ".join(map(str, problems)))
    return count


TYPES = LICENCE_TYPES
