"""The working catalog (草稿): the definitions administrators edit before publishing them.

Applicants only ever see published bundle versions. Administrators edit a
working copy of the whole catalog, one CatalogEntry per definition file, and
publishing checks that copy with every `onething check` rule before it
freezes the changed bundles as new numbered versions.

The working catalog is config as code: it is seeded from `schemas/` on first
start, exported as the exact files of a schemas folder, and replaced whole by
an import that is checked first and applied all or nothing.

Edits are guarded by optimistic locking: every save names the revision it was
based on, and a save based on an older revision is refused with who changed
the definition and when, so two administrators never silently overwrite each
other.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, tuple_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from onething.catalog.definitions import Catalog, Document
from onething.catalog.loader import FOLDERS, Source, read_meta, read_sources
from onething.catalog.problems import DefinitionError, Problem, Text
from onething.catalog.text import initials, localize, pinyin
from onething.catalog.typed import half_width
from onething.composer.compose import compose
from onething.publishing import directory
from onething.publishing.check import GUIDE_KINDS, check_documents, meta_validators, schema_errors
from onething.publishing.diff import diff_compositions
from onething.publishing.versions import (
    WITHOUT_SNAPSHOT,
    Progress,
    bundle_of,
    latest_version,
    publish_catalog,
)
from onething.storage.db import Page, paginate
from onething.storage.models import (
    AuditEntry,
    BundleVersion,
    CatalogEntry,
    CatalogReference,
    utc_now,
)

# Documents of the working catalog are named like the files of the repository's folder.
SHOWN_ROOT = "schemas"
# An import may not unpack more than this (a zip bomb is refused, not unpacked).
MAX_IMPORT_BYTES = 50 * 1024 * 1024


class StaleEdit(Exception):
    """A save based on an older revision than the stored one: someone else saved first."""

    def __init__(self, entry: CatalogEntry):
        self.entry = entry
        super().__init__(
            f"{entry.path} was changed by {entry.updated_by} at {entry.updated_at:%Y-%m-%d %H:%M} "
            f"UTC (revision {entry.revision}); reload it and apply your change again"
        )


# --- the index: what lists, searches and scoped loads read instead of every definition -------

# Between the texts of a search column: no query holds it, so no match spans two texts.
SEARCH_SEPARATOR = "\x1f"
# Rows a list shows at a time.
PAGE_SIZE = 50


def search_text(*texts: object) -> str:
    """What a console search is matched against: each text lower-cased, its pinyin, initials."""
    parts = []
    for text in texts:
        for value in (text.values() if isinstance(text, dict) else [text]):
            if isinstance(value, str) and value:
                parts += [value.lower(), pinyin(value), initials(value)]
    # Traditional characters read as the simplified do: each text once keeps it short.
    return SEARCH_SEPARATOR.join(dict.fromkeys(part for part in parts if part))


def index_of(kind: str, data: object) -> tuple[dict, list[tuple[str, str]]]:
    """The index columns of a definition, and the (kind, code) of each definition it names."""
    data = data if isinstance(data, dict) else {}
    name = data.get("title") if kind == "field" else data.get("name")
    code = data.get("code") if kind != "field" else str(data.get("$id", "")).rsplit("/", 1)[-1]
    # A department is found by its short name too (市南文旅), as people call it.
    short = data.get("short_name") if kind == "department" else None
    columns = {"name": localize(name) if name is not None else None,
               "search_text": search_text(name, short, code), "department_code": None,
               "level": None}
    references: list[tuple[str, str]] = []

    def name_(target_kind: str, target: object) -> None:
        if isinstance(target, str) and target:
            references.append((target_kind, target))

    if kind == "matter":
        department = data.get("department")
        columns["department_code"] = department if isinstance(department, str) else None
        name_("department", department)
    elif kind == "department":
        level = data.get("level")
        columns["level"] = level if isinstance(level, str) else None
        name_("department", data.get("parent"))
    elif kind == "bundle":
        name_("department", data.get("lead_department"))
        for item in data.get("items") or []:
            if isinstance(item, dict):
                name_("matter", item.get("matter"))
                name_("bundle", item.get("bundle"))
    return columns, list(dict.fromkeys(references))


def _index(session: Session, entries_: list[CatalogEntry]) -> None:
    """Set the index columns of entries and replace their references (the caller commits)."""
    if not entries_:
        return
    rows = []
    for entry in entries_:
        columns, references = index_of(entry.kind, json.loads(entry.text))
        for key, value in columns.items():
            setattr(entry, key, value)
        session.add(entry)
        rows += [{"source_kind": entry.kind, "source_code": entry.code, "target_kind": kind,
                  "target_code": code} for kind, code in references]
    _forget_references(session, [(entry.kind, entry.code) for entry in entries_])
    if rows:
        session.execute(insert(CatalogReference), rows)


def _forget_references(session: Session, sources: list[tuple[str, str]]) -> None:
    for start in range(0, len(sources), 500):
        batch = sources[start:start + 500]
        session.execute(delete(CatalogReference).where(
            tuple_(CatalogReference.source_kind, CatalogReference.source_code).in_(batch)))


def reindex(session: Session) -> int:
    """Index the entries saved before the index existed; commit; return how many."""
    missing = list(session.exec(select(CatalogEntry).where(
        col(CatalogEntry.search_text).is_(None))).all())
    _index(session, missing)
    session.commit()
    return len(missing)


def _named_by(session: Session, sources: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (kind, code) of the definitions some definitions name directly."""
    found: set[tuple[str, str]] = set()
    sources_ = sorted(sources)
    for start in range(0, len(sources_), 500):
        found.update(session.execute(
            select(CatalogReference.target_kind, CatalogReference.target_code).where(
                tuple_(CatalogReference.source_kind, CatalogReference.source_code).in_(
                    sources_[start:start + 500]))).all())
    return found


def scope(session: Session, kind: str, code: str) -> Catalog:
    """The definitions one bundle or matter needs, and no others.

    The definition itself, whatever it names at any depth (nested bundles, matters,
    departments and their parents) and the field library: what the editor, the preview,
    a check before publishing and the snapshot of a version read.
    """
    wanted = {(kind, code)}
    frontier = set(wanted)
    while frontier:
        frontier = _named_by(session, frontier) - wanted
        wanted |= frontier
    keys = sorted(wanted)
    found = list(session.exec(select(CatalogEntry).where(CatalogEntry.kind == "field")).all())
    for start in range(0, len(keys), 500):
        found += session.exec(select(CatalogEntry).where(
            tuple_(CatalogEntry.kind, CatalogEntry.code).in_(keys[start:start + 500]))).all()
    return Catalog(document(entry) for entry in found)


def holders(session: Session, kind: str, code: str) -> list[str]:
    """The codes of the bundles holding a matter (or a bundle), at any depth, sorted."""
    held, found = {(kind, code)}, set()
    while held:
        rows = set()
        keys = sorted(held)
        for start in range(0, len(keys), 500):
            rows.update(session.execute(
                select(CatalogReference.source_code).where(
                    CatalogReference.source_kind == "bundle",
                    tuple_(CatalogReference.target_kind, CatalogReference.target_code).in_(
                        keys[start:start + 500]))).scalars().all())
        held = {("bundle", bundle) for bundle in rows - found}
        found |= rows
    return sorted(found)


def find_entries(session: Session, kind: str, query: str = "", department: str = "",
                 level: str = "", page: int = 1, size: int = PAGE_SIZE,
                 exclude: tuple[str, ...] = ()) -> Page:
    """A page of the working catalog's entries of one kind, by code, filtered in the database.

    `query` is Chinese text, a code, full pinyin or initials (spaces ignored); `department`
    keeps a department itself, its matters, or the bundles involving it; `level` keeps
    departments of that level, their matters, or bundles with a matter at that level.
    """
    statement = select(CatalogEntry).where(CatalogEntry.kind == kind)
    # As typed with an IME left on: ｋｂｃｙｄ and full-width spaces are kbcyd (letters and
    # digits only: a name's own full-width brackets are what the index holds).
    query = "".join(half_width(query, punctuation=False).lower().split())
    if query:
        statement = statement.where(col(CatalogEntry.search_text).contains(query,
                                                                          autoescape=True))
    if exclude:
        statement = statement.where(col(CatalogEntry.code).not_in(exclude))
    at_level = select(CatalogEntry.code).where(CatalogEntry.kind == "department",
                                               CatalogEntry.level == level)
    if kind == "department":
        if department:
            statement = statement.where(CatalogEntry.code == department)
        if level:
            statement = statement.where(CatalogEntry.level == level)
    elif kind == "matter":
        if department:
            statement = statement.where(CatalogEntry.department_code == department)
        if level:
            statement = statement.where(col(CatalogEntry.department_code).in_(at_level))
    elif kind == "bundle" and (department or level):
        matters = select(CatalogEntry.code).where(CatalogEntry.kind == "matter")
        if department:
            matters = matters.where(CatalogEntry.department_code == department)
        if level:
            matters = matters.where(col(CatalogEntry.department_code).in_(at_level))
        named = [CatalogReference.target_kind == "matter",
                 col(CatalogReference.target_code).in_(matters)]
        direct = select(CatalogReference.source_code).where(
            CatalogReference.source_kind == "bundle", *named)
        if department:
            # The lead department (一窗受理) is involved too, whatever its matters.
            direct = direct.union(select(CatalogReference.source_code).where(
                CatalogReference.source_kind == "bundle",
                CatalogReference.target_kind == "department",
                CatalogReference.target_code == department))
        codes = set(session.execute(direct).scalars().all())
        codes |= set(holders_of_bundles(session, codes))
        statement = statement.where(col(CatalogEntry.code).in_(sorted(codes)))
    return paginate(session, statement.order_by(col(CatalogEntry.code)), page, size)


def holders_of_bundles(session: Session, codes: set[str]) -> list[str]:
    """The bundles holding any of these bundles, at any depth."""
    found: set[str] = set()
    for code in codes:
        found.update(holders(session, "bundle", code))
    return sorted(found - codes)


def format_definition(data: object) -> str:
    """The text a definition saved from the console gets: the schemas folder's style."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def path_for(kind: str, code: str) -> str:
    """Where a definition of this kind and code lives inside a schemas folder."""
    return f"{FOLDERS[kind]}/{code}.json"


def document(entry: CatalogEntry) -> Document:
    """A working-catalog entry as a Document, named like the repository's file."""
    return Document(entry.kind, f"{SHOWN_ROOT}/{entry.path}", json.loads(entry.text))


def meta_problems(kind: str, data: object, metas: dict[str, dict], file: str) -> list[Problem]:
    """Where a definition breaks its meta-schema, each problem with its JSON pointer."""
    # The same words and pointers as `onething check`, sorted so each lands by its field.
    return [Problem(file, where, message) for where, message
            in sorted(schema_errors(meta_validators(metas)[kind], data))]


def find_entry(session: Session, kind: str, code: str) -> CatalogEntry | None:
    """One definition of the working catalog, by kind and code."""
    return session.exec(select(CatalogEntry).where(CatalogEntry.kind == kind,
                                                   CatalogEntry.code == code)).first()


def _guide_code_holder(session: Session, kind: str, code: str) -> CatalogEntry | None:
    """The matter or bundle of another kind already holding a code a new one wants."""
    if kind not in GUIDE_KINDS:
        return None
    return session.exec(select(CatalogEntry).where(
        col(CatalogEntry.kind).in_([k for k in GUIDE_KINDS if k != kind]),
        CatalogEntry.code == code)).first()


def entries(session: Session, kind: str | None = None) -> list[CatalogEntry]:
    """The working catalog's entries, by kind then code."""
    statement = select(CatalogEntry).order_by(col(CatalogEntry.kind), col(CatalogEntry.code))
    if kind is not None:
        statement = statement.where(CatalogEntry.kind == kind)
    return list(session.exec(statement).all())


def documents(session: Session) -> list[Document]:
    """The working catalog as documents, ready for `check_documents` or a Catalog."""
    return [document(entry) for entry in entries(session)]


def is_empty(session: Session) -> bool:
    """True before the working catalog was ever seeded or imported."""
    return session.exec(select(CatalogEntry.id).limit(1)).first() is None


def publish_working(session: Session, metas: dict[str, dict], published_by: str
                    ) -> list[BundleVersion]:
    """Check the whole working catalog and publish every changed bundle; commit.

    Raises DefinitionError, publishing nothing, when any check fails.
    """
    found = documents(session)
    problems = check_documents(found, metas, expected_names=True)
    if problems:
        raise DefinitionError(problems)
    return publish_catalog(session, Catalog(found), published_by)


def publish_services(session: Session, codes: list[str], metas: dict[str, dict],
                     published_by: str) -> list[BundleVersion]:
    """Check and publish the named bundles and matters, each with all it needs, no other; commit.

    Only what the bundles need is read and checked, so one publish at city scale reads a
    few dozen definitions, not the catalog. Raises DefinitionError, publishing nothing,
    when any of them fails a check.
    """
    problems: list[Problem] = []
    documents_: dict[tuple[str, str], Document] = {}
    for code in dict.fromkeys(codes):
        kind = next((kind for kind in GUIDE_KINDS if find_entry(session, kind, code)), None)
        if kind is None:
            problems.append(Problem(f"{SHOWN_ROOT}/{path_for('bundle', code)}", "",
                                    Text("the working catalog has no bundle or matter {code!r}",
                                         code=code)))
            continue
        for item in scope(session, kind, code):
            documents_[(item.kind, item.code)] = Document(item.kind, item.path, item.data)
    found = list(documents_.values())
    problems += check_documents(found, metas, expected_names=True)
    if problems:
        raise DefinitionError(sorted(set(problems)))
    # On the record: who made which version live (the console's audit log lists it).
    return publish_catalog(session, Catalog(found), published_by,
                           codes=list(dict.fromkeys(codes)), audited=True)


def save_definition(session: Session, kind: str, data: dict, *, based_on: int | None,
                    saved_by: str, metas: dict[str, dict]) -> CatalogEntry:
    """Save one definition into the working catalog and commit.

    `based_on` is the revision the editor loaded (None for a new definition).
    The definition must pass its meta-schema, so the working catalog always
    loads; whether it composes with the rest is publishing's question.
    Raises StaleEdit when someone saved a newer revision, DefinitionError
    when the definition does not fit its meta-schema.
    """
    code = Document(kind, "", data).code
    path = path_for(kind, code) if code else f"{FOLDERS[kind]}/?"
    problems = meta_problems(kind, data, metas, f"{SHOWN_ROOT}/{path}")
    if not problems and not code:
        problems = [Problem(f"{SHOWN_ROOT}/{path}", "", Text("the definition has no code"))]
    if problems:
        raise DefinitionError(problems)
    entry = find_entry(session, kind, code)
    if entry is None:
        if based_on is not None:
            raise DefinitionError([Problem(f"{SHOWN_ROOT}/{path}", "",
                                           Text("this definition was deleted meanwhile"))])
        holder = _guide_code_holder(session, kind, code)
        if holder is not None:
            # Refused here, not only at publish: the administrator is still at the form.
            held_by = f"{SHOWN_ROOT}/{holder.path}"
            raise DefinitionError([Problem(f"{SHOWN_ROOT}/{path}", "/code", Text(
                "code {code!r} is already used by {file}", code=code, file=held_by),
                matters=(code,))])
        entry = CatalogEntry(kind=kind, code=code, path=path, text=format_definition(data),
                             updated_by=saved_by)
        try:
            _index(session, [entry])
            # Who changed the catalog, in the same transaction as the change.
            session.add(AuditEntry(actor=saved_by, action="definition_create",
                                   subject=f"{kind}:{code}", after={"revision": 1}))
            session.commit()
        except IntegrityError:
            # Another administrator created this code a moment ago (the unique kind and
            # code spoke): refused as a code already used, not a 500.
            session.rollback()
            raise DefinitionError([Problem(f"{SHOWN_ROOT}/{path}", "/code", Text(
                "code {code!r} is already used by {file}", code=code,
                file=f"{SHOWN_ROOT}/{path}"), matters=(code,))]) from None
        return entry
    if based_on != entry.revision:
        raise StaleEdit(entry)
    columns, references = index_of(kind, data)
    # Compare and set in one UPDATE: two saves racing on the same revision cannot both win.
    updated = session.execute(
        CatalogEntry.__table__.update()
        .where(CatalogEntry.__table__.c.id == entry.id,
               CatalogEntry.__table__.c.revision == based_on)
        .values(text=format_definition(data), revision=based_on + 1, updated_at=utc_now(),
                updated_by=saved_by, **columns)
    )
    if updated.rowcount != 1:
        session.rollback()
        session.refresh(entry)
        raise StaleEdit(entry)
    _forget_references(session, [(kind, code)])
    if references:
        session.execute(insert(CatalogReference), [
            {"source_kind": kind, "source_code": code, "target_kind": target_kind,
             "target_code": target_code} for target_kind, target_code in references])
    session.add(AuditEntry(actor=saved_by, action="definition_save", subject=f"{kind}:{code}",
                           before={"revision": based_on}, after={"revision": based_on + 1}))
    session.commit()
    session.refresh(entry)
    return entry


# --- import and export ------------------------------------------------------------------------


@dataclass
class ImportPlan:
    """What an import would change in the working catalog, or why it is refused."""

    sources: list[Source]
    problems: list[Problem]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def refused(self) -> bool:
        """True when any file is unreadable or any check fails: nothing may be imported."""
        return bool(self.problems)

    def summary(self) -> str:
        """One line per changed file, for people and for the command line."""
        lines = [f"+ {path}" for path in self.added]
        lines += [f"- {path}" for path in self.removed]
        lines += [f"~ {path}" for path in self.changed]
        lines.append(f"{len(self.added)} added, {len(self.removed)} removed, "
                     f"{len(self.changed)} changed, {self.unchanged} unchanged")
        return "\n".join(lines)


def plan_import(session: Session, root: Path, metas: dict[str, dict]) -> ImportPlan:
    """Read and check a schemas folder and compare it with the working catalog (a dry run)."""
    sources, problems = read_sources(root)
    problems += check_documents([s.document for s in sources], metas, expected_names=True)
    plan = ImportPlan(sources, sorted(set(problems)))
    current = {entry.path: entry.text for entry in entries(session)}
    incoming = {source.relative: source.text for source in sources}
    plan.added = sorted(incoming.keys() - current.keys())
    plan.removed = sorted(current.keys() - incoming.keys())
    both = incoming.keys() & current.keys()
    plan.changed = sorted(path for path in both if incoming[path] != current[path])
    plan.unchanged = len(both) - len(plan.changed)
    return plan


def apply_import(session: Session, plan: ImportPlan, imported_by: str) -> None:
    """Replace the working catalog with a checked import, in one transaction; commit."""
    if plan.refused:
        raise DefinitionError(plan.problems)
    current = {entry.path: entry for entry in entries(session)}
    incoming = {source.relative: source for source in plan.sources}
    try:
        if plan.removed:
            _forget_references(session, [(current[path].kind, current[path].code)
                                         for path in plan.removed])
            session.exec(delete(CatalogEntry).where(col(CatalogEntry.path).in_(plan.removed)))
        now = utc_now()
        touched = []
        for path in plan.changed:
            entry = current[path]
            entry.text = incoming[path].text
            entry.revision += 1
            entry.updated_at = now
            entry.updated_by = imported_by
            touched.append(entry)
        _index(session, touched)
        # New entries go in as rows, a thousand an INSERT: a city's first import adds
        # twelve thousand, and building an ORM object for each took a tenth of the start.
        rows, references = [], []
        for path in plan.added:
            document = incoming[path].document
            columns, named = index_of(document.kind, document.data)
            rows.append({"kind": document.kind, "code": document.code, "path": path,
                         "text": incoming[path].text, "revision": 1, "updated_at": now,
                         "updated_by": imported_by, **columns})
            references += [{"source_kind": document.kind, "source_code": document.code,
                            "target_kind": kind, "target_code": code} for kind, code in named]
        for table, batch in ((CatalogEntry, rows), (CatalogReference, references)):
            for start in range(0, len(batch), 1000):
                session.execute(insert(table), batch[start:start + 1000])
        session.commit()
    except BaseException:
        session.rollback()
        raise


def seed(session: Session, root: Path, seeded_by: str, progress: Progress | None = None
         ) -> ImportPlan:
    """Load a schemas folder into an empty working catalog (first start); commit.

    Raises DefinitionError, loading nothing, when any definition is refused.
    """
    if progress:
        progress("checking the definitions", 0, 1)
    plan = plan_import(session, root, read_meta(root))
    if progress:
        progress("checking the definitions", 1, 1)
        progress("seeding the working catalog", 0, len(plan.sources))
    apply_import(session, plan, seeded_by)
    if progress:
        progress("seeding the working catalog", len(plan.sources), len(plan.sources))
    return plan


@contextlib.contextmanager
def import_folder(path: Path) -> Iterator[Path]:
    """The schemas folder to import from a folder or a zip file (unpacked safely)."""
    if path.is_dir():
        yield path
        return
    if not zipfile.is_zipfile(path):
        raise DefinitionError([Problem(str(path), "", Text("not a folder or a zip file"))])
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise DefinitionError([Problem(path.name, "", Text(
            "the archive cannot be read: {error}", error=str(error)))]) from None
    with tempfile.TemporaryDirectory(prefix="onething-import-") as folder, archive:
        total = 0
        for member in archive.infolist():
            name = Path(member.filename)
            at = f"{path.name}/{member.filename}"
            # Refuse what would land outside the folder (../x, /etc/x) rather than skip it.
            if name.is_absolute() or ".." in name.parts:
                raise DefinitionError([Problem(at, "", Text("a path outside the archive"))])
            if member.flag_bits & 0x1:
                raise DefinitionError([Problem(at, "", Text(
                    "an encrypted member: export the folder again without a password"))])
            if member.compress_type not in READABLE_COMPRESSION:
                raise DefinitionError([Problem(at, "", Text(
                    "a member compressed in a way the platform cannot read (use deflate)"))])
            total += member.file_size
            if total > MAX_IMPORT_BYTES:
                raise DefinitionError([Problem(path.name, "", Text(
                    "the archive unpacks to more than {size} MiB",
                    size=MAX_IMPORT_BYTES // 2**20))])
        try:
            archive.extractall(folder)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
                zlib.error) as error:
            # A damaged member (bad CRC, cut short) is found only while unpacking it.
            raise DefinitionError([Problem(path.name, "", Text(
                "the archive cannot be unpacked: {error}", error=str(error)))]) from None
        yield _schemas_root(Path(folder))


# What zipfile unpacks without an extra library.
READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                        zipfile.ZIP_LZMA)


def _schemas_root(folder: Path) -> Path:
    # A zip of the folder itself holds schemas/...; a zip of its contents holds catalog/...
    children = [child for child in folder.iterdir() if child.is_dir()]
    if any((folder / f).is_dir() for f in FOLDERS.values()):
        return folder
    if len(children) == 1:
        return children[0]
    return folder


def export(session: Session, out: Path, platform_root: Path) -> int:
    """Write the working catalog as a schemas folder; return how many files were written.

    The definition files are written exactly as stored. The meta-schemas and the
    other files that are not definitions come from the platform's own schemas
    folder. Definition files in `out` that the catalog no longer has are removed,
    so exporting over a checkout of the definitions repository leaves its diff.
    """
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in sorted(platform_root.rglob("*")):
        relative = path.relative_to(platform_root)
        if path.is_dir() or relative.parts[0] in {"fields", "catalog"}:
            continue
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        written += 1
    wanted = {entry.path: entry.text for entry in entries(session)}
    for folder in FOLDERS.values():
        for stale in (out / folder).glob("*.json"):
            if stale.relative_to(out).as_posix() not in wanted:
                stale.unlink()
    for relative, text in wanted.items():
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Bytes, not text mode: no newline translation may change what was stored.
        target.write_bytes(text.encode("utf-8"))
        written += 1
    return written


# --- versions ---------------------------------------------------------------------------------


def history(session: Session, bundle_code: str) -> list[BundleVersion]:
    """Every published version of a bundle, newest first (without their snapshots)."""
    statement = (select(BundleVersion).where(BundleVersion.bundle_code == bundle_code)
                 .order_by(col(BundleVersion.number).desc()).options(WITHOUT_SNAPSHOT))
    return list(session.exec(statement).all())


def version(session: Session, bundle_code: str, number: int) -> BundleVersion | None:
    """One published version of a bundle, by its number."""
    return session.exec(select(BundleVersion).where(
        BundleVersion.bundle_code == bundle_code, BundleVersion.number == number)).first()


def rollback(session: Session, bundle_code: str, number: int, published_by: str
             ) -> BundleVersion:
    """Publish an old version again, as the newest version; commit.

    The old snapshot is copied whole, so applicants get exactly the old form;
    drafts and submissions stay pinned to the versions they started on. The
    working catalog is left as it is: what an administrator drafted is theirs.
    """
    old = version(session, bundle_code, number)
    if old is None:
        raise LookupError(f"{bundle_code} has no version {number}")
    latest = latest_version(session, bundle_code)
    again = BundleVersion(bundle_code=bundle_code, number=latest.number + 1, digest=old.digest,
                          source_digest=latest.source_digest or latest.digest,
                          name=old.name, documents=old.documents, published_by=published_by,
                          kind=old.kind, note=f"rollback to v{number}")
    session.add(again)
    session.flush()
    directory.record(session, [(again.id, bundle_of(old))])
    session.add(AuditEntry(actor=published_by, action="rollback",
                           subject=f"{old.kind}:{bundle_code}",
                           before={"version": latest.number},
                           after={"version": again.number, "as": number}))
    session.commit()
    return again


def version_diff(older: BundleVersion, newer: BundleVersion, answers: dict | None = None,
                 locale: str = "zh-Hans"):
    """What changes for applicants and departments from one version to another."""
    return diff_compositions(compose(bundle_of(older), answers),
                             compose(bundle_of(newer), answers), locale)


def seed_and_publish(session: Session, root: Path, progress: Progress | None = None) -> None:
    """Load an empty working catalog from a schemas folder and publish it (first start).

    Once seeded, the database owns the catalog: later changes come through the
    console or `onething catalog import`, so a restart never undoes a publish.
    Seeding and publishing are one transaction each: a first start stopped during
    either leaves nothing half done, and the next start takes up where it stopped (it
    seeds an empty catalog, and publishes a seeded one nothing was ever published from).
    """
    if is_empty(session):
        seed(session, root, seeded_by="schemas/", progress=progress)
    elif session.exec(select(BundleVersion.id).limit(1)).first() is not None:
        return
    publish_catalog(session, Catalog(documents(session)), published_by="schemas/",
                    progress=progress)
