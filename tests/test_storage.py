"""Storage of the applicant side: migrations, published versions and drafts, on SQLite and PG."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import JSON, bindparam, insert, inspect, literal
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select
from sqlalchemy import table as sa_table
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from onething.cases.workflow import DraftSubmitted, create_draft, find_draft, save_draft, token_hash
from onething.catalog.definitions import FIELD_BASE, Catalog, Document
from onething.composer.compose import compose
from onething.publishing.check import load_catalog
from onething.publishing.versions import bundle_of, latest_version, publish_catalog, snapshot
from onething.storage.db import DriverStatement, make_engine, migrate, session_for
from onething.storage.models import (
    AuditEntry,
    BundleVersion,
    Draft,
    IndustryLicence,
    Rating,
    Rectification,
    StoredFile,
    Submission,
)

TABLES = {"bundle_version", "stored_file", "draft", "submission", "task"}


# --- migrations -------------------------------------------------------------------------------


def test_migration_creates_the_tables(blank_engine):
    assert not TABLES & set(inspect(blank_engine).get_table_names())
    migrate(blank_engine)
    assert TABLES <= set(inspect(blank_engine).get_table_names())


# SQLite's reflection cannot read an index on an expression (models.tracking_tail), so
# autogenerate leaves that one index uncompared there; PostgreSQL compares it.
@pytest.mark.filterwarnings(
    "ignore:Skipped unsupported reflection of expression-based index ix_submission_tracking_tail",
    "ignore:autogenerate skipping metadata-specified expression-based index "
    "'ix_submission_tracking_tail'")
def test_migrated_schema_matches_the_models(engine):
    # Every table on SQLModel.metadata, not just these five: a model without its
    # migration is a bug wherever it lives.
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_migrating_twice_changes_nothing(engine):
    migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())


def test_migration_0029_merges_open_rectifications_and_marks_the_licences_issued(
        blank_engine, demo_catalog):
    # The race 0029's index prevents left ratings with two open rectifications: upgrading
    # such a database keeps the earliest open, closes the others, and does not abort.
    migrate(blank_engine, "0028")
    now = dt.datetime.now(dt.UTC)
    with session_for(blank_engine) as session:
        version = publish_catalog(session, demo_catalog, "tester")[0]
        draft, _ = create_draft(session, version)
        case = Submission(tracking_number="MIGRATED1", answers={}, data={}, materials={},
                          submitted_at=now, draft_id=draft.id, bundle_version_id=version.id,
                          idempotency_key="migrated-1", token_hash="0" * 64)
        session.add(case)
        session.flush()
        ratings = [Rating(submission_id=case.id, target=f"case-{n}", department_code="sn-amr",
                          bundle_code=version.bundle_code, level=1) for n in range(2)]
        session.add_all(ratings)
        session.flush()
        statuses = [(ratings[0], "closed"), (ratings[0], "open"), (ratings[0], "replied"),
                    (ratings[0], "open"), (ratings[1], "open")]
        for rating, status in statuses:
            session.add(Rectification(
                rating_id=rating.id, submission_id=case.id, department_code="sn-amr",
                bundle_code=version.bundle_code, level=1, status=status,
                due_date=now.date(), closed_at=now if status == "closed" else None))
        session.commit()
        rating_ids = [rating.id for rating in ratings]
        # The licence table as 0028 left it: no token yet.
        session.execute(insert(sa_table(
            "industry_licence", *(sa_column(name) for name in (
                "number", "submission_id", "bundle_code", "holder", "issued_at",
                "valid_until")), *(sa_column(name, JSON) for name in (
                    "name", "industry", "issuer")))).values(
            number="便利370202202600001", submission_id=case.id,
            bundle_code=version.bundle_code, name={}, industry={}, issuer={},
            holder="x", issued_at=now, valid_until=now.date()))
        session.commit()
    migrate(blank_engine)
    with session_for(blank_engine) as session:
        rows = session.exec(select(Rectification).order_by(Rectification.id)).all()
        first = rows[1].id
        assert [(row.rating_id, row.status) for row in rows] == [
            (rating_ids[0], "closed"), (rating_ids[0], "open"), (rating_ids[0], "closed"),
            (rating_ids[0], "closed"), (rating_ids[1], "open")]
        for merged in (rows[2], rows[3]):
            assert merged.closed_at is not None
            assert f"merged into rectification {first}" in merged.closed_by
        audits = session.exec(select(AuditEntry).where(
            AuditEntry.action == "rectification_close").order_by(AuditEntry.id)).all()
        assert [(a.subject, a.after["merged_into"]) for a in audits] == [
            (f"rectification:{rows[2].id}", first), (f"rectification:{rows[3].id}", first)]
        assert audits[0].before == {"status": "replied"}
        licence = session.exec(select(IndustryLicence)).one()
        assert licence.number_link and len(licence.token) == 43
    indexes = {index["name"]: index for index in inspect(blank_engine).get_indexes("rectification")}
    assert indexes["uq_rectification_open_rating"]["unique"]
    # The index holds from now on.
    with session_for(blank_engine) as session:
        session.add(Rectification(**rows[1].model_dump(exclude={"id"})))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_unique_constraints_hold(session, published):
    version = published["open-restaurant"]
    session.add(BundleVersion(
        bundle_code=version.bundle_code, number=version.number, digest="x", name="x",
        documents=[], published_by="tester",
    ))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_foreign_keys_are_enforced(session):
    # SQLite ignores foreign keys unless make_engine turns them on.
    session.add(Draft(public_id="p", token_hash="0" * 64, bundle_version_id=999))
    with pytest.raises(IntegrityError):
        session.commit()
    session.rollback()


def test_timestamps_come_back_aware_in_utc(engine, session):
    session.add(StoredFile(sha256="a" * 64, size=3, content_type="application/pdf"))
    session.commit()
    with session_for(engine) as other:
        stored = other.get(StoredFile, "a" * 64)
        assert stored.created_at.tzinfo is not None
        assert stored.created_at.utcoffset() == dt.timedelta(0)
        assert abs(dt.datetime.now(dt.UTC) - stored.created_at) < dt.timedelta(minutes=5)


def test_make_engine_refuses_other_databases():
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql://localhost/onething")


def test_a_plain_postgresql_url_uses_psycopg_3():
    engine = make_engine("postgresql://user@localhost/onething")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


# --- driver statements (the submit hot path) ---------------------------------------------------


_DRAFT = Draft.__table__.c
_INSERT_DRAFT = DriverStatement(
    insert(Draft).values({name: bindparam(name) for name in (
        "public_id", "token_hash", "bundle_version_id", "answers", "data", "materials",
        "created_at", "updated_at")}).returning(_DRAFT.id))
_DRAFT_BY_ID = DriverStatement(
    sa_select(_DRAFT.public_id, _DRAFT.data, _DRAFT.updated_at, _DRAFT.submitted_at,
              literal("fixed").label("literal"))
    .where(_DRAFT.id == bindparam("id")))


def test_a_driver_statement_writes_and_reads_what_core_does(engine, session, published):
    # JSON and aware timestamps go through the columns' own types, as Core binds them.
    when = dt.datetime(2026, 9, 28, 8, 30, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    data = {"entity_name": "海风<b>餐饮</b>", "matters": {"x": {"n": 1.5, "ok": True}}}
    connection = session.connection()
    ((draft_id,),) = _INSERT_DRAFT.rows(connection, {
        "public_id": "driver", "token_hash": "0" * 64,
        "bundle_version_id": published["open-restaurant"].id, "answers": {}, "data": data,
        "materials": {}, "created_at": when, "updated_at": when})
    session.commit()
    with session_for(engine) as other:
        stored = other.get(Draft, draft_id)
        assert stored.data == data
        assert stored.updated_at == when and stored.updated_at.utcoffset() == dt.timedelta(0)
        assert _DRAFT_BY_ID.rows(other.connection(), {"id": draft_id}) == [
            ("driver", data, when, None, "fixed")]
        assert _DRAFT_BY_ID.rows(other.connection(), {"id": draft_id + 1}) == []


def test_a_driver_statement_raises_the_drivers_integrity_error(engine, session, published):
    values = {"public_id": "twice", "token_hash": "0" * 64,
              "bundle_version_id": published["open-restaurant"].id, "answers": {}, "data": {},
              "materials": {}, "created_at": dt.datetime.now(dt.UTC),
              "updated_at": dt.datetime.now(dt.UTC)}
    _INSERT_DRAFT.rows(session.connection(), values)
    with pytest.raises(engine.dialect.loaded_dbapi.IntegrityError):
        _INSERT_DRAFT.rows(session.connection(), values)
    session.rollback()
    # The failed transaction wrote nothing, not even the first row.
    assert session.exec(select(Draft).where(Draft.public_id == "twice")).first() is None


def test_a_driver_statement_refuses_an_untyped_parameter(session):
    # Core types only the first row of a multi-row INSERT: the others would reach the
    # driver unconverted, so an untyped parameter is refused before anything runs.
    statement = DriverStatement(insert(StoredFile).values(
        [{"sha256": bindparam(f"sha256_{i}"), "size": bindparam(f"size_{i}"),
          "content_type": bindparam(f"type_{i}")} for i in range(2)]))
    with pytest.raises(TypeError, match="sha256_1"):
        statement.execute(session.connection(), {})


def test_a_driver_statement_refuses_naive_timestamps(session, published):
    # The column type's own check runs: the hot path cannot store an ambiguous time.
    with pytest.raises(ValueError, match="timezone-aware"):
        _INSERT_DRAFT.rows(session.connection(), {
            "public_id": "naive", "token_hash": "0" * 64,
            "bundle_version_id": published["open-restaurant"].id, "answers": {}, "data": {},
            "materials": {}, "created_at": dt.datetime(2026, 1, 1),
            "updated_at": dt.datetime(2026, 1, 1)})
    session.rollback()


# --- publishing -------------------------------------------------------------------------------


def test_publishing_creates_version_1_of_every_bundle_and_matter(session, published,
                                                                demo_catalog):
    # A matter is a service in its own right, applied for alone as a bundle of one.
    assert set(published) == set(demo_catalog.bundles) | set(demo_catalog.matters)
    for code, version in published.items():
        assert version.number == 1
        assert version.kind == ("bundle" if code in demo_catalog.bundles else "matter")
        assert version.digest == demo_catalog.service(code).version
        assert version.published_by == "tester"
        assert version.published_at.tzinfo is not None
        assert latest_version(session, code).id == version.id


def test_publishing_an_unchanged_catalog_publishes_nothing(session, published, demo_catalog):
    assert publish_catalog(session, demo_catalog, "tester") == []
    assert len(session.exec(select(BundleVersion)).all()) == len(published)


def test_an_unpublished_bundle_has_no_latest_version(session):
    assert latest_version(session, "open-restaurant") is None


def test_the_snapshot_holds_exactly_what_the_bundle_needs(published, demo_catalog):
    version = published["open-restaurant"]
    bundle = demo_catalog.bundles["open-restaurant"]
    kinds = {}
    for document in version.documents:
        kinds.setdefault(document["kind"], set()).add(Document(**document).code)
    assert kinds["bundle"] == {"open-restaurant"}
    assert kinds["matter"] == {item.matter for item in bundle.flatten()}
    # The matters' departments and the lead department, whose hall is the one window.
    assert kinds["department"] == {
        demo_catalog.matters[item.matter].department for item in bundle.flatten()
    } | {bundle.data["lead_department"]}
    # The library fields its matters ask for, and no other: a change to another field of
    # the library is no new version of this bundle.
    forms = json.dumps([demo_catalog.matters[code].form for code in bundle.matter_codes()])
    asked = {ref.removeprefix(FIELD_BASE) for ref in re.findall(r'"\$ref": "([^"]+)"', forms)
             if ref.startswith(FIELD_BASE)}
    # ... with the fields those fields are made of (an address holds a division code).
    assert kinds["field"] == set(bundle.field_keys())
    assert asked < kinds["field"] < set(demo_catalog.fields)
    assert "division_code" in kinds["field"] - asked


def test_a_matter_alone_is_published_as_its_matter_and_rebuilt_as_a_bundle_of_one(
        engine, published, demo_catalog):
    version = published["outdoor-signboard"]
    kinds = {}
    for document in version.documents:
        kinds.setdefault(document["kind"], set()).add(Document(**document).code)
    assert "bundle" not in kinds and kinds["matter"] == {"outdoor-signboard"}
    assert kinds["department"] == {"sn-urban-mgmt"}
    with session_for(engine) as other:
        alone = bundle_of(latest_version(other, "outdoor-signboard"))
    assert alone.alone and alone.code == "outdoor-signboard"
    assert alone.matter_codes() == ["outdoor-signboard"] and not alone.questions["properties"]
    assert alone.data["lead_department"] == "sn-urban-mgmt"
    composition = compose(alone)
    assert composition.plan.critical_path_days == demo_catalog.matters[
        "outdoor-signboard"].data["time_limit"]["promised_days"]


def test_a_version_rebuilds_its_bundle_with_the_same_digest(engine, published, demo_catalog):
    with session_for(engine) as other:  # read back from the database, not the session's copy
        for code in published:
            version = latest_version(other, code)
            bundle = bundle_of(version)
            assert bundle.version == version.digest == demo_catalog.service(code).version
            expected = compose(demo_catalog.service(code)).as_dict()
            assert compose(bundle).as_dict() == expected


def test_bundle_of_is_cached_by_digest(published):
    version = published["open-restaurant"]
    assert bundle_of(version) is bundle_of(version)


def test_nested_bundles_are_in_the_snapshot(demo_catalog):
    for bundle in demo_catalog.bundles.values():
        documents = [Document(**d) for d in snapshot(bundle)]
        rebuilt = Catalog(documents).bundle(bundle.code)
        assert rebuilt.version == bundle.version
        assert {b.code for b in rebuilt.nested_bundles()} == {
            b.code for b in bundle.nested_bundles()
        }


def _slow_down_food_licence(root):
    path = root / "catalog" / "matters" / "food-business-licence.json"
    matter = json.loads(path.read_text(encoding="utf-8"))
    old = matter["time_limit"]["promised_days"]
    matter["time_limit"]["promised_days"] = old + 2
    path.write_text(json.dumps(matter, ensure_ascii=False), encoding="utf-8")
    return old


def test_a_changed_definition_publishes_version_2_and_version_1_stays_pinned(
    engine, session, published, demo_root, demo_catalog
):
    old_days = _slow_down_food_licence(demo_root)
    changed = load_catalog(demo_root)
    uses_food = {
        code for code, bundle in changed.bundles.items()
        if any(item.matter == "food-business-licence" for item in bundle.flatten())
    }
    assert "open-restaurant" in uses_food

    second = publish_catalog(session, changed, "tester")

    # The bundles using the matter, and the matter applied for alone.
    assert {v.bundle_code for v in second} == uses_food | {"food-business-licence"}
    assert all(v.number == 2 for v in second)
    assert publish_catalog(session, changed, "tester") == []
    with session_for(engine) as other:
        version_1 = other.exec(select(BundleVersion).where(
            BundleVersion.bundle_code == "open-restaurant", BundleVersion.number == 1
        )).one()
        version_2 = latest_version(other, "open-restaurant")
        assert version_2.number == 2
        old_plan = compose(bundle_of(version_1)).plan
        new_plan = compose(bundle_of(version_2)).plan
    assert old_plan.step("food-business-licence").promised_days == old_days
    assert new_plan.step("food-business-licence").promised_days == old_days + 2
    assert old_plan.as_dict() == compose(demo_catalog.bundles["open-restaurant"]).plan.as_dict()


# --- drafts -----------------------------------------------------------------------------------


def test_a_draft_is_found_with_its_token_only(engine, session, published):
    draft, token = create_draft(session, published["open-restaurant"])
    with session_for(engine) as other:
        found = find_draft(other, draft.public_id, token)
        assert found is not None and found.id == draft.id
        assert find_draft(other, draft.public_id, token + "x") is None
        assert find_draft(other, draft.public_id, "") is None
        assert find_draft(other, draft.public_id, None) is None
        assert find_draft(other, "no-such-draft", token) is None


def test_the_token_itself_is_never_stored(session, published):
    draft, token = create_draft(session, published["open-restaurant"], created_by="window-3")
    assert draft.token_hash == token_hash(token)
    stored = session.get(Draft, draft.id)
    assert token not in json.dumps(stored.model_dump(mode="json"))
    assert stored.created_by == "window-3"
    assert len(token) >= 32


def test_drafts_get_distinct_public_ids_and_tokens(session, published):
    made = [create_draft(session, published["open-restaurant"]) for _ in range(5)]
    assert len({d.public_id for d, _ in made}) == 5
    assert len({t for _, t in made}) == 5


def test_save_draft_keeps_what_is_not_given(engine, session, published):
    draft, token = create_draft(session, published["open-restaurant"])
    created = draft.updated_at
    save_draft(session, draft, answers={"sells_tobacco": True})
    save_draft(session, draft, data={
        "entity_name": "青岛海风餐饮有限公司",
        "matters": {"tobacco-retail-licence": {"retail_format": "restaurant"}},
    })
    save_draft(session, draft, data={
        "premises_area": 80,
        "matters": {"outdoor-signboard": {"signboard_text": "海风小馆"}},
    })
    save_draft(session, draft, materials={"tobacco-application": {"state": "deferred"}})
    save_draft(session, draft, data={
        "matters": {"tobacco-retail-licence": {"retail_format": "grocery", "is_chain_store": True}},
    })
    with session_for(engine) as other:
        stored = find_draft(other, draft.public_id, token)
        assert stored.answers == {"sells_tobacco": True}
        assert stored.data == {
            "entity_name": "青岛海风餐饮有限公司",
            "premises_area": 80,
            "matters": {
                "tobacco-retail-licence": {"retail_format": "grocery", "is_chain_store": True},
                "outdoor-signboard": {"signboard_text": "海风小馆"},
            },
        }
        assert stored.materials == {"tobacco-application": {"state": "deferred"}}
        assert stored.updated_at > created


def test_save_draft_removes_what_is_given_as_none(session, published):
    draft, _ = create_draft(session, published["open-restaurant"])
    save_draft(session, draft, data={"entity_name": "甲乙", "premises_area": 80,
                                     "matters": {"outdoor-signboard": {"lighting": True}}})
    save_draft(session, draft, data={"premises_area": None, "matters": {"outdoor-signboard": None}},
               materials={"signboard-design": None})
    assert draft.data == {"entity_name": "甲乙", "matters": {}}


def test_save_draft_does_not_keep_a_reference_to_the_callers_dict(session, published):
    draft, _ = create_draft(session, published["open-restaurant"])
    data = {"legal_representative": {"name": "张三"}}
    save_draft(session, draft, data=data)
    data["legal_representative"]["name"] = "李四"
    assert draft.data["legal_representative"]["name"] == "张三"


def test_a_submitted_draft_cannot_be_saved(session, published):
    draft, _ = create_draft(session, published["open-restaurant"])
    draft.submitted_at = dt.datetime.now(dt.UTC)
    session.commit()
    with pytest.raises(DraftSubmitted):
        save_draft(session, draft, data={"entity_name": "甲乙"})


def test_a_bundles_matter_codes_list_each_matter_once_in_item_order():
    # 一类事: a matter held directly and again through a nested bundle counts once.
    documents = [
        Document("bundle", "bundles/outer.json", {"code": "outer", "items": [
            {"matter": "b"}, {"bundle": "inner"}, {"matter": "c", "when": {"x": True}}]}),
        Document("bundle", "bundles/inner.json", {"code": "inner", "items": [
            {"matter": "a"}, {"matter": "b"}]}),
    ]
    catalog = Catalog(documents)
    assert catalog.bundle("outer").matter_codes() == ["b", "a", "c"]
    assert [item.matter for item in catalog.bundle("outer").flatten()] == ["b", "a", "b", "c"]


def test_rebuilt_bundles_are_kept_up_to_a_bound_least_recently_used_first(
        engine, published, monkeypatch):
    from onething.publishing import versions

    monkeypatch.setattr(versions, "BUNDLE_CACHE_SIZE", 3)
    monkeypatch.setattr(versions, "_BUNDLES", versions.OrderedDict())
    with session_for(engine) as other:
        codes = sorted(published)[:5]
        rebuilt = {code: bundle_of(latest_version(other, code)) for code in codes}
        assert len(versions._BUNDLES) == 3
        # The newest three are kept, and asking for one keeps it from being dropped next.
        assert bundle_of(latest_version(other, codes[2])) is rebuilt[codes[2]]
        bundle_of(latest_version(other, codes[0]))
        kept = [key.split("@")[0] for key in versions._BUNDLES]
        assert kept == [codes[4], codes[2], codes[0]]
