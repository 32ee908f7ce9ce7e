"""Publishing: freeze each changed bundle of a catalog as its next numbered BundleVersion.

A version is a snapshot of every definition its composition depends on, so a
draft keeps the form it was started on while administrators edit the catalog.
The snapshot holds exactly what `Catalog.digest_of` hashes, and the digest
decides whether anything changed: publishing an unchanged catalog twice adds
nothing.
"""

from __future__ import annotations

from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from onething.catalog.definitions import Bundle, Catalog, Document
from onething.storage.models import BundleVersion

# Bundles rebuilt from snapshots, by code and digest. Catalog and compose are pure,
# so one rebuilt Bundle serves every request on that version.
_BUNDLES: dict[str, Bundle] = {}


# A version's snapshot is the whole catalog a bundle needs (about 140 KB of JSON). Queries
# leave it out: bundle_of reads it only when its cache misses, so a request (or a guide's
# poll every few seconds) that finds the bundle cached never parses it.
WITHOUT_SNAPSHOT = defer(BundleVersion.documents)


def snapshot(bundle: Bundle) -> list[dict]:
    """Every definition the bundle needs, as plain documents: what a version stores."""
    catalog = bundle.catalog
    picked = [bundle, *bundle.nested_bundles()]
    picked += [catalog.matters[code] for code in bundle.matter_codes()]
    picked += [catalog.departments[code] for code in bundle.department_codes()
               if code in catalog.departments]
    picked += [field for _, field in sorted(catalog.fields.items())]
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


def publish_catalog(session: Session, catalog: Catalog, published_by: str,
                    codes: list[str] | None = None) -> list[BundleVersion]:
    """Publish the next version of bundles whose definitions changed; commit; return them.

    Named `codes` are published when they differ from what applicants see now. Without
    codes, every bundle of the catalog whose definitions changed since they were last
    published from the working catalog: a rolled-back bundle stays rolled back.
    """
    published = []
    for code in sorted(codes if codes is not None else catalog.bundles):
        bundle = catalog.bundle(code)
        latest = latest_version(session, code)
        if latest is not None:
            standing = latest.digest if codes is not None else (latest.source_digest
                                                                 or latest.digest)
            if standing == bundle.version:
                continue
        version = BundleVersion(
            bundle_code=code,
            number=latest.number + 1 if latest is not None else 1,
            digest=bundle.version,
            source_digest=bundle.version,
            name=bundle.name,
            documents=snapshot(bundle),
            published_by=published_by,
        )
        session.add(version)
        published.append(version)
    # Two administrators publishing at once collide on (bundle_code, number): one fails whole.
    session.commit()
    return published


def bundle_of(version: BundleVersion) -> Bundle:
    """The bundle as it was published in this version, rebuilt from the snapshot."""
    key = f"{version.bundle_code}@{version.digest}"
    bundle = _BUNDLES.get(key)
    if bundle is None:
        documents = (Document(d["kind"], d["path"], d["data"]) for d in version.documents)
        bundle = Catalog(documents).bundle(version.bundle_code)
        _BUNDLES[key] = bundle
    return bundle


def bundle_at(session: Session, version_id: int, bundle_code: str, digest: str) -> Bundle:
    """The bundle of a version known by its code and digest: no query when it is cached."""
    bundle = _BUNDLES.get(f"{bundle_code}@{digest}")
    if bundle is None:
        bundle = bundle_of(get_version(session, version_id))
    return bundle


def get_version(session: Session, version_id: int) -> BundleVersion | None:
    """A bundle version without its snapshot, which loads only if bundle_of needs it."""
    return session.get(BundleVersion, version_id, options=[WITHOUT_SNAPSHOT])
