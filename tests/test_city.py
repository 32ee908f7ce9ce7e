"""A city-sized catalog (2,000 generated matters): lists page in the database, editors and
publishing read only what they touch, and a publish or rollback leaves other bundles alone."""

from __future__ import annotations

import json
import re
import sys

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from onething.cli import main
from onething.publishing.working_catalog import (
    find_entries,
    find_entry,
    holders,
    rollback,
    save_definition,
    scope,
)
from onething.storage.db import make_engine
from onething.storage.models import BundleVersion, CatalogEntry
from test_admin import PASSWORD, add_account, token_of

from conftest import REPO, empty_postgres

sys.path.insert(0, str(REPO / "benchmarks"))
from citycatalog import write_city

MATTERS = 2000
# The generated city takes the repository's field library as it is.
FIELDS = len(list((REPO / "schemas" / "fields").glob("*.json")))


@pytest.fixture(scope="module")
def city_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("city") / "schemas"
    written = write_city(root, matters=MATTERS, seed=7)
    assert written["matters"] == MATTERS
    return root


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql",
                                                                marks=pytest.mark.postgres)])
def city(request, city_root, tmp_path_factory):
    """The app on the city catalog, seeded and published once per database; yields the app."""
    from onething.web.app import create_app

    instance = tmp_path_factory.mktemp("city-instance")
    if request.param == "sqlite":
        url = f"sqlite:///{instance / 'city.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        empty_postgres(url).dispose()
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SCHEMAS": str(city_root),
                      "DEMO_ACCOUNTS": False}, instance_path=instance)
    add_account(app, "admin", "administrator")
    yield app
    app.extensions["onething.engine"].dispose()


@pytest.fixture
def console(city):
    client = city.test_client()
    page = client.get("/login").text
    client.post("/login", data={"username": "admin", "password": PASSWORD,
                                "csrf_token": token_of(page)})
    return client


def session_of(app) -> Session:
    return Session(app.extensions["onething.engine"])


def versions(app, code: str) -> list[int]:
    with session_of(app) as session:
        return sorted(v.number for v in session.exec(
            select(BundleVersion).where(BundleVersion.bundle_code == code)).all())


def listed(page: str, list_id: str) -> list[str]:
    section = page.split(f'id="{list_id}"', 1)[1].split("</ul>", 1)[0]
    return re.findall(r"<code>([a-z0-9-]+)</code>", section)


def test_the_console_lists_fifty_matters_a_page_with_the_total(console):
    first = console.get("/admin/").text
    assert f"({MATTERS})" in first
    assert len(listed(first, "matter-list")) == 50
    assert "第 1 页，共 40 页" in first
    last = console.get("/admin/", query_string={"matters": 40}).text
    codes = listed(last, "matter-list")
    assert len(codes) == 50 and codes == sorted(codes)
    assert not set(codes) & set(listed(first, "matter-list"))
    # A page past the end shows the last one, not an empty list.
    assert listed(console.get("/admin/", query_string={"matters": 99}).text,
                  "matter-list") == codes


def test_a_search_by_initials_pinyin_or_code_is_answered_by_the_database(city, console):
    # 消防救援: the fire brigades' matters, by initials and by full pinyin.
    by_initials = console.get("/admin/", query_string={"q": "xfjy"}).text
    by_pinyin = console.get("/admin/", query_string={"q": "xiaofangjiuyuan"}).text
    assert listed(by_initials, "department-list") == listed(by_pinyin, "department-list")
    assert listed(by_initials, "department-list")
    assert all(code.endswith("-fire") for code in listed(by_initials, "department-list"))
    with session_of(city) as session:
        fire = find_entries(session, "matter", query="shn-fire", size=1000)
        expected = sorted(e.code for e in session.exec(select(CatalogEntry).where(
            CatalogEntry.kind == "matter", CatalogEntry.department_code == "shn-fire")).all())
    assert sorted(e.code for e in fire.rows) == expected and fire.total == len(expected)
    # A wildcard of SQL is a character like any other.
    assert "(0)" in console.get("/admin/", query_string={"q": "%_"}).text


def test_filters_keep_a_departments_matters_and_the_bundles_involving_it(city, console):
    page = console.get("/admin/", query_string={"department": "shn-amr"}).text
    assert listed(page, "department-list") == ["shn-amr"]
    assert all(code.startswith("shn-amr-") for code in listed(page, "matter-list"))
    bundles = listed(page, "bundle-list")
    assert bundles
    with session_of(city) as session:
        for code in bundles:
            catalog = scope(session, "bundle", code)
            assert "shn-amr" in catalog.bundle(code).department_codes()
    districts = console.get("/admin/", query_string={"level": "city"}).text
    assert all(code.startswith("qdc-") for code in listed(districts, "department-list"))


def test_the_editors_read_only_what_their_definition_needs(city, console):
    with session_of(city) as session:
        one_class = next(e for e in session.exec(select(CatalogEntry).where(
            CatalogEntry.kind == "bundle")).all() if '"one_class"' in e.text)
        catalog = scope(session, "bundle", one_class.code)
        nested = [item["bundle"] for item in json.loads(one_class.text)["items"]]
        assert set(catalog.bundles) == {one_class.code, *nested}
        assert len(catalog.matters) == len(catalog.bundle(one_class.code).matter_codes())
        assert len(catalog.matters) < 30
        matter = catalog.bundle(nested[0]).matter_codes()[0]
        # The matter editor names every bundle holding it, the 一类事 through its nesting.
        assert {one_class.code, nested[0]} <= set(holders(session, "matter", matter))
    assert console.get(f"/admin/bundles/{one_class.code}").status_code == 200
    page = console.get(f"/admin/matters/{matter}").text
    assert one_class.code in page and nested[0] in page


def test_publishing_one_bundle_never_republishes_another(city, console):
    with session_of(city) as session:
        first, second = [e.code for e in find_entries(session, "bundle", query="shb-bundle-00",
                                                      size=2).rows]
    for code in (first, second):
        edit(city, "bundle", code, lambda data: data.update(
            keywords=[*data.get("keywords", []), "一次办好"]))
    editor = console.get(f"/admin/bundles/{first}").text
    published = console.post(f"/admin/bundles/{first}/publish",
                             data={"csrf_token": token_of(editor)}, headers={"HX-Request": "1"})
    assert published.status_code == 200
    assert f"{first} v2" in published.text and second not in published.text
    assert versions(city, first) == [1, 2] and versions(city, second) == [1]


def edit(app, kind: str, code: str, change) -> None:
    """Change one definition of the working catalog, as the console saves it."""
    with session_of(app) as session:
        entry = find_entry(session, kind, code)
        data = json.loads(entry.text)
        change(data)
        save_definition(session, kind, data, based_on=entry.revision, saved_by="t",
                        metas=_metas(app))


def _metas(app):
    from onething.web.extensions import meta_schemas

    with app.app_context():
        return meta_schemas(app)


def test_a_rollback_stays_when_other_bundles_and_everything_changed_are_published(city):
    with session_of(city) as session:
        code, other = [e.code for e in find_entries(session, "bundle", query="lsh-bundle-00",
                                                    size=2).rows]
    for name in (code, other):
        edit(city, "bundle", name, lambda data, name=name: data.update(
            description={"zh-Hans": f"{name} 的新说明"}))
    runner = CliRunner(env={"ONETHING_DATABASE_URL": city.config["DATABASE_URL"],
                            "ONETHING_SCHEMAS": city.config["SCHEMAS"],
                            "ONETHING_INSTANCE_PATH": city.instance_path})
    named = runner.invoke(main, ["catalog", "publish", code])
    assert named.exit_code == 0, named.output
    assert named.output.strip() == f"published {code} v2"
    with session_of(city) as session:
        rollback(session, code, 1, "t")
    assert versions(city, code) == [1, 2, 3]
    everything = runner.invoke(main, ["catalog", "publish"])
    assert everything.exit_code == 0, everything.output
    # The other changed bundle is published; the rolled-back one stays at its rollback.
    assert f"published {other} v2" in everything.output and code not in everything.output
    assert versions(city, code) == [1, 2, 3]
    again = runner.invoke(main, ["catalog", "publish", code])
    assert again.output.strip() == f"published {code} v4"
    unknown = runner.invoke(main, ["catalog", "publish", "no-such-bundle"])
    assert unknown.exit_code == 2 and "no bundle or matter 'no-such-bundle'" in unknown.output


def test_a_new_bundle_finds_its_first_matter_by_name(console):
    options = console.get("/admin/matters/choices", query_string={"matter": "xiaofang"}).text
    assert options.count("<option") == 20
    assert options.count("消防") >= 20
    page = console.get("/admin/bundles/new").text
    assert 'list="matter-options"' in page and "<select id=\"matter\"" not in page
    created = console.post("/admin/bundles/new", data={
        "csrf_token": token_of(page), "code": "city-new-bundle", "name_zh": "新的一件事",
        "kind": "one_thing", "matter": "shn-fire-001"})
    assert created.status_code == 302, created.text[:400]
    refused = console.post("/admin/bundles/new", data={
        "csrf_token": token_of(page), "code": "city-other", "name_zh": "又一件事",
        "kind": "one_thing", "matter": "no-such-matter"})
    assert refused.status_code == 422


def test_a_matter_no_bundle_holds_has_a_guide_and_is_published_alone(city, console):
    with session_of(city) as session:
        held = {code for (code,) in session.execute(select(CatalogEntry.code).where(
            CatalogEntry.kind == "matter")).all() if holders(session, "matter", code)}
        alone = next(e.code for e in find_entries(session, "matter", query="pds-", size=200).rows
                     if e.code not in held)
    guide = console.get(f"/g/{alone}")
    assert guide.status_code == 200 and f'href="/b/{alone}"' in guide.text
    assert "单独申请本事项" in guide.text and "所属“一件事”" not in guide.text
    assert console.get(f"/b/{alone}").status_code == 200
    # Edited and published from its editor: a new version of it, of nothing else.
    edit(city, "matter", alone, lambda data: data.update(
        handling="on_the_spot", time_limit={**data["time_limit"], "promised_days": 0}))
    with session_of(city) as session:
        before = session.exec(select(BundleVersion.id)).all()
    editor = console.get(f"/admin/matters/{alone}").text
    published = console.post(f"/admin/matters/{alone}/publish",
                             data={"csrf_token": token_of(editor)}, headers={"HX-Request": "1"})
    assert published.status_code == 200 and f"{alone} v2" in published.text
    with session_of(city) as session:
        assert len(session.exec(select(BundleVersion.id)).all()) == len(before) + 1
    assert versions(city, alone) == [1, 2]


def test_the_home_page_lists_fifty_bundles_a_page(city):
    client = city.test_client()
    first = client.get("/").text
    codes = re.findall(r'<h2><a href="/b/([a-z0-9-]+)"', first)
    assert len(codes) == 50 and "第 1 页，共 2 页" in first and 'rel="next"' in first
    second = client.get("/", query_string={"page": 2}).text
    rest = re.findall(r'<h2><a href="/b/([a-z0-9-]+)"', second)
    with session_of(city) as session:
        bundles = session.exec(select(BundleVersion.bundle_code).where(
            BundleVersion.kind == "bundle").distinct()).all()
    assert sorted(codes + rest) == sorted(bundles) and not set(codes) & set(rest)
    assert client.get("/", query_string={"page": "x"}).status_code == 200


class Stopped(BaseException):
    """A first start stopped where a kill would stop it (not an error the code catches)."""


@pytest.mark.parametrize("stop_in", ["seeding", "publishing"])
def test_a_first_start_stopped_halfway_leaves_nothing_half_done_and_continues(
        city_root, tmp_path, monkeypatch, stop_in):
    from onething.publishing import versions, working_catalog
    from onething.web.app import create_app

    config = {"TESTING": True, "SCHEMAS": str(city_root), "DEMO_ACCOUNTS": False,
              "DATABASE_URL": f"sqlite:///{tmp_path / 'stopped.db'}"}
    calls = []

    def stop(original, at: int):
        def stopping(*args, **kwargs):
            calls.append(1)
            if len(calls) == at:  # with part of the work gone to the database already
                raise Stopped()
            return original(*args, **kwargs)
        return stopping

    if stop_in == "publishing":
        monkeypatch.setattr(versions, "_insert", stop(versions._insert, 2))
    else:
        monkeypatch.setattr(working_catalog, "index_of", stop(working_catalog.index_of, 1000))
    with pytest.raises(Stopped):
        create_app(config, instance_path=tmp_path / "instance")
    engine = make_engine(config["DATABASE_URL"])
    with Session(engine) as session:
        assert session.exec(select(BundleVersion)).all() == []
        seeded = len(session.exec(select(CatalogEntry)).all())
    assert seeded == (0 if stop_in == "seeding" else MATTERS + 260 + FIELDS + 90)
    monkeypatch.undo()
    app = create_app(config, instance_path=tmp_path / "instance")
    with Session(engine) as session:
        services = session.exec(select(BundleVersion.bundle_code)).all()
        assert len(services) == len(set(services)) == MATTERS + 90
        assert len(session.exec(select(CatalogEntry)).all()) == MATTERS + 260 + FIELDS + 90
    app.extensions["onething.engine"].dispose()
    engine.dispose()


def test_the_manual_finds_and_lists_matters_no_bundle_holds(city):
    with session_of(city) as session:
        held = {code for (code,) in session.execute(select(CatalogEntry.code).where(
            CatalogEntry.kind == "matter")).all() if holders(session, "matter", code)}
        alone = [e for e in find_entries(session, "matter", query="lsh-", size=200).rows
                 if e.code not in held][:5]
        # District copies share names: people name the district's department too.
        queries = {e.code: find_entry(session, "department", e.department_code).name
                   + " " + e.name for e in alone}
    client = city.test_client()
    for entry in alone:
        found = client.get("/manual", query_string={"q": queries[entry.code]},
                           headers={"HX-Request": "true", "HX-Target": "search-results"}).text
        assert entry.code in re.findall(r'<a href="/g/([^"]+)"', found)[:3], queries
    listed = client.get("/manual", query_string={"kind": "matter", "page": 3}).text
    assert len(re.findall(r'<a href="/g/([^"]+)"><strong>', listed)) == 50
    assert f"共 {MATTERS:,} 项服务" in listed or f"共 {MATTERS} 项服务" in listed
    overview = client.get("/manual").text
    assert len(overview) < 60_000 and "/manual?kind=matter" in overview
