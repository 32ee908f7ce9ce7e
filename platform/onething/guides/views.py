"""Public guides (办事指南) behind stable URLs and QR codes, and the service manual (服务手册).

Service halls print QR codes on posters, desks and handbooks, so the code must
never change while what it opens is always current. Every published bundle
and every matter of a published bundle has a guide at ``/g/<code>``; its QR
code encodes only that URL, so the image stays byte for byte the same across
versions. What the URL shows is the newest published version: a bundle's own,
or for a matter the newest published bundle version that holds it. Drafts and
definitions that were never published are not public.

A guide already open on a phone learns of a new version by polling a small
endpoint every 2 seconds with the version's ETag; while nothing changes the
answer is a 304 without a body. A changed version answers 200 with an
``HX-Trigger`` that makes the page fetch its guide again, in place.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import segno
from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from sqlalchemy import func, select

from onething.cases.forms import parse_form
from onething.cases.views import public_url
from onething.cases.views.start import applicable_sections, preview, question_layout
from onething.catalog.definitions import Bundle, Matter
from onething.catalog.text import pinyin
from onething.composer.compose import compose
from onething.composer.materials import merge_materials
from onething.guides.flow import days_text, flow_svg
from onething.guides.search import directory_index
from onething.publishing.versions import bundle_of, latest_version
from onething.publishing.working_catalog import holders
from onething.storage.db import paginate
from onething.storage.models import BundleVersion, PublishedService
from onething.web.extensions import get_session, htmx
from onething.web.i18n import localized

bp = Blueprint("guides", __name__, template_folder="templates")

# Codes are at most 64 characters (schemas/meta/common.json): longer ones need no lookup.
CODE_MAX_LENGTH = 64
# Polling interval of an open guide; a new version shows within this plus one request.
POLL_SECONDS = 2

AUDIENCES = {"person": lazy_gettext("People"), "enterprise": lazy_gettext("Businesses")}
# Life events (人生事件) for people; unknown themes fall into "Other services".
LIFE_EVENTS = {
    "birth": lazy_gettext("Having a baby"),
    "education": lazy_gettext("Going to school"),
    "employment": lazy_gettext("Work and employment"),
    "housing": lazy_gettext("Housing"),
    "medical": lazy_gettext("Health care"),
    "retirement": lazy_gettext("Retirement and old age"),
    "death": lazy_gettext("After a death"),
}
# The three stages of an enterprise (筹备 / 准入 / 营业), and the themes that fall in each.
STAGES = {
    "preparation": lazy_gettext("Preparing (筹备)"),
    "entry": lazy_gettext("Entering the market (准入)"),
    "operation": lazy_gettext("Operating (营业)"),
}
STAGE_OF_THEME = {
    "preparation": "preparation",
    "construction": "preparation",
    "entry": "entry",
    "elderly-care": "entry",
    "operation": "operation",
}
OTHER = lazy_gettext("Other services")
# What a service is called by its kind: a matter, or a bundle of one of three kinds.
SERVICE_KINDS = {"one_thing": lazy_gettext("One thing (一件事)"),
                 "one_class": lazy_gettext("One class of things (一类事)"),
                 "one_industry_one_licence": lazy_gettext("One industry, one licence (一业一证)")}


@bp.app_template_global()
def service_kind_name(kind: str | None) -> str:
    """A service's kind as people say it ("matter" for a matter applied for alone)."""
    return str(SERVICE_KINDS.get(kind or "", lazy_gettext("Matter (事项)")))
SERVES = {
    "natural_person": lazy_gettext("Individuals"),
    "enterprise": lazy_gettext("Enterprises"),
    "public_institution": lazy_gettext("Public institutions"),
    "social_organisation": lazy_gettext("Social organisations"),
    "unincorporated_enterprise": lazy_gettext("Unincorporated businesses"),
    "government_agency": lazy_gettext("Government agencies"),
    "other_organisation": lazy_gettext("Other organisations"),
}


@dataclass
class Guide:
    """What /g/<code> shows: a bundle, or a matter, from one published version."""

    code: str
    version: BundleVersion
    bundle: Bundle
    matter: Matter | None = None
    # The published bundles holding it (for a matter's 'start' links), newest version first.
    holders: list[Bundle] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """bundle or matter."""
        return "matter" if self.matter is not None else "bundle"

    @property
    def definition(self) -> Bundle | Matter:
        """The bundle or matter itself."""
        return self.matter if self.matter is not None else self.bundle

    @property
    def etag(self) -> str:
        """Names the published version the guide comes from: bundle, number and digest."""
        return f"{self.version.bundle_code}.{self.version.number}.{self.version.digest}"


def find_guide(session, code: str) -> Guide | None:
    """The public guide of a code: a published bundle, or a matter of one; None otherwise."""
    if len(code) > CODE_MAX_LENGTH:
        return None
    version = latest_version(session, code)
    if version is None:
        # A matter held by published bundles, before it was first published alone.
        holding = versions_holding(session, code)
        if not holding:
            return None
        version, bundle = holding[0]
        return Guide(code, version, bundle, bundle.catalog.matters[code],
                     holders=[held for _, held in holding])
    bundle = bundle_of(version)
    if not bundle.alone:
        return Guide(code, version, bundle, holders=[bundle])
    # A matter's guide: applying for it alone, or within a bundle holding it.
    holding = [held for _, held in versions_holding(session, code)]
    return Guide(code, version, bundle, bundle.catalog.matters[code],
                 holders=[bundle, *holding])


def versions_holding(session, matter: str) -> list[tuple[BundleVersion, Bundle]]:
    """The newest version of each published bundle holding a matter, newest first.

    The working catalog's references name the candidates, so a city's other bundles are
    never read; each candidate's published version decides.
    """
    found = []
    for code in holders(session, "matter", matter):
        version = latest_version(session, code)
        if version is not None and matter in (bundle := bundle_of(version)).matter_codes():
            found.append((version, bundle))
    return sorted(found, key=lambda pair: (pair[0].published_at, pair[0].id or 0), reverse=True)


def guide_url(code: str) -> str:
    """The stable absolute URL of a guide: what its QR code encodes, and nothing else."""
    return public_url("guides.guide", code=code)


def distinct(texts) -> list[str]:
    """Localized texts, empty and repeated ones left out, in their first order."""
    return list(dict.fromkeys(text for text in (localized(t) for t in texts if t) if text))


def matters_of(guide: Guide) -> list[Matter]:
    """The matters a guide covers: the bundle's (in item order), or the matter alone."""
    if guide.matter is not None:
        return [guide.matter]
    catalog = guide.bundle.catalog
    return [catalog.matters[code] for code in guide.bundle.matter_codes()]


def applicants(matters: list[Matter]) -> list[str]:
    """Who may apply for every matter (or, if no one may, for any of them)."""
    lists = [m.data.get("serves", []) for m in matters]
    every = [s for s in dict.fromkeys(s for serves in lists for s in serves)
             if all(s in serves for serves in lists)]
    return every or list(dict.fromkeys(s for serves in lists for s in serves))


def legal_bases(matters: list[Matter]) -> list[dict]:
    """Each law or regulation once, with every article the matters cite from it."""
    laws: dict[str, dict] = {}
    for matter in matters:
        for basis in matter.data.get("legal_basis", []):
            law = laws.setdefault(localized(basis["name"]), {
                "name": localized(basis["name"]), "number": basis.get("number"), "articles": []})
            article = localized(basis.get("article"))
            if article and article not in law["articles"]:
                law["articles"].append(article)
    return list(laws.values())


def panel(guide: Guide, answers: dict, flow_ident: str = "flow") -> dict:
    """What the answers narrow: materials, the flow diagram and the savings."""
    if guide.matter is not None:
        conditions = {guide.matter.code: None}
        materials = merge_materials([guide.matter], conditions, None)
        return {"complete": False, "answered": False, "materials": materials, "plan": None,
                "savings": None, "flow": None}
    general = compose(guide.bundle)
    shown = preview(guide.bundle, answers) if answers else {"complete": False}
    complete = shown["complete"]
    plan = shown["plan"] if complete else general.plan
    title = localized(guide.bundle.name)
    return {
        "complete": complete,
        "answered": bool(answers),
        "materials": shown["materials"] if answers else general.materials,
        "plan": plan,
        "savings": shown["savings"] if complete else general.savings,
        "flow": flow_svg(plan, guide.bundle.catalog, title, ident=flow_ident),
    }


def guide_context(guide: Guide, flow_ident: str = "flow") -> dict:
    """Everything the guide templates need (`flow_ident`: the flow diagram's SVG id)."""
    layout = question_layout(guide.bundle) if guide.matter is None else None
    answers = parse_form(layout, request.args) if layout else {}
    keys = {entry["path"] for section in layout["sections"] for entry in section["fields"]
            } if layout else set()
    # The start page reads the same answers from its query string: carry them over.
    start_args = {key: values for key, values in request.args.lists() if key in keys}
    matters = matters_of(guide)
    general = compose(guide.bundle) if guide.matter is None else None
    # The stages of a 一类事 shown: those the answers so far leave in.
    stages = applicable_sections(layout, answers) if layout else []
    shown = ",".join(section["id"] for section in stages)
    return {
        "stages": stages,
        "restage": len(layout["sections"]) > 1 and request.args.get("_stages") != shown
        if layout else False,
        "guide": guide, "definition": guide.definition, "bundle": guide.bundle,
        "catalog": guide.bundle.catalog, "version": guide.version, "layout": layout,
        "answers": answers, "matters": matters, "holders": guide.holders,
        "plan": general.plan if general else None, "panel": panel(guide, answers, flow_ident),
        "serves": [SERVES.get(s, s) for s in applicants(matters)],
        "audience": AUDIENCES.get(guide.bundle.data.get("audience", "")),
        "distinct": distinct, "poll_seconds": POLL_SECONDS, "start_args": start_args,
        "days_text": days_text, "legal_bases": legal_bases(matters),
    }


def not_found(code: str):
    """The helpful 404: say what happened and offer the search, with a few guesses."""
    code = code[:CODE_MAX_LENGTH]
    guesses = directory_index(get_session()).search(code.replace("-", " "), 3)
    return render_template("guide_not_found.html", code=code, hits=guesses), 404


@bp.get("/g/<code>")
def guide(code: str):
    """A guide: the full page, or for htmx the materials panel or the whole guide again."""
    found = find_guide(get_session(), code)
    if found is None:
        return not_found(code)
    context = guide_context(found)
    if htmx and htmx.target == "guide-panel":
        return render_template("_guide_materials.html", **context)
    if htmx and htmx.target == "guide":
        return render_template("_guide.html", **context)
    return render_template("guide.html", seo=search_engine_view(found), **context)


# A search engine shows about this many characters of a page's description.
DESCRIPTION_LENGTH = 150


def search_engine_view(guide: Guide) -> dict:
    """What search engines read of a guide: its description and schema.org data."""
    definition = guide.definition
    name = localized(definition.name)
    text = localized(definition.data.get("description")) or _(
        "Service guide for %(name)s: conditions, materials, time limits, fees and where to "
        "apply.", name=name)
    description = " ".join(text.split())
    if len(description) > DESCRIPTION_LENGTH:
        description = description[:DESCRIPTION_LENGTH - 1] + "…"
    catalog = guide.bundle.catalog
    provider = catalog.departments.get(definition.department if guide.matter is not None
                                       else definition.data.get("lead_department"))
    structured = {
        "@context": "https://schema.org",
        "@type": "GovernmentService",
        "name": name,
        "description": description,
        "serviceType": service_kind_name(None if guide.matter is not None
                                         else guide.bundle.data.get("kind")),
        "url": guide_url(guide.code),
        "areaServed": {"@type": "AdministrativeArea",
                       "name": current_app.config["AREA_SERVED"]},
    }
    if provider is not None:
        structured["provider"] = {"@type": "GovernmentOrganization",
                                  "name": localized(provider.name)}
    return {"description": description, "structured_data": structured}


# The sitemap protocol's limit of URLs in one file (sitemaps.org).
SITEMAP_URLS = 50_000


def _guide_codes(session) -> list[tuple[str, dt.datetime]]:
    """Every published code with a guide, and when it was last published."""
    return [(code, published) for code, published in session.execute(
        select(BundleVersion.bundle_code, func.max(BundleVersion.published_at))
        .group_by(BundleVersion.bundle_code).order_by(BundleVersion.bundle_code)).all()]


@bp.get("/sitemap.xml")
def sitemap():
    """Every published guide, or past 50,000 an index of sitemap files of at most that many."""
    codes = _guide_codes(get_session())
    if len(codes) <= SITEMAP_URLS:
        return _sitemap_response("sitemap.xml", urls=codes)
    files = [public_url("guides.sitemap_part", number=number)
             for number in range(1, -(-len(codes) // SITEMAP_URLS) + 1)]
    return _sitemap_response("sitemap_index.xml", files=files)


@bp.get("/sitemap-<int:number>.xml")
def sitemap_part(number: int):
    """One file of a sitemap index."""
    codes = _guide_codes(get_session())
    part = codes[(number - 1) * SITEMAP_URLS:number * SITEMAP_URLS] if number >= 1 else []
    if not part:
        abort(404)
    return _sitemap_response("sitemap.xml", urls=part)


def _sitemap_response(template: str, **context) -> Response:
    if "urls" in context:
        context["urls"] = [(guide_url(code), published) for code, published in context["urls"]]
    return Response(render_template(template, **context), mimetype="application/xml")


@bp.get("/robots.txt")
def robots():
    """Guides are for everyone; drafts, cases, the inbox, the console and the API are not."""
    lines = ["User-agent: *", "Allow: /"]
    lines += [f"Disallow: {path}" for path in ("/admin/", "/inbox/", "/api/", "/d/", "/s/",
                                               "/login")]
    lines.append(f"Sitemap: {public_url('guides.sitemap')}")
    return Response("\n".join(lines) + "\n", mimetype="text/plain")


@bp.get("/g/<code>/live")
def live(code: str):
    """The open page's poll: 304 without a body while its version is current."""
    found = find_guide(get_session(), code)
    if found is None:
        return Response(status=404)
    headers = {"ETag": f'"{found.etag}"', "Cache-Control": "no-cache"}
    if request.if_none_match.contains(found.etag):
        return Response(status=304, headers=headers)
    page = render_template("_guide_live.html", guide=found, poll_seconds=POLL_SECONDS,
                           updated=bool(request.if_none_match))
    response = Response(page, headers=headers)
    if request.if_none_match:
        # The page holds an older version: tell it to fetch the guide again.
        response.headers["HX-Trigger"] = "guide-published"
    return response


def _qr(code: str) -> segno.QRCode:
    # make_qr: never a Micro QR, which most phone cameras cannot read.
    return segno.make_qr(guide_url(code), error="m")


@bp.get("/g/<code>/qr.svg")
def qr_svg(code: str):
    """The guide's QR code as SVG: the stable URL only, the same bytes for every version."""
    if find_guide(get_session(), code) is None:
        return not_found(code)
    out = io.BytesIO()
    _qr(code).save(out, kind="svg", scale=8, border=4, xmldecl=False)
    return Response(out.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/g/<code>/qr.png")
def qr_png(code: str):
    """The guide's QR code as PNG, for print shops and handbooks."""
    if find_guide(get_session(), code) is None:
        return not_found(code)
    out = io.BytesIO()
    _qr(code).save(out, kind="png", scale=10, border=4)
    return Response(out.getvalue(), mimetype="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})


@bp.get("/g/<code>/poster")
def poster(code: str):
    """A printable A4 poster: title, QR code, flow diagram and materials on one page."""
    found = find_guide(get_session(), code)
    if found is None:
        return not_found(code)
    # The panel's diagram is the poster's: drawing a second one cost as much again.
    context = guide_context(found, flow_ident="poster-flow")
    context["poster_flow"] = context["panel"]["flow"]
    return render_template("poster.html", link=guide_url(code), **context)


# Bundles a group of the manual shows before linking to all of them.
GROUP_PREVIEW = 6
# Rows a list of the manual shows at a time.
MANUAL_PAGE_SIZE = 50
_LISTED = (PublishedService.code, PublishedService.kind, PublishedService.name,
           PublishedService.audience, PublishedService.theme, PublishedService.matters)


def _group_key(audience: str | None, theme: str | None) -> tuple[str, str]:
    """The group of the manual a bundle falls in: a life event, or a business stage."""
    if audience == "person":
        return "person", theme or ""
    return "enterprise", STAGE_OF_THEME.get(theme or "", "other")


def _group_title(audience: str, key: str):
    if audience == "person":
        return LIFE_EVENTS.get(key, OTHER)
    return STAGES.get(key, OTHER)


def manual_groups(session) -> list[dict]:
    """Published bundles grouped by life event (people) and by stage (businesses).

    Each group shows its first few bundles and how many it holds in all.
    """
    people: dict[str, dict] = {}
    business: dict[str, dict] = {key: {"entries": [], "total": 0} for key in STAGES}
    rows = session.exec(select(*_LISTED).where(PublishedService.kind == "bundle")
                        .order_by(PublishedService.code)).all()
    for row in rows:
        audience, key = _group_key(row.audience, row.theme)
        group = (people if audience == "person" else business).setdefault(
            key, {"entries": [], "total": 0})
        group["total"] += 1
        if len(group["entries"]) < GROUP_PREVIEW:
            group["entries"].append(row)
    groups = [{"audience": "person", "key": key, "title": _group_title("person", key), **group}
              for key, group in sorted(people.items(),
                                       key=lambda item: (item[0] not in LIFE_EVENTS, item[0]))]
    groups += [{"audience": "enterprise", "key": key, "title": _group_title("enterprise", key),
                **group} for key, group in business.items()]
    return groups


def _in_group(audience: str, key: str):
    """The SQL condition of one group of the manual."""
    if audience == "person":
        theme = (PublishedService.theme == key) if key else PublishedService.theme.is_(None)
        return (PublishedService.audience == "person") & theme
    other = (PublishedService.audience != "person") | PublishedService.audience.is_(None)
    themes = [theme for theme, stage in STAGE_OF_THEME.items() if stage == key]
    if key == "other":
        return other & (PublishedService.theme.is_(None)
                        | PublishedService.theme.not_in(list(STAGE_OF_THEME)))
    return other & PublishedService.theme.in_(themes)


def _departments(session) -> list[dict]:
    """The departments with matters to apply for alone, by name, with how many each has."""
    counts = dict(session.execute(
        select(PublishedService.department_code, func.count())
        .where(PublishedService.kind == "matter")
        .group_by(PublishedService.department_code)).all())
    first = (select(func.min(PublishedService.id)).where(PublishedService.kind == "matter")
             .group_by(PublishedService.department_code))
    names = session.execute(select(PublishedService.department_code,
                                   PublishedService.department_name)
                            .where(PublishedService.id.in_(first))).all()
    departments = [{"code": code, "name": localized(name) if name else code,
                    "count": counts.get(code, 0)} for code, name in names if code]
    # In the order of their names' pinyin, as Chinese lists are: 城阳区 before 市南区.
    return sorted(departments, key=lambda d: (pinyin(d["name"]), d["name"]))


def _page_number() -> int:
    try:
        return int(request.args.get("page", "1"))
    except ValueError:
        return 1


def manual_list(session):
    """One group of bundles, or the matters applied for alone (of one department), 50 a page."""
    statement = select(*_LISTED).order_by(PublishedService.code)
    context: dict = {"group": None, "department": None, "departments": None}
    group = request.args.get("group", "")
    audience, _sep, key = group.partition(":")
    # A life event is any theme (or none); a business stage one of the three, or other.
    if group and audience != "person" and not (
            audience == "enterprise" and key in (*STAGES, "other")):
        abort(404)
    if audience in AUDIENCES:
        statement = statement.where(PublishedService.kind == "bundle", _in_group(audience, key))
        context["group"] = {"audience": audience, "key": key, "arg": group,
                            "title": _group_title(audience, key)}
    else:
        statement = statement.where(PublishedService.kind == "matter")
        department = request.args.get("department", "")[:CODE_MAX_LENGTH]
        context["departments"] = _departments(session)
        if department:
            statement = statement.where(PublishedService.department_code == department)
            context["department"] = next(
                (d for d in context["departments"] if d["code"] == department), None)
            if context["department"] is None:
                abort(404)
    page = paginate(session, statement, _page_number(), MANUAL_PAGE_SIZE)
    return render_template("manual_list.html", rows=page.rows, total=page.total,
                           page=page.number, pages=page.pages, **context)


@bp.get("/manual")
def manual():
    """The service manual: one search box that understands a sentence, then the index."""
    session = get_session()
    if "group" in request.args or request.args.get("kind") == "matter":
        return manual_list(session)
    query = request.args.get("q", "").strip()[:200]
    hits = directory_index(session).search(query) if query else []
    if htmx and htmx.target == "search-results":
        return render_template("_search_results.html", query=query, hits=hits)
    matters = session.execute(select(func.count()).select_from(PublishedService)
                              .where(PublishedService.kind == "matter")).scalar_one()
    return render_template("manual.html", query=query, hits=hits, matters=matters,
                           groups=manual_groups(session), audiences=AUDIENCES)
