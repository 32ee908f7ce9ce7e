"""Lighthouse (mobile) on the applicant's pages: performance, accessibility, best practices.

The issue's bar is 95 in each category on the home, start, form, guide and receipt
pages. Lighthouse 12.2.3 (the last to run on Node 20) is installed by .ci/test from
tests/lighthouse/package-lock.json; the scores are printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_web import start, submitted_case

HERE = Path(__file__).resolve().parent / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices")
BAR = 0.95

pytestmark = [pytest.mark.browser, pytest.mark.lighthouse]


def _lighthouse_ready() -> bool:
    return (HERE / "node_modules" / "lighthouse").exists() and shutil.which("node") is not None


def test_the_applicants_pages_score_95_in_lighthouse(live_app, tmp_path, record_property):
    if not _lighthouse_ready():
        message = "Lighthouse is not installed: npm ci --prefix tests/lighthouse (.ci/test does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    url, app = live_app
    client = app.test_client()
    # A case submitted for the receipt, and a second draft, started only, for the form.
    receipt = submitted_case(client)
    draft = start(client)
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    pages = [{"name": "home", "url": f"{url}/"},
             {"name": "start", "url": f"{url}/b/open-restaurant"},
             {"name": "form", "url": f"{url}{draft}/form"},
             {"name": "guide", "url": f"{url}/g/open-restaurant"},
             {"name": "receipt", "url": f"{url}{receipt}"}]
    results = _lighthouse(pages, f"{cookie.key}={cookie.value}", tmp_path)
    # Performance is measured, so it varies from run to run on a shared machine: a page
    # under the bar is measured twice more and judged by its median, as Lighthouse CI
    # does. Accessibility and best practices are the same every run.
    slow = [page for page in pages
            if (results[page["name"]]["scores"]["performance"] or 0) < BAR]
    if slow:
        again = [_lighthouse(slow, f"{cookie.key}={cookie.value}", tmp_path) for _ in range(2)]
        for page in slow:
            runs = sorted((r[page["name"]] for r in (results, *again)),
                          key=lambda r: r["scores"]["performance"] or 0)
            results[page["name"]] = runs[1]
    record_property("lighthouse", [
        f"{name:8} " + "  ".join(f"{c} {round((r['scores'][c] or 0) * 100)}" for c in CATEGORIES)
        for name, r in results.items()])
    below = {name: r for name, r in results.items()
             if r["error"] or any((r["scores"][c] or 0) < BAR for c in CATEGORIES)}
    assert not below, json.dumps(below, ensure_ascii=False, indent=1)


def _lighthouse(pages: list[dict], cookie: str, folder: Path) -> dict[str, dict]:
    """Each page's scores and lost audits, by name, from one Lighthouse run of them all."""
    listing = folder / "pages.json"
    listing.write_text(json.dumps({"pages": pages, "cookie": cookie}))
    run = subprocess.run(["node", str(HERE / "run.mjs"), str(listing)], cwd=HERE,
                         capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CHROME_PATH": "/usr/bin/chromium"})
    assert run.returncode == 0, run.stderr[-2000:]
    results = {r["name"]: r for r in map(json.loads, run.stdout.splitlines())}
    assert list(results) == [page["name"] for page in pages]
    return results
