"""The workbench in all six UN languages, on a 390 px phone, in Chromium: every page view
fits the screen, is accessible (axe-core), has ``lang`` and ``dir`` on <html> and, in
Arabic, is right to left with no English interface string (the needs survey and the
assessment's pages among them); amounts typed in Spanish;
bulk reject and undo audited in order; the API docs render with the network cut off."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from matcher.api.web import i18n
from tests.browser.conftest import Site, need_id_from

pytestmark = pytest.mark.slow  # a real server process driven in Chromium

PHONE = {"width": 390, "height": 844}
# Set to a folder (e.g. docs) to save the README's screenshots there.
SCREENSHOTS = os.environ.get("MATCHER_SCREENSHOT_DIR")
# Interface strings that are also names or codes an Arabic page legitimately shows.
NOT_INTERFACE = {"Minamata Match"}


def _api(site: Site, method: str, path: str, role: str, body: Any = None) -> Any:
    response = httpx.request(
        method,
        f"{site.base}{path}",
        json=body,
        headers={"Authorization": f"Bearer {site.keys[role]}"},
        timeout=60,
    )
    assert response.status_code < 400, response.text
    return response.json()


@pytest.fixture(scope="module")
def cases(site: Site) -> dict[str, str]:
    """A need of the Party with proposals, and a programme of the provider."""
    need = _api(
        site,
        "POST",
        "/v1/needs",
        "party",
        {
            "title": "Gestion des déchets de mercure des hôpitaux",
            "description": "Nos hôpitaux remplacent les thermomètres au mercure et n'ont pas de stockage provisoire sûr.",
            "budget_usd": 250000,
        },
    )["id"]
    offerings = _api(site, "GET", "/v1/offerings?limit=200", "provider")["items"]
    offering = next(item["id"] for item in offerings if item["provider_id"] == "unep")
    # An open survey round, so the Party's survey page shows its form (a title in no language).
    deadline = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    _api(site, "POST", "/v1/survey/rounds", "secretariat", {"title": "MIA-2026", "deadline": deadline})
    return {"need": need, "offering": offering}


def _views(cases: dict[str, str]) -> dict[str | None, list[str]]:
    need, offering = cases["need"], cases["offering"]
    return {
        None: ["/"],
        "secretariat": [
            "/queue",
            "/queue?state=all",
            f"/needs/{need}",
            "/report",
            "/programmes",
            f"/programmes/{offering}",
            f"/programmes/{offering}/needs",
            "/verification",
            "/requests/new",
            "/needs/need-000000000000",
            "/assessment/survey",
            "/assessment/answers",
        ],
        "party": ["/requests", "/requests/new", f"/needs/{need}", f"/needs/{need}/edit", "/survey"],
        "provider": [
            "/programmes",
            "/programmes/new",
            f"/programmes/{offering}",
            f"/programmes/{offering}/needs",
        ],
    }


def _phone_page(site: Site, role: str | None, language: str) -> Any:
    page = site.page(role)
    page.set_viewport_size(PHONE)
    page.goto(f"{site.base}/language/{language}?next=/")
    return page


def _english_fragments() -> list[str]:
    """The English interface text, as fragments long enough to be telling (the words
    between placeholders)."""
    english = set(i18n.TEXT["en"].values()) | set(i18n.STATES["en"].values()) | set(i18n.PARTS["en"].values())
    for names in i18n.NAMES["en"].values():
        english |= set(names.values())
    fragments: set[str] = set()
    for text in english - NOT_INTERFACE:
        for fragment in re.split(r"\{[a-z_]+\}|%\.2f", text):
            fragment = fragment.strip(" .:,;()“”")
            if len(fragment) >= 4 and re.search(r"[A-Za-z]{3}", fragment):
                fragments.add(fragment)
    return sorted(fragments, key=len, reverse=True)


# Text of the page without content in another language (needs, programmes, names a user typed).
INTERFACE_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  const lang = document.documentElement.lang;
  copy.querySelectorAll('[lang]').forEach((node) => { if (node.lang !== lang) node.remove(); });
  copy.querySelectorAll('option, script, style').forEach((node) => node.remove());
  return copy.innerText;
}"""


@pytest.mark.parametrize("language", ["ar", "zh", "en", "fr", "ru", "es"])
def test_every_page_view_fits_a_phone_and_is_accessible(
    site: Site, cases: dict[str, str], language: str
) -> None:
    problems: dict[str, list[str]] = {}
    english = _english_fragments() if language == "ar" else []
    for role, paths in _views(cases).items():
        page = _phone_page(site, role, language)
        for path in paths:
            page.goto(f"{site.base}{path}")
            found: list[str] = []
            root = page.evaluate(
                "() => ({lang: document.documentElement.lang, dir: document.documentElement.dir,"
                " scroll: document.documentElement.scrollWidth, width: window.innerWidth})"
            )
            if root["lang"] != language or root["dir"] != ("rtl" if language == "ar" else "ltr"):
                found.append(f"<html lang={root['lang']} dir={root['dir']}>")
            if root["scroll"] > root["width"]:
                wide = page.evaluate(
                    """() => [...document.querySelectorAll('body *')]
                      .filter((node) => node.getBoundingClientRect().right > window.innerWidth + 1
                                        || node.getBoundingClientRect().left < -1)
                      .slice(0, 3).map((node) => node.tagName + '.' + node.className)"""
                )
                found.append(f"scrolls sideways: {root['scroll']} > {root['width']} ({wide})")
            if english:
                text = page.evaluate(INTERFACE_TEXT)
                leaks = [
                    fragment
                    for fragment in english
                    if re.search(rf"(?<![\w-]){re.escape(fragment)}(?![\w-])", text)
                ]
                if leaks:
                    found.append(f"English interface text: {leaks[:5]}")
            found += site.serious_violations(page)
            if found:
                problems[f"{role} {path}"] = found
        page.context.close()
    assert problems == {}


def test_arabic_is_right_to_left_on_the_page_and_in_the_boxes(site: Site, cases: dict[str, str]) -> None:
    page = _phone_page(site, "party", "ar")
    page.goto(f"{site.base}/requests/new")
    page.locator("#title").fill("إدارة نفايات الزئبق من المستشفيات")
    page.locator("#description").fill(
        "نحتاج إلى دعم فني لإنشاء نظام لجمع وتخزين النفايات المحتوية على الزئبق."
    )
    directions = page.evaluate(
        "() => ['main', '#title', '#description', 'header.top'].map((s) => getComputedStyle(document.querySelector(s)).direction)"
    )
    assert directions == ["rtl", "rtl", "rtl", "rtl"]
    # The brand sits at the right edge, as an Arabic reader expects.
    brand = page.locator("header.top .brand").bounding_box()
    assert brand is not None and brand["x"] + brand["width"] > PHONE["width"] - 40
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / "arabic-390.png"), full_page=True)
    page.goto(f"{site.base}/report")  # the Party may not: the error page is Arabic too
    assert page.evaluate("document.documentElement.dir") == "rtl"
    page.context.close()
    staff = _phone_page(site, "secretariat", "ar")
    staff.goto(f"{site.base}/report")
    labels = staff.locator("svg.chart text[direction=rtl]")
    if labels.count():
        box = labels.first.bounding_box()
        svg = staff.locator("svg.chart").first.bounding_box()
        assert box is not None and svg is not None and box["x"] + box["width"] > svg["x"] + svg["width"] * 0.6
    staff.context.close()


def test_a_spanish_amount_is_read_the_spanish_way(site: Site) -> None:
    page = site.page("party")
    page.goto(f"{site.base}/language/es?next=/requests/new")
    page.get_by_label("Título").fill("Almacenamiento de residuos de mercurio")
    page.get_by_label("Descripción").fill(
        "Necesitamos almacenamiento provisional seguro para termómetros rotos."
    )
    page.get_by_label("Presupuesto indicativo (USD)").fill("250.000")
    page.get_by_role("button", name="Enviar solicitud").click()
    assert "Se lee 250.000 USD" in page.locator("#budget_usd-hint").inner_text()  # shown back, not saved
    page.get_by_role("button", name="Enviar solicitud").click()
    page.wait_for_url("**/needs/need-*")
    need = need_id_from(page.url)
    assert _api(site, "GET", f"/v1/needs/{need}", "party")["budget_usd"] == 250000

    page.goto(f"{site.base}/requests/new")
    page.get_by_label("Título").fill("Capacitación de mineros")
    page.get_by_label("Descripción").fill("Queremos capacitar a mineros artesanales en métodos sin mercurio.")
    page.get_by_label("Presupuesto indicativo (USD)").fill("1,5 millones")
    page.get_by_role("button", name="Enviar solicitud").click()
    assert "1.500.000 USD" in page.locator("#budget_usd-hint").inner_text()
    page.get_by_role("button", name="Enviar solicitud").click()  # not confirmed: still asked
    assert "/requests/new" in page.url
    page.get_by_label("Sí, 1.500.000 USD es correcto").check()
    page.get_by_role("button", name="Enviar solicitud").click()
    page.wait_for_url("**/needs/need-*")
    assert _api(site, "GET", f"/v1/needs/{need_id_from(page.url)}", "party")["budget_usd"] == 1_500_000
    page.context.close()


def test_bulk_reject_and_undo_are_audited_in_order(site: Site, cases: dict[str, str]) -> None:
    staff = site.page("secretariat")
    staff.set_viewport_size({"width": 1280, "height": 900})
    staff.goto(f"{site.base}/queue?party=SEN")
    case = staff.locator(f"article.case[aria-labelledby='case-{cases['need']}']")
    rows = case.locator("li.proposal")
    assert rows.count() >= 3
    if SCREENSHOTS:
        staff.goto(f"{site.base}/queue")
        staff.screenshot(path=str(Path(SCREENSHOTS) / "queue.png"), full_page=False)
        staff.goto(f"{site.base}/queue?party=SEN")
    picked = [int(rows.nth(index).get_attribute("id").split("-")[1]) for index in (1, 2)]  # type: ignore[union-attr]
    for number in picked:
        staff.locator(f"#pick-{number}").check()
    staff.get_by_label("Reason for rejecting the selected proposals").fill(
        "Outside the programme's countries"
    )
    staff.get_by_role("button", name="Reject the selected proposals").click()
    assert "2 proposal(s) rejected." in staff.locator("[role=status]").inner_text()
    first = case.locator("li.proposal").first
    accepted = int(first.get_attribute("id").split("-")[1])  # type: ignore[union-attr]
    first.get_by_role("button", name="Accept").click()
    staff.locator("[role=status]").get_by_role("button", name="Undo").click()
    assert "was undone" in staff.locator("[role=status]").inner_text()
    staff.context.close()

    events = _api(site, "GET", "/v1/audit?entity_type=match&limit=200&offset=0", "secretariat")
    trail: list[tuple[str, int]] = []
    offset: int | None = 0
    while offset is not None:
        page = _api(site, "GET", f"/v1/audit?entity_type=match&limit=200&offset={offset}", "secretariat")
        trail += [(event["action"], int(event["entity_id"])) for event in page["items"]]
        offset = page["next_offset"]
    assert events["items"]
    mine = [item for item in trail if item[1] in (*picked, accepted) and item[0] != "match.drop"]
    assert mine[-4:] == [
        ("match.reject", min(picked)),
        ("match.reject", max(picked)),
        ("match.accept", accepted),
        ("match.undo", accepted),
    ]


@pytest.fixture
def offline(site: Site) -> Iterator[tuple[Any, list[str]]]:
    """A browser page that can reach 127.0.0.1 only: every other request is aborted and noted."""
    context = site.browser.new_context()
    page = context.new_page()
    blocked: list[str] = []

    def route(route: Any) -> None:
        host = httpx.URL(route.request.url).host
        if host == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", route)
    yield page, blocked
    context.close()


def test_api_docs_render_with_the_network_cut_off(site: Site, offline: tuple[Any, list[str]]) -> None:
    page, blocked = offline
    page.goto(f"{site.base}/docs")
    page.wait_for_selector(".opblock-summary", timeout=30_000)
    assert page.locator(".opblock").count() > 20
    assert page.get_by_text("/v1/proposals/bulk-reject").count() >= 1
    assert _elsewhere(page) == []
    page.goto(f"{site.base}/redoc")
    page.locator("h2", has_text="File a need").first.wait_for(timeout=30_000)
    assert _elsewhere(page) == []
    assert blocked == []


def _elsewhere(page: Any) -> list[str]:
    """``src`` and ``href`` values of the page that point to another host."""
    sources = page.evaluate(
        "() => [...document.querySelectorAll('[src], [href]')].flatMap((n) => [n.getAttribute('src'), n.getAttribute('href')])"
    )
    absolute = [source for source in sources if source and re.match(r"^(https?:)?//", source)]
    return [
        source
        for source in absolute
        if httpx.URL(source if ":" in source.split("//")[0] else "http:" + source).host != "127.0.0.1"
    ]
