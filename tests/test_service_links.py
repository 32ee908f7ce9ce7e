"""Links between the services: the home page's search, each guide's start, each start's guide."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from onething.storage.models import PublishedService


def test_the_home_page_leads_with_the_service_manuals_search(client):
    page = client.get("/").text
    form = re.search(r'<form class="search-form home-search"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None and 'action="/manual"' in form.group(0)
    assert 'name="q"' in form.group(1) and 'type="search"' in form.group(1)
    # Before the list of bundles: the first thing on a phone's screen.
    assert page.index("home-search") < page.index('class="cards"')
    # The box sends what the manual's search reads, and that answers with the guide.
    found = client.get("/manual", query_string={"q": "我想开饭店"}).text
    assert "/g/open-restaurant" in found


def test_every_guide_links_to_starting_an_application_that_opens(app, client):
    with Session(app.extensions["onething.engine"]) as session:
        codes = session.exec(select(PublishedService.code)).all()
    assert "open-restaurant" in codes and "outdoor-signboard" in codes
    for code in codes:
        guide = client.get(f"/g/{code}")
        assert guide.status_code == 200, code
        starts = set(re.findall(r'class="button primary" href="(/b/[^"?]+)', guide.text))
        assert starts, f"the guide of {code} offers no way to apply"
        for target in starts:
            assert client.get(target).status_code == 200, (code, target)


def test_the_start_page_links_back_to_its_guide(client):
    for code in ("open-restaurant", "outdoor-signboard", "newborn"):
        page = client.get(f"/b/{code}").text
        assert f'href="/g/{code}"' in page
        assert client.get(f"/g/{code}").status_code == 200
