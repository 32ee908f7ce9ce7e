"""One-sentence search (一句话办事) and the service manual (服务手册)."""

from __future__ import annotations

import json
import re

import pytest
from sqlmodel import Session

from onething.guides.search import build_index, directory_index, load_synonyms
from onething.publishing.check import load_catalog
from onething.publishing.versions import publish_catalog

from conftest import DATA, SCHEMAS

QUERIES = json.loads((DATA / "search_queries.json").read_text(encoding="utf-8"))["queries"]


@pytest.fixture(scope="module")
def index(demo_catalog):
    """The demo catalog's bundles and matters, indexed once."""
    return build_index(demo_catalog)


def top(index, query: str, n: int = 3) -> list[str]:
    """The codes of the first n results."""
    return [hit.code for hit in index.search(query, n)]


def test_the_query_list_is_large_and_names_real_guides(index):
    assert len(QUERIES) >= 40
    assert len({q["query"] for q in QUERIES}) == len(QUERIES)
    assert {q["expected"] for q in QUERIES} <= set(index.codes)
    # Every bundle and most matters are asked for at least once.
    assert len({q["expected"] for q in QUERIES}) >= 20


def test_top_three_accuracy_is_at_least_90_percent(index):
    misses = [(q["query"], q["expected"], top(index, q["query"]))
              for q in QUERIES if q["expected"] not in top(index, q["query"])]
    accuracy = 1 - len(misses) / len(QUERIES)
    assert accuracy >= 0.9, f"top-3 accuracy {accuracy:.0%}; misses: {misses}"


@pytest.mark.parametrize(("query", "expected"), [
    ("我想开个饭店", "open-restaurant"),
    ("孩子出生要办什么", "newborn"),
])
def test_the_issue_examples_come_first(index, query, expected):
    assert top(index, query, 1) == [expected]


@pytest.mark.parametrize(("query", "expected"), [
    ("canyin", "open-restaurant"),  # full pinyin
    ("yly", "open-care-home"),  # initials of 养老院
    ("開飯店", "open-restaurant"),  # traditional characters meet simplified keywords
    ("参饮店", "open-restaurant"),  # a homophone typo of 餐饮店
    ("办卫生许可证", "food-business-licence"),  # the old name people still use
])
def test_pinyin_script_and_synonyms_are_understood(index, query, expected):
    assert expected in top(index, query)


def test_filler_words_alone_find_nothing(index):
    assert index.search("") == []
    assert index.search("   ") == []
    assert index.search("我想要办什么手续") == []
    assert index.search("！！？") == []


def test_a_synonym_counts_once_however_many_variants_match(index):
    # 饭店 has twenty synonyms the restaurant bundle lists as keywords; they are one concept.
    concepts = index.terms("我想开个饭店")
    assert sum(1 for concept in concepts if "饭店" in concept) == 1
    assert all("我" not in concept and "想" not in concept for concept in concepts)


def test_the_synonym_list_is_well_formed():
    data = json.loads((SCHEMAS / "synonyms.json").read_text(encoding="utf-8"))
    assert set(data) == {"description", "groups", "stopwords"}
    for group in data["groups"]:
        assert len(group) >= 2 and len(set(group)) == len(group), group
        assert all(isinstance(word, str) and word.strip() == word and word for word in group)
    assert len(set(data["stopwords"])) == len(data["stopwords"])
    synonyms = load_synonyms()
    assert not synonyms["stopwords"] & {w for g in synonyms["groups"] for w in g}


def test_the_index_is_built_once_per_set_of_published_versions(app, demo_root):
    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        first = directory_index(session)
        assert directory_index(session) is first
    path = demo_root / "catalog" / "bundles" / "newborn.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["keywords"] = [*data["keywords"], "满月"]
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with Session(engine) as session:
        publish_catalog(session, load_catalog(demo_root), published_by="tester")
        second = directory_index(session)
    assert second is not first
    assert [hit.code for hit in second.search("满月", 1)] == ["newborn"]


# --- the manual ------------------------------------------------------------------------------


def test_the_manual_groups_by_life_event_and_enterprise_stage(client):
    page = client.get("/manual").text
    people = page[page.index('id="h-person"'):page.index('id="h-enterprise"')]
    business = page[page.index('id="h-enterprise"'):]
    assert "生育" in people and "新生儿出生一件事" in people and "开办餐饮店" not in people
    stages = [business.index(stage) for stage in ("<h3>筹备</h3>", "<h3>准入</h3>",
                                                  "<h3>营业</h3>")]
    assert stages == sorted(stages)
    assert business.index("建筑装饰装修审批") < stages[1]  # 筹备: renovating the premises
    assert stages[1] < business.index("开办餐饮店") < stages[2]  # 准入
    assert stages[2] < business.index("海域使用权确权")  # 营业
    # Every published bundle has its guide linked, with how many matters it holds.
    assert re.search(r'href="/g/open-restaurant"><strong>开办餐饮店</strong></a>\s*'
                     r'<span class="hint">\d+ 个事项</span>', page)
    assert 'href="/g/newborn"' in page
    # The matters are a link away: a city has twelve thousand of them.
    assert 'href="/g/fire-safety-check"' not in page
    assert 'href="/manual?kind=matter"' in page


def test_the_manual_lists_every_matter_by_department_a_page_at_a_time(client, monkeypatch,
                                                                       demo_catalog):
    from onething.guides import views

    monkeypatch.setattr(views, "MANUAL_PAGE_SIZE", 8)
    pages = [client.get("/manual", query_string={"kind": "matter", "page": n}).text
             for n in (1, 2, 3, 4)]
    codes = [re.findall(r'<a href="/g/([^"]+)"><strong>', page) for page in pages]
    rest = len(demo_catalog.matters) - 16
    assert [len(c) for c in codes] == [8, 8, rest, rest]  # a page past the end is the last
    assert sorted(codes[0] + codes[1] + codes[2]) == sorted(demo_catalog.matters)
    assert f"共 {len(demo_catalog.matters)} 项服务" in pages[0]
    assert 'rel="next"' in pages[0] and 'rel="prev"' in pages[2]
    # One department's matters, with the department chosen in the filter.
    fire = [m.code for m in demo_catalog.matters.values() if m.department == "sn-fire"]
    page = client.get("/manual", query_string={"kind": "matter", "department": "sn-fire"}).text
    assert re.findall(r'<a href="/g/([^"]+)"><strong>', page) == sorted(fire)
    assert '<option value="sn-fire" selected>' in page
    assert client.get("/manual?kind=matter&department=nowhere").status_code == 404
    assert client.get("/manual?group=foo:bar").status_code == 404
    assert client.get("/manual?group=enterprise:nowhere").status_code == 404
    # Departments in the order of their names' pinyin (市南区 … before 青岛市 …).
    names = re.findall(r'<option value="[a-z0-9-]+"[^>]*>([^（<]+)（\d+）</option>', page)
    from onething.catalog.text import pinyin
    assert names == sorted(names, key=pinyin) and len(names) > 5
    assert client.get("/manual?kind=matter&page=x").status_code == 200


def test_a_group_of_the_manual_shows_a_few_and_links_to_all(client, monkeypatch):
    from onething.guides import views

    monkeypatch.setattr(views, "GROUP_PREVIEW", 1)
    page = client.get("/manual").text
    entry = page[page.index("<h3>准入</h3>"):page.index("<h3>营业</h3>")]
    assert len(re.findall(r'class="card"', entry)) == 1
    link = re.search(r'href="(/manual\?group=enterprise(?::|%3A)entry)">[^<]*?(\d+)', entry)
    listed = client.get(link.group(1).replace("&amp;", "&")).text
    found = re.findall(r'<a href="/g/([^"]+)"><strong>', listed)
    assert len(found) == int(link.group(2)) >= 2 and "open-restaurant" in found
    assert "<h1>准入</h1>" in listed


def test_the_manual_search_finds_a_sentence(client):
    page = client.get("/manual", query_string={"q": "我想开个饭店"}).text
    results = page[page.index('id="search-results"'):]
    assert re.search(r'<ol class="results">\s*<li>\s*<a href="/g/open-restaurant"', results)
    assert 'value="我想开个饭店"' in page
    partial = client.get("/manual", query_string={"q": "孩子出生要办什么"},
                         headers={"HX-Request": "true", "HX-Target": "search-results"})
    assert "<html" not in partial.text
    assert partial.text.index('href="/g/newborn"') < partial.text.index("</li>")


def test_a_search_without_results_says_what_to_do(client):
    page = client.get("/manual", query_string={"q": "我想要办什么手续"}).text
    assert "12345" in page and 'class="results"' not in page


@pytest.mark.parametrize("query", ["开理发店", "开个理发店要什么手续", "我想开宠物店"])
def test_a_service_the_catalog_lacks_is_said_so_not_answered_with_lookalikes(
        index, client, query):
    # 开 and 店 alone would find 开办餐饮店 and 开办养老机构: not what was asked for.
    assert index.search(query) == []
    page = client.get("/manual", query_string={"q": query}).text
    assert "12345" in page and 'class="results"' not in page


@pytest.mark.parametrize(("lang", "heading"), [
    ("zh-Hans", "服务手册"), ("zh-Hant", "服務手冊"), ("en", "Service manual"),
])
def test_the_manual_follows_the_language_switch(client, lang, heading):
    page = client.get(f"/manual?lang={lang}").text
    assert f"<h1>{heading}</h1>" in page or f"<h1>{heading} (服务手册)</h1>" in page


def test_looking_only_where_a_term_can_score_changes_no_result(index, demo_catalog,
                                                                monkeypatch):
    # The postings only spare work: looking for every term in every entry gives the same
    # results.
    queries = [q["query"] for q in QUERIES]
    queries += [matter.name["zh-Hans"][:cut] for matter in demo_catalog.matters.values()
                for cut in (2, 4)] + ["kbcyd", "xiaofang", "消防 检查", "12345", "店"]

    def results(index):
        return {q: [(h.code, h.score) for h in index.search(q)] for q in queries}

    def fresh():
        return build_index(demo_catalog)

    pruned = results(fresh())
    assert any(pruned.values())
    everyone = set(range(len(index.entries)))
    monkeypatch.setattr(type(index), "_narrowed", staticmethod(lambda table, keys: everyone))
    assert results(fresh()) == pruned


# --- the public directory ----------------------------------------------------------------------


def test_every_published_service_has_one_directory_row_for_its_newest_version(app, demo_catalog):
    from sqlalchemy import func, select

    from onething.storage.models import BundleVersion, PublishedService

    with Session(app.extensions["onething.engine"]) as session:
        rows = session.exec(select(PublishedService)).scalars().all()
        newest = dict(session.execute(select(BundleVersion.bundle_code, func.max(
            BundleVersion.id)).group_by(BundleVersion.bundle_code)).all())
    assert {row.code: row.version_id for row in rows} == newest
    assert {row.code for row in rows} == set(demo_catalog.services())
    by_code = {row.code: row for row in rows}
    assert by_code["open-restaurant"].kind == "bundle" and by_code["open-restaurant"].matters > 1
    signboard = by_code["outdoor-signboard"]
    assert signboard.kind == "matter" and signboard.matters == 1
    assert signboard.department_code == demo_catalog.matters["outdoor-signboard"].department
    assert ["name", "户外招牌设施设置审核"] in signboard.search["texts"]


def test_versions_published_before_the_directory_get_their_rows_at_start(app, tmp_path):
    from sqlalchemy import delete, func, select

    from onething.storage.models import PublishedService
    from onething.web.app import create_app

    engine = app.extensions["onething.engine"]
    with Session(engine) as session:
        before = session.execute(select(func.count()).select_from(PublishedService)).scalar()
        session.execute(delete(PublishedService).where(PublishedService.kind == "matter"))
        session.commit()
    assert 'href="/g/outdoor-signboard"' not in app.test_client().get(
        "/manual", query_string={"q": "户外招牌"}).text
    again = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"]},
                       instance_path=tmp_path / "again")
    try:
        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(
                PublishedService)).scalar() == before
        assert 'href="/g/outdoor-signboard"' in again.test_client().get(
            "/manual", query_string={"q": "户外招牌"}).text
    finally:
        again.extensions["onething.engine"].dispose()


def test_a_rollback_is_what_the_directory_and_the_search_show(app, demo_root):
    from sqlalchemy import select

    from onething.publishing.working_catalog import rollback
    from onething.storage.models import BundleVersion, PublishedService

    engine = app.extensions["onething.engine"]
    path = demo_root / "catalog" / "matters" / "outdoor-signboard.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["name"] = {**data["name"], "zh-Hans": "夜光灯箱设置许可"}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with Session(engine) as session:
        publish_catalog(session, load_catalog(demo_root), published_by="tester",
                        codes=["outdoor-signboard"])
    client = app.test_client()
    assert 'href="/g/outdoor-signboard"' in client.get("/manual?q=夜光灯箱").text
    with Session(engine) as session:
        again = rollback(session, "outdoor-signboard", 1, "tester")
        assert again.kind == "matter"  # a matter alone stays one when rolled back
        row = session.exec(select(PublishedService).where(
            PublishedService.code == "outdoor-signboard")).scalars().one()
        assert row.version_id == again.id and row.kind == "matter"
        assert session.get(BundleVersion, again.id).number == 3
    assert 'href="/g/outdoor-signboard"' not in client.get("/manual?q=夜光灯箱").text
    assert 'href="/g/outdoor-signboard"' in client.get("/manual?q=户外招牌").text


def _empty_directory(engine) -> int:
    """Empty the public directory, as a database from before it was; how many rows it had."""
    from sqlalchemy import delete, func, select

    from onething.storage.models import PublishedService

    with Session(engine) as session:
        count = session.execute(select(func.count()).select_from(PublishedService)).scalar()
        session.execute(delete(PublishedService))
        session.commit()
    return count


def _other_process_once(engine):
    """A refresh by another process, run the first time it is called; and whether it ran."""
    from onething.publishing import directory
    from onething.publishing.versions import bundle_of

    ran: list[bool] = []

    def refresh():
        if not ran:
            ran.append(True)
            with Session(engine) as other:
                directory.refresh(other, bundle_of)

    return refresh, ran


def _directory_codes(engine) -> int:
    """How many rows the directory holds, asserting each code is there once."""
    from sqlalchemy import select

    from onething.storage.models import PublishedService

    with Session(engine) as session:
        codes = session.execute(select(PublishedService.code)).scalars().all()
    assert len(codes) == len(set(codes))
    return len(codes)


def test_two_processes_starting_at_once_both_fill_the_directory_without_failing(app):
    # Two workers of an older database start together: both find the rows missing, one
    # writes them first, and the other's write collides on the code. It must not fail.

    from onething.publishing import directory
    from onething.publishing.versions import bundle_of

    engine = app.extensions["onething.engine"]
    count = _empty_directory(engine)
    other_process, raced = _other_process_once(engine)

    def other_process_first(version):
        other_process()
        return bundle_of(version)

    with Session(engine) as session:
        directory.refresh(session, other_process_first)
    assert raced and _directory_codes(engine) == count


def test_a_refresh_that_collides_with_another_process_reads_again(app, monkeypatch):
    # On PostgreSQL two transactions write at once: the other process commits rows with
    # the same codes after this one found them missing; its INSERT collides.

    from onething.publishing import directory
    from onething.publishing.versions import bundle_of

    engine = app.extensions["onething.engine"]
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite runs one writer at a time: the other process would wait")
    count = _empty_directory(engine)
    real_insert = directory.insert
    other_process, calls = _other_process_once(engine)

    def insert_after_the_other_process(table):
        other_process()
        return real_insert(table)

    monkeypatch.setattr(directory, "insert", insert_after_the_other_process)
    with Session(engine) as session:
        directory.refresh(session, bundle_of)
    assert calls and _directory_codes(engine) == count
