"""Publishing: freeze each changed bundle of a catalog as its next numbered BundleVersion.

A version is a snapshot of every definition its composition depends on, so a
draft keeps the form it was started on while administrators edit the catalog.
The snapshot holds exactly what `Catalog.digest_of` hashes, and the digest
decides whether anything changed: publishing an unchanged catalog twice adds
nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import func, insert
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from onething.catalog.definitions import Bundle, Catalog, Document
from onething.publishing import directory
from onething.storage.models import AuditEntry, BundleVersion, utc_now

# Bundles rebuilt from snapshots, by code and digest. Catalog and compose are pure,
# so one rebuilt Bundle serves every request on that version. A city publishes some
# twelve thousand services: the least recently used beyond this many are rebuilt again
# when asked for (a bundle of one takes about 1 ms to rebuild).
BUNDLE_CACHE_SIZE = 1024
_BUNDLES: OrderedDict[str, Bundle] = OrderedDict()
_BUNDLES_LOCK = threading.Lock()


def _cached(key: str) -> Bundle | None:
    with _BUNDLES_LOCK:
        bundle = _BUNDLES.get(key)
        if bundle is not None:
            _BUNDLES.move_to_end(key)
        return bundle


def _keep(key: str, bundle: Bundle) -> None:
    with _BUNDLES_LOCK:
        _BUNDLES[key] = bundle
        _BUNDLES.move_to_end(key)
        while len(_BUNDLES) > BUNDLE_CACHE_SIZE:
            _BUNDLES.popitem(last=False)


# A version's snapshot is the whole catalog a bundle needs (about 140 KB of JSON). Queries
# leave it out: bundle_of reads it only when its cache misses, so a request (or a guide's
# poll every few seconds) that finds the bundle cached never parses it.
WITHOUT_SNAPSHOT = defer(BundleVersion.documents)
# Versions written by one INSERT when a catalog is published.
PUBLISH_BATCH = 500


def snapshot(bundle: Bundle) -> list[dict]:
    """Every definition the bundle needs, as plain documents: what a version stores.

    A matter alone is stored as its matter: its bundle of one is rebuilt from it.
    """
    catalog = bundle.catalog
    picked = [] if bundle.alone else [bundle, *bundle.nested_bundles()]
    picked += [catalog.matters[code] for code in bundle.matter_codes()]
    picked += [catalog.departments[code] for code in bundle.department_codes()
               if code in catalog.departments]
    picked += [catalog.fields[key] for key in bundle.field_keys()]
    return [{"kind": item.kind, "path": item.path, "data": item.data} for item in picked]


def latest_version(session: Session, bundle_code: str) -> BundleVersion | None:
    """The newest published version of a bundle, or None if it was never published."""
    statement = (
        select(BundleVersion)
        .where(BundleVersion.bundle_code == bundle_code)
        .order_by(col(BundleVersion.number).desc())
        .limit(1)
        .options(WITHOUT_SNAPSHOT)
    )
    return session.exec(statement).first()


# Told how far a long step has come: (what it is doing, done, out of).
Progress = Callable[[str, int, int], None]


def publish_catalog(session: Session, catalog: Catalog, published_by: str,
                    codes: list[str] | None = None, progress: Progress | None = None,
                    audited: bool = False) -> list[BundleVersion]:
    """Publish the next version of services whose definitions changed; commit; return them.

    Named `codes` (bundles or matters) are published when they differ from what
    applicants see now. Without codes, every bundle and matter of the catalog whose
    definitions changed since they were last published from the working catalog: a
    rolled-back one stays rolled back. `audited` puts each version on the audit log
    (who made it live), in the same transaction: a version is never live unrecorded.
    """
    wanted = sorted(codes if codes is not None else catalog.services())
    standing = _standing(session, wanted if codes is not None else None)
    now = utc_now()
    ids: list[int] = []
    rows: list[dict] = []
    bundles: list[Bundle] = []
    for done, code in enumerate(wanted):
        if progress and done % PUBLISH_BATCH == 0:
            progress("publishing", done, len(wanted))
        bundle = catalog.service(code)
        number, digest, source_digest = standing.get(code, (0, None, None))
        if bundle.version == (digest if codes is not None else source_digest or digest):
            continue
        if audited:
            session.add(AuditEntry(actor=published_by, action="publish",
                                   subject=f"{'matter' if bundle.alone else 'bundle'}:{code}",
                                   after={"version": number + 1}))
        rows.append({"bundle_code": code, "number": number + 1, "digest": bundle.version,
                     "source_digest": bundle.version,
                     "kind": "matter" if bundle.alone else "bundle", "name": bundle.name,
                     "documents": snapshot(bundle), "published_by": published_by,
                     "published_at": now, "note": None})
        bundles.append(bundle)
        if len(rows) == PUBLISH_BATCH:
            ids += _insert(session, rows, bundles)
            rows, bundles = [], []
    ids += _insert(session, rows, bundles)
    if progress:
        progress("publishing", len(wanted), len(wanted))
    # All or nothing: two administrators publishing at once collide on (bundle_code,
    # number), and one of them fails whole.
    session.commit()
    published = []
    for start in range(0, len(ids), PUBLISH_BATCH):
        published += session.exec(select(BundleVersion).where(
            col(BundleVersion.id).in_(ids[start:start + PUBLISH_BATCH]))
            .order_by(BundleVersion.bundle_code).options(WITHOUT_SNAPSHOT)).all()
    return published


def _insert(session: Session, rows: list[dict], bundles: list[Bundle]) -> list[int]:
    # Multi-row INSERTs, a batch of snapshots at a time: a city's first start publishes
    # twelve thousand versions, which one at a time took half a minute and held them all.
    if not rows:
        return []
    ids = list(session.scalars(insert(BundleVersion).returning(BundleVersion.id), rows))
    directory.record(session, zip(ids, bundles, strict=True))
    return ids


def _standing(session: Session, codes: list[str] | None) -> dict[str, tuple]:
    """(number, digest, source digest) of the newest version of each code, in one query."""
    newest = select(BundleVersion.bundle_code,
                    func.max(BundleVersion.number).label("number")).group_by(
        BundleVersion.bundle_code)
    if codes is not None:
        newest = newest.where(col(BundleVersion.bundle_code).in_(codes))
    newest = newest.subquery()
    rows = session.execute(
        select(BundleVersion.bundle_code, BundleVersion.number, BundleVersion.digest,
               BundleVersion.source_digest)
        .join(newest, (BundleVersion.bundle_code == newest.c.bundle_code)
              & (BundleVersion.number == newest.c.number))).all()
    return {code: (number, digest, source) for code, number, digest, source in rows}


def bundle_of(version: BundleVersion) -> Bundle:
    """The bundle as it was published in this version, rebuilt from the snapshot."""
    key = f"{version.bundle_code}@{version.digest}"
    bundle = _cached(key)
    if bundle is None:
        documents = (Document(d["kind"], d["path"], d["data"]) for d in version.documents)
        bundle = Catalog(documents).service(version.bundle_code)
        _keep(key, bundle)
    return bundle


def bundle_at(session: Session, version_id: int, bundle_code: str, digest: str) -> Bundle:
    """The bundle of a version known by its code and digest: no query when it is cached."""
    bundle = _cached(f"{bundle_code}@{digest}")
    if bundle is None:
        bundle = bundle_of(get_version(session, version_id))
    return bundle


def get_version(session: Session, version_id: int) -> BundleVersion | None:
    """A bundle version without its snapshot, which loads only if bundle_of needs it."""
    return session.get(BundleVersion, version_id, options=[WITHOUT_SNAPSHOT])
