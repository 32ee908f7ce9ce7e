"""Public guides at /g/<code>: elements, scenario panel, flow diagram, QR codes, live updates."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import segno
from sqlmodel import Session

from onething.catalog.definitions import Catalog
from onething.composer.compose import compose
from onething.guides.flow import flow_svg, text_width, wrap
from onething.publishing.check import load_catalog
from onething.publishing.versions import publish_catalog

RESTAURANT_ANSWERS = {"has_business_licence": "true", "public_gathering_place": "false",
                      "outdoor_signboard": "false", "sells_tobacco": "false"}
SVG = "{http://www.w3.org/2000/svg}"


def publish_renamed(app, root: Path, bundle: str, name: dict) -> None:
    """Rename a bundle in a copy of schemas/ and publish it with the app's engine."""
    path = root / "catalog" / "bundles" / f"{bundle}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["name"] = name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with Session(app.extensions["onething.engine"]) as session:
        assert publish_catalog(session, load_catalog(root), published_by="tester")


def rename_matter(root: Path, matter: str, name: dict) -> None:
    """Rename a matter in a copy of schemas/ (every bundle holding it changes)."""
    path = root / "catalog" / "matters" / f"{matter}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["name"] = name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


@pytest.fixture
def bare_app(blank_engine, tmp_path):
    """The web app on a fresh database that publishes nothing by itself."""
    from onething.web.app import create_app

    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "DATABASE_URL": url, "PUBLISH_ON_START": False},
                     instance_path=tmp_path / "instance")
    yield app
    app.extensions["onething.engine"].dispose()


# --- the guide page ----------------------------------------------------------------------------


def test_a_bundle_guide_shows_every_guide_element(client):
    response = client.get("/g/open-restaurant")
    assert response.status_code == 200
    page = response.text
    assert "<h1>开办餐饮店</h1>" in page
    assert "把营业执照办理（或核验）" in page  # what it is
    assert "企业" in page  # who can apply
    assert "场所的消防设施、器材和消防安全标志配置齐全" in page  # acceptance conditions
    assert "中华人民共和国消防法" in page and "第七十三条" in page  # legal basis
    assert re.search(r"5 ?个工作日", page) and re.search(r"23 ?个工作日", page)  # promised, legal
    assert "宁夏路286号" in page and "13:30" in page  # where and when
    assert 'href="tel:0532-82870119"' in page and 'href="tel:12345"' in page
    assert 'name="has_business_licence"' in page and 'name="sells_tobacco"' in page
    assert 'href="/b/open-restaurant"' in page  # start the application
    assert "/g/open-restaurant/poster" in page and "/g/open-restaurant/qr.png" in page


def test_the_materials_carry_their_flags(client):
    page = client.get("/g/open-restaurant").text
    panel = page[page.index('id="guide-panel"'):]
    assert "营业执照" in panel and "电子证照库已有的无需上传" in panel  # shared data (电子证照)
    assert "食品安全管理人员培训考核合格证明" in panel and "可容缺后补" in panel  # deferrable
    renovation = client.get("/g/renovation-approval").text
    assert "施工场地已基本具备施工条件的证明" in renovation
    assert "可签署承诺书代替" in renovation  # a signed commitment (告知承诺) may replace it


def test_answers_narrow_the_materials_in_a_partial(client):
    everything = client.get("/g/open-restaurant").text
    assert "烟草专卖零售许可证申请表" in everything
    partial = client.get("/g/open-restaurant", query_string=RESTAURANT_ANSWERS,
                         headers={"HX-Request": "true", "HX-Target": "guide-panel"})
    assert partial.status_code == 200
    assert "<html" not in partial.text and 'id="guide"' not in partial.text
    assert "食品经营许可申请书" in partial.text
    assert "烟草专卖零售许可证申请表" not in partial.text
    assert "市场主体设立登记申请书" not in partial.text  # holds a licence: verification only
    # The start link carries the answers to the start page.
    link = re.search(r'href="(/b/open-restaurant\?[^"]+)"', partial.text).group(1)
    assert "sells_tobacco=false" in link.replace("&amp;", "&")
    # Without JavaScript the same answers come back as a whole page.
    whole = client.get("/g/open-restaurant", query_string=RESTAURANT_ANSWERS).text
    assert "<html" in whole and "烟草专卖零售许可证申请表" not in whole


def test_the_flow_diagram_is_inline_svg_on_the_page(client):
    page = client.get("/g/open-restaurant", query_string=RESTAURANT_ANSWERS).text
    svg = re.search(r"<svg[^>]*class=\"flow\".*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert "食品经营许可证核发（新办）" in svg and "市南区市场监管局" in svg


def test_a_matter_guide_comes_from_its_published_bundles(client):
    response = client.get("/g/fire-safety-check")
    assert response.status_code == 200
    page = response.text
    assert "公众聚集场所投入使用、营业前消防安全检查" in page
    assert "96119" in page and "中华人民共和国消防法" in page
    assert 'href="/b/open-restaurant"' in page and 'href="/b/open-care-home"' in page
    # ... and it can be applied for alone, with the same one form.
    assert 'href="/b/fire-safety-check"' in page and "单独申请本事项" in page
    assert "消防安全制度、灭火和应急疏散预案" in page  # its materials


def test_a_calendar_day_matter_guide_says_calendar_days(client):
    # 环境影响评价法 art. 22 counts calendar days (自然日): 30 for a report form.
    page = client.get("/g/eia-report-form-approval?lang=en").text
    assert "Promised: 15 calendar days; by law: 30 calendar days" in page
    report = client.get("/g/eia-report-approval?lang=en").text
    assert "by law: 60 calendar days" in report


def test_a_matter_guide_follows_the_newest_published_version(app, client, demo_root):
    rename_matter(demo_root, "fire-safety-check", {"zh-Hans": "开业前消防安全检查（新版）"})
    with Session(app.extensions["onething.engine"]) as session:
        published = publish_catalog(session, load_catalog(demo_root), published_by="tester")
        # Every service holding it, the 一类事 nesting the restaurant included.
        assert {v.bundle_code for v in published} == {
            "open-restaurant", "open-care-home", "restaurant-from-fit-out", "fire-safety-check"}
    assert "开业前消防安全检查（新版）" in client.get("/g/fire-safety-check").text


@pytest.mark.parametrize(("lang", "title", "heading"), [
    ("zh-Hans", "开办餐饮店", "需准备的材料"),
    ("zh-Hant", "開辦餐飲店", "需準備的材料"),
    ("en", "Opening a restaurant", "Materials to prepare"),
])
def test_guides_follow_the_language_switch(client, lang, title, heading):
    page = client.get(f"/g/open-restaurant?lang={lang}").text
    assert f'<html lang="{lang}">' in page
    assert f"<h1>{title}</h1>" in page and heading in page
    assert f"<h1>{title}</h1>" in client.get(f"/g/open-restaurant/poster?lang={lang}").text


@pytest.mark.parametrize("lang, listed", [
    ("zh-Hans", "企业：企业法人、非法人企业"),
    ("en", "Businesses: Enterprises, Unincorporated businesses")])
def test_lists_are_written_as_the_language_writes_them(client, lang, listed):
    assert f"<dd>{listed}</dd>" in client.get(f"/g/open-restaurant?lang={lang}").text


def test_an_unknown_code_gets_a_helpful_404_with_the_search(client):
    response = client.get("/g/open-restaurnt")
    assert response.status_code == 404
    page = response.text
    assert "<html" in page and 'action="/manual"' in page and 'name="q"' in page
    assert 'href="/g/open-restaurant"' in page  # a guess from the search
    for path in ("/g/nothing-here/qr.svg", "/g/nothing-here/qr.png", "/g/nothing-here/poster"):
        assert client.get(path).status_code == 404
    assert client.get("/g/nothing-here/live").status_code == 404


def test_what_is_not_published_is_not_public(bare_app, demo_catalog):
    # An administrator's catalog holds the newborn bundle, but only the rest is published.
    documents = [d for d in demo_catalog.documents()
                 if not (d.kind == "bundle" and d.data["code"] == "newborn")]
    catalog = Catalog(documents)
    with Session(bare_app.extensions["onething.engine"]) as session:
        publish_catalog(session, catalog, published_by="tester", codes=[
            code for code in catalog.services() if code != "birth-medical-certificate"])
    client = bare_app.test_client()
    assert client.get("/g/open-restaurant").status_code == 200
    for code in ("newborn", "birth-medical-certificate"):  # the bundle and its own matter
        response = client.get(f"/g/{code}")
        assert response.status_code == 404
        assert "出生" not in response.text.split('id="search-results"')[0]
        assert client.get(f"/g/{code}/qr.svg").status_code == 404
    assert "新生儿出生一件事" not in client.get("/manual").text
    found = client.get("/manual?q=孩子出生").text
    assert 'href="/g/newborn"' not in found and 'href="/g/birth-medical-certificate"' not in found
    # The newborn's other matters are published alone, and found as such.
    assert 'href="/g/newborn-medical-insurance"' in found


# --- QR codes ------------------------------------------------------------------------------


def expected_qr(url: str, kind: str, **options) -> bytes:
    """The QR code segno draws for exactly this URL and nothing else."""
    out = io.BytesIO()
    segno.make_qr(url, error="m").save(out, kind=kind, **options)
    return out.getvalue()


def test_qr_codes_encode_only_the_stable_url(client):
    svg = client.get("/g/open-restaurant/qr.svg")
    png = client.get("/g/open-restaurant/qr.png")
    assert svg.mimetype == "image/svg+xml" and png.mimetype == "image/png"
    url = "http://localhost/g/open-restaurant"
    assert svg.data == expected_qr(url, "svg", scale=8, border=4, xmldecl=False)
    assert png.data == expected_qr(url, "png", scale=10, border=4)
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    # The locale never reaches the code: one poster for every reader.
    assert client.get("/g/open-restaurant/qr.svg?lang=en").data == svg.data


def test_qr_codes_stay_byte_identical_across_versions(app, client, demo_root):
    svg = client.get("/g/open-restaurant/qr.svg").data
    png = client.get("/g/open-restaurant/qr.png").data
    before = client.get("/g/open-restaurant").text
    publish_renamed(app, demo_root, "open-restaurant", {"zh-Hans": "开办餐饮店（第二版）"})
    after = client.get("/g/open-restaurant").text
    assert "开办餐饮店（第二版）" in after and "开办餐饮店（第二版）" not in before
    assert client.get("/g/open-restaurant/qr.svg").data == svg
    assert client.get("/g/open-restaurant/qr.png").data == png


def test_qr_codes_use_the_public_url(blank_engine, tmp_path):
    from onething.web.app import create_app

    url = blank_engine.url.render_as_string(hide_password=False)
    app = create_app({"TESTING": True, "DATABASE_URL": url,
                      "PUBLIC_URL": "https://zwfw.example.gov.cn/"},
                     instance_path=tmp_path / "instance")
    try:
        svg = app.test_client().get("/g/newborn/qr.svg").data
        assert svg == expected_qr("https://zwfw.example.gov.cn/g/newborn", "svg", scale=8,
                                  border=4, xmldecl=False)
        poster = app.test_client().get("/g/newborn/poster").text
        assert "https://zwfw.example.gov.cn/g/newborn" in poster
    finally:
        app.extensions["onething.engine"].dispose()


# --- live updates ------------------------------------------------------------------------------


def test_the_version_poll_answers_304_without_a_body_while_nothing_changes(app, client,
                                                                         demo_root):
    first = client.get("/g/open-restaurant/live")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"open-restaurant.1.') and first.headers["Cache-Control"] == "no-cache"
    idle = client.get("/g/open-restaurant/live", headers={"If-None-Match": etag,
                                                         "HX-Request": "true"})
    assert idle.status_code == 304 and idle.data == b"" and idle.headers["ETag"] == etag
    # The page embeds the same ETag for htmx to send.
    page = client.get("/g/open-restaurant").text
    assert etag.strip('"') in page and 'hx-trigger="every 2s"' in page

    publish_renamed(app, demo_root, "open-restaurant", {"zh-Hans": "开办餐饮店（新）"})
    changed = client.get("/g/open-restaurant/live", headers={"If-None-Match": etag,
                                                            "HX-Request": "true"})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag and changed.headers["ETag"].startswith(
        '"open-restaurant.2.')
    assert changed.headers["HX-Trigger"] == "guide-published"
    assert changed.headers["ETag"].strip('"') in changed.text  # the next poll's If-None-Match
    assert 'hx-swap-oob="true"' in changed.text
    again = client.get("/g/open-restaurant/live",
                       headers={"If-None-Match": changed.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def test_a_matter_guide_polls_the_version_it_comes_from(client):
    response = client.get("/g/tobacco-retail-licence/live")
    # Its own version: the matter applied for alone.
    assert response.status_code == 200 and response.headers["ETag"].startswith(
        '"tobacco-retail-licence.1.')


def test_the_guide_comes_back_whole_for_a_refresh(client):
    partial = client.get("/g/open-restaurant", query_string=RESTAURANT_ANSWERS,
                         headers={"HX-Request": "true", "HX-Target": "guide"})
    assert "<html" not in partial.text
    assert partial.text.lstrip().startswith("<article") and 'id="guide"' in partial.text
    assert 'value="false" checked' in partial.text.replace("\n", " ") or "checked" in partial.text


# --- the poster ----------------------------------------------------------------------------


def test_the_poster_has_title_qr_flow_and_materials(client):
    page = client.get("/g/open-restaurant/poster").text
    assert "<h1>开办餐饮店</h1>" in page
    assert 'src="/g/open-restaurant/qr.svg"' in page
    assert "http://localhost/g/open-restaurant" in page
    assert re.search(r'<svg[^>]*id="poster-flow"', page)
    assert "食品经营许可申请书" in page
    assert "@page" in page and "@media print" in page
    matter = client.get("/g/tobacco-retail-licence/poster")
    assert matter.status_code == 200 and "烟草专卖零售许可证申请表" in matter.text


# --- the flow diagram --------------------------------------------------------------------


def test_flow_svg_is_well_formed_and_describes_every_step(app, demo_catalog):
    bundle = demo_catalog.bundle("open-restaurant")
    answers = {"has_business_licence": False, "public_gathering_place": True,
               "fire_route": "commitment", "outdoor_signboard": True, "sells_tobacco": True}
    plan = compose(bundle, answers).plan
    with app.test_request_context("/?lang=en"):
        svg = str(flow_svg(plan, demo_catalog, "Opening a restaurant", ident="f"))
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-label") == "Opening a restaurant"
    assert root.get("viewBox").startswith("0 0 360 ")
    assert root.find(f"{SVG}title").text == "Opening a restaurant"
    desc = root.find(f"{SVG}desc").text
    for step in plan.steps:
        assert demo_catalog.matters[step.matter].label("en") in desc
    assert "5 working days" in desc and "13 working days" in desc
    assert "after step" in desc and "in parallel" in desc
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#b3261e"]
    assert len(bars) == len(plan.critical_path)  # the critical path in the accent colour
    # Parallel steps start together; the food licence starts when registration ends.
    starts = {s.matter: s.finish_day - s.promised_days for s in plan.steps}
    assert starts["fire-safety-check"] == starts["outdoor-signboard"] == 0
    assert starts["food-business-licence"] == plan.step("business-registration").finish_day


def test_a_calendar_day_step_says_its_own_days_in_the_flow(app, mini_root):
    from conftest import CALENDAR_GAMMA, apply_edits

    apply_edits(mini_root, CALENDAR_GAMMA)
    catalog = load_catalog(mini_root)
    plan = compose(catalog.bundles["mini-bundle"], {"wants_sign": True}).plan
    with app.test_request_context("/?lang=en"):
        root = ET.fromstring(str(flow_svg(plan, catalog, "Test", ident="f")))
    desc = root.find(f"{SVG}desc").text
    # The step in its own days; the totals in working days, the step at its equivalent.
    assert "14 calendar days" in desc and "12 working days" in desc
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert any("14 calendar days" in text for text in texts)


def test_flow_text_fits_a_phone_width(app, demo_catalog):
    with app.test_request_context("/?lang=en"):
        for bundle in demo_catalog.bundles.values():
            svg = str(flow_svg(compose(bundle).plan, demo_catalog, bundle.label("en")))
            for text in ET.fromstring(svg).iter(f"{SVG}text"):
                assert text_width(text.text, float(text.get("font-size"))) <= 336, text.text
    assert wrap("公众聚集场所投入使用、营业前消防安全检查", 14, 140) == [
        "公众聚集场所投入使用", "、营业前消防安全检查"]
    assert wrap("公众聚集场所投入使用、营业前消防安全检查", 14, 120) == [
        "公众聚集场所投入", "使用、营业前消…"]
    assert wrap("Fire safety check", 14, 1000) == ["Fire safety check"]


def test_on_the_spot_steps_are_drawn_as_a_same_day_mark(app, demo_catalog):
    bundle = demo_catalog.bundle("newborn")
    with app.test_request_context("/"):
        svg = str(flow_svg(compose(bundle).plan, demo_catalog, bundle.label()))
    root = ET.fromstring(svg)
    assert len([p for p in root.iter(f"{SVG}path")]) == len(compose(bundle).plan.steps)
    assert "当天办结" in root.find(f"{SVG}desc").text


def test_a_one_class_guide_asks_a_stages_questions_only_when_it_applies(client):
    # Before the stages are chosen, none asks its questions.
    assert 'class="stage"' not in client.get("/g/restaurant-from-fit-out").text
    fit_out = client.get("/g/restaurant-from-fit-out?stages=fit_out").text
    opening = client.get("/g/restaurant-from-fit-out?stages=opening").text
    stage_ids = lambda page: set(re.findall(r'<fieldset class="stage" id="([^"]+)"', page))  # noqa: E731
    assert stage_ids(fit_out) and stage_ids(opening)
    assert stage_ids(fit_out).isdisjoint(stage_ids(opening))
    # With JavaScript, the panel request swaps the stages too, but only when they change.
    shown = ",".join(sorted(stage_ids(fit_out)))
    headers = {"HX-Request": "true", "HX-Target": "guide-panel"}
    changed = client.get("/g/restaurant-from-fit-out?stages=opening&_stages=" + shown,
                         headers=headers).text
    assert 'id="guide-stages" hx-swap-oob="true"' in changed
    assert stage_ids(changed) == stage_ids(opening)
    same = client.get("/g/restaurant-from-fit-out?stages=fit_out&_stages=" + shown,
                      headers=headers).text
    assert "hx-swap-oob" not in same


def test_a_matter_decided_on_the_spot_is_never_promised_in_0_days(app):
    from onething.web.templating import limit_text

    with app.test_request_context("/?lang=en"):
        assert limit_text(0, "working_days") == "same day"
        assert limit_text(5, "working_days") == "5 working days"
        assert limit_text(1, "working_days") == "1 working day"
    with app.test_request_context("/"):
        assert limit_text(0, "working_days") == "当天办结"
