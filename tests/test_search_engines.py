"""What search engines read: descriptions, schema.org data, the sitemap, robots.txt, icons."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree

from onething.guides import views as guides

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def structured_data(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page,
                                re.S).group(1))


def description(page: str) -> str:
    return re.search(r'<meta name="description" content="([^"]*)">', page).group(1)


def test_a_bundles_guide_describes_itself_as_a_government_service(client):
    page = client.get("/g/open-restaurant").text
    assert 20 < len(description(page)) <= guides.DESCRIPTION_LENGTH
    data = structured_data(page)
    assert data["@context"] == "https://schema.org" and data["@type"] == "GovernmentService"
    assert data["name"] == "开办餐饮店"
    assert data["provider"]["@type"] == "GovernmentOrganization"
    assert data["provider"]["name"].startswith("青岛市市南区")
    assert data["areaServed"] == {"@type": "AdministrativeArea", "name": "青岛市"}
    assert data["url"].endswith("/g/open-restaurant")
    assert data["serviceType"] == "一件事"


def test_a_matters_guide_names_its_department_as_provider(client):
    page = client.get("/g/outdoor-signboard").text
    data = structured_data(page)
    assert data["name"] == "户外招牌设施设置审核" and data["serviceType"] == "事项"
    assert "城市管理" in data["provider"]["name"]
    assert description(page).startswith("在市南区临街建筑物外立面设置户外招牌")


def test_a_description_is_escaped_and_structured_data_cannot_close_its_script(app, client):
    # Definitions are written by administrators: their text stays data in both places.
    with app.test_request_context():
        text = guides.search_engine_view(guides.find_guide(
            guides.get_session(), "open-restaurant"))
    assert "</script>" not in json.dumps(text["structured_data"])
    page = client.get("/g/open-restaurant").text
    assert page.count("<script type=\"application/ld+json\">") == 1


def test_every_page_has_a_description_and_the_icons_are_served(client):
    for path in ("/", "/manual", "/b/open-restaurant", "/login"):
        assert description(client.get(path).text)
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200 and b"<svg" in svg.data
    with client.get("/static/apple-touch-icon.png") as png:
        assert png.data[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_sitemap_lists_every_published_guide(client):
    response = client.get("/sitemap.xml")
    assert response.mimetype == "application/xml"
    urls = [url.findtext(f"{SITEMAP}loc")
            for url in ElementTree.fromstring(response.data).iter(f"{SITEMAP}url")]
    codes = {url.rsplit("/g/", 1)[1] for url in urls}
    assert {"open-restaurant", "newborn", "outdoor-signboard", "fire-safety-check"} <= codes
    assert len(codes) == 30  # the demo's 7 bundles and 23 matters
    for url in urls[:3]:
        assert client.get(url.split("localhost", 1)[1]).status_code == 200


def test_past_fifty_thousand_urls_the_sitemap_is_an_index_of_files(client, monkeypatch):
    monkeypatch.setattr(guides, "SITEMAP_URLS", 10)
    index = ElementTree.fromstring(client.get("/sitemap.xml").data)
    assert index.tag == f"{SITEMAP}sitemapindex"
    files = [loc.text for loc in index.iter(f"{SITEMAP}loc")]
    assert [f.rsplit("/", 1)[1] for f in files] == ["sitemap-1.xml", "sitemap-2.xml",
                                                     "sitemap-3.xml"]
    counts = [len(ElementTree.fromstring(client.get(f"/sitemap-{n}.xml").data)
                  .findall(f"{SITEMAP}url")) for n in (1, 2, 3)]
    assert counts == [10, 10, 10]
    assert client.get("/sitemap-4.xml").status_code == 404
    assert client.get("/sitemap-0.xml").status_code == 404


def test_robots_txt_points_at_the_sitemap_and_keeps_private_pages_out(client):
    robots = client.get("/robots.txt").text
    assert "Sitemap: http://localhost/sitemap.xml" in robots
    for private in ("/admin/", "/inbox/", "/api/", "/d/", "/s/"):
        assert f"Disallow: {private}" in robots
