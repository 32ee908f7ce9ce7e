"""The public directory (服务目录): what applicants can find, written when a service is published.

One row per bundle and per matter alone, for its newest published version: its
names, description, audience and theme, its department, how many matters it
holds, and its search document (the texts the manual's search weighs, by role,
with the pinyin of its names). The manual lists and searches these rows, so no
public page rebuilds twelve thousand bundles from their snapshots to list them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from sqlalchemy import delete, func, insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from onething.catalog.definitions import Bundle, Matter
from onething.catalog.text import HAN, LOCALES, localize, normalize, readings
from onething.storage.models import BundleVersion, PublishedService

# Rows written by one statement.
BATCH = 500

# The roles of an entry's texts, heaviest first in the search's eyes: what a service is
# called, its keywords, the matters a bundle holds, a matter's result, its department, and
# what its description says.
ROLES = ("name", "keyword", "part", "result", "department", "description")


def _texts(text) -> list[str]:
    return list(dict.fromkeys(normalize(localize(text, locale)) for locale in LOCALES
                              if localize(text, locale)))


def _bundle_texts(bundle: Bundle) -> tuple[list, list[str]]:
    catalog = bundle.catalog
    keywords = [normalize(k) for k in bundle.data.get("keywords", [])]
    texts = [["name", t] for t in _texts(bundle.name)] + [["keyword", k] for k in keywords]
    for code in bundle.matter_codes():
        matter = catalog.matters.get(code)
        if matter is not None:
            texts += [["part", t] for t in _texts(matter.name)]
    texts += [["description", t] for t in _texts(bundle.data.get("description"))]
    return texts, [normalize(localize(bundle.name)), *keywords]


def _matter_texts(matter: Matter) -> tuple[list, list[str]]:
    texts = [["name", t] for t in _texts(matter.name)]
    result = matter.data.get("result", {}).get("name")
    texts += [["result", t] for t in _texts(result)]
    department = matter.catalog.departments.get(matter.department)
    if department is not None:
        texts += [["department", t] for t in _texts(department.name)]
    texts += [["description", t] for t in _texts(matter.data.get("description"))]
    # "《出生医学证明》首次签发" is also asked for as "出生医学证明", and "出生登记（户口登记）"
    # as "出生登记"; what the brackets add is often a qualifier ("（新生儿）"), not a name.
    name = normalize(localize(matter.name))
    phrases = [name, *re.findall(r"《([^》]+)》", name),
               *(p for p in [re.split(r"[（(]", name)[0]] if p != name and len(p) > 1)]
    if result:
        phrases.append(normalize(localize(result)))
    return texts, phrases


def search_document(bundle: Bundle) -> dict:
    """What the search keeps of a service: its texts by role, and its names' pinyin."""
    if bundle.alone:
        texts, phrases = _matter_texts(bundle.catalog.matters[bundle.code])
    else:
        texts, phrases = _bundle_texts(bundle)
    phrases = list(dict.fromkeys(p for p in phrases if p))
    spoken = [readings(p) for p in phrases if HAN.search(p)]
    return {"texts": texts, "phrases": phrases,
            "spellings": [full for full, _ in spoken], "letters": [first for _, first in spoken],
            # A bundle's kind (一件事, 一类事, 一业一证), which its search result says.
            "variety": None if bundle.alone else bundle.data.get("kind")}


def listing(bundle: Bundle) -> dict:
    """The directory row of a service, without its version."""
    matter = bundle.catalog.matters.get(bundle.code) if bundle.alone else None
    department = (matter.department if matter is not None
                  else bundle.data.get("lead_department"))
    known = bundle.catalog.departments.get(department)
    return {
        "code": bundle.code,
        "kind": "matter" if matter is not None else "bundle",
        "name": bundle.name,
        "description": bundle.data.get("description"),
        "audience": bundle.data.get("audience"),
        "theme": bundle.data.get("theme"),
        "department_code": department,
        "department_name": known.name if known is not None else None,
        "matters": len(bundle.matter_codes()),
        "search": search_document(bundle),
    }


def record(session: Session, published: Iterable[tuple[int, Bundle]]) -> None:
    """Make these (version id, bundle) pairs the directory's rows for their codes; no commit."""
    rows = [{**listing(bundle), "version_id": version_id} for version_id, bundle in published]
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        session.execute(delete(PublishedService).where(
            col(PublishedService.code).in_([row["code"] for row in batch])))
        session.execute(insert(PublishedService), batch)


def refresh(session: Session, bundle_of: Callable[[BundleVersion], Bundle],
            progress: Callable[[str, int, int], None] | None = None) -> int:
    """Write the rows missing for the newest versions (databases older than the directory).

    Returns how many were written; commits. Two processes starting at once may both
    write: the second's rows collide on their codes, and it reads again what is missing.
    """
    for _attempt in range(3):
        try:
            return _refresh(session, bundle_of, progress)
        except IntegrityError:
            session.rollback()
    return _refresh(session, bundle_of, progress)


def _refresh(session: Session, bundle_of, progress) -> int:
    newest = (select(BundleVersion.bundle_code, func.max(BundleVersion.number).label("number"))
              .group_by(BundleVersion.bundle_code).subquery())
    missing = list(session.exec(
        select(BundleVersion.id)
        .join(newest, (BundleVersion.bundle_code == newest.c.bundle_code)
              & (BundleVersion.number == newest.c.number))
        .outerjoin(PublishedService, PublishedService.version_id == BundleVersion.id)
        .where(col(PublishedService.id).is_(None))))
    for start in range(0, len(missing), BATCH):
        if progress:
            progress("indexing published services", start, len(missing))
        versions = session.exec(select(BundleVersion).where(
            col(BundleVersion.id).in_(missing[start:start + BATCH]))).all()
        record(session, ((version.id, bundle_of(version)) for version in versions))
    if missing and progress:
        progress("indexing published services", len(missing), len(missing))
    session.commit()
    return len(missing)


def generation(session: Session) -> tuple[int, int]:
    """What changes whenever the directory does: caches of it key on this.

    Every publication and rollback is a new version, with a larger id than any before;
    rows written for older versions (refresh) change the count.
    """
    newest, count = session.exec(select(func.max(PublishedService.version_id),
                                        func.count(PublishedService.id))).one()
    return newest or 0, count
