"""The workbench in a real browser: the review lifecycle, the report, keyboard use,
console errors and accessibility (axe-core)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Site, need_id_from

pytestmark = pytest.mark.slow  # a real server process driven in Chromium

FRENCH_TITLE = "Besoin d'appui"
FRENCH_TEXT = "Nous manquons de ressources et de capacités pour mettre en œuvre la Convention."


def _submit_french_request(site: Site, errors: list[str]) -> str:
    page = site.page("party", errors)
    page.goto(f"{site.base}/language/fr?next=/requests/new")
    page.get_by_label("Titre").fill(FRENCH_TITLE)
    page.get_by_label("Description").fill(FRENCH_TEXT)
    page.get_by_role("button", name="Vérifier ma demande").click()
    coaching = page.locator("section.coaching")
    assert coaching.is_visible()
    assert "préciser votre demande" in coaching.inner_text()
    page.get_by_role("button", name="Envoyer la demande").click()
    page.wait_for_url("**/needs/need-*")
    need = need_id_from(page.url)
    page.context.close()
    return need


def test_review_lifecycle_in_the_browser(site: Site) -> None:
    errors: list[str] = []
    need = _submit_french_request(site, errors)
    site.items["need"] = need

    staff = site.page("secretariat", errors)
    staff.get_by_role("button", name="Run matching").click()
    staff.wait_for_load_state()
    assert "proposals added" in staff.locator("[role=status]").inner_text()
    staff.goto(f"{site.base}/needs/{need}")
    rows = staff.locator("li.proposal")
    assert rows.count() >= 2
    accepted_title = rows.nth(0).locator(".programme-title strong").inner_text()
    rows.nth(0).get_by_role("button", name="Accept").click()
    staff.wait_for_load_state()
    second = staff.locator("li.proposal").filter(has=staff.get_by_role("button", name="Reject")).first
    second.get_by_label("Reason for rejecting").fill("The programme's call is closed.")
    second.get_by_role("button", name="Reject").click()
    staff.wait_for_load_state()
    history = staff.locator("table.history").inner_text()
    assert "proposal accepted" in history and "proposal rejected" in history
    assert history.index("proposal accepted") < history.index("proposal rejected")
    staff.context.close()

    party = site.page("party", errors)
    party.goto(f"{site.base}/requests")
    shown = party.locator("ul.proposals li").all_inner_texts()
    assert len(shown) == 1 and shown[0].startswith(accepted_title.strip())
    party.goto(f"{site.base}/needs/{need}")
    assert party.locator("article.card").count() == 1
    # The Party reads its own history: the acceptance, never the rejection or the runs.
    party_history = party.locator("table.history").inner_text()
    assert "proposal accepted" in party_history and "rejected" not in party_history
    party.context.close()
    assert errors == []


def test_report_renders_its_charts(site: Site) -> None:
    page = site.page("party")  # a Party cannot read the report
    page.goto(f"{site.base}/report")
    assert page.locator("table.heat").count() == 0
    page.context.close()
    staff = site.page("secretariat")
    # Under the fake encoders every open need is "no good match", so the charts have something to draw.
    requests = site.page("party")
    requests.goto(f"{site.base}/requests/new")
    requests.get_by_label("Title").fill("Mercury in skin-lightening creams")
    requests.get_by_label("Description").fill(
        "Creams containing mercury are sold in markets; we need testing."
    )
    requests.get_by_role("button", name="Submit request").click()
    requests.context.close()
    staff.goto(f"{site.base}/report")
    assert staff.locator("table.heat tbody tr").count() >= 1
    assert staff.locator("svg.chart rect").count() >= 1
    assert int(staff.locator("#unmet-count").inner_text()) >= 1
    csv = staff.request.get(f"{site.base}/report.csv")
    assert csv.ok and csv.text().lstrip("\ufeff").startswith("need_id,party,region")
    staff.context.close()


def test_the_queue_works_from_the_keyboard(site: Site) -> None:
    staff = site.page("secretariat")
    staff.goto(f"{site.base}/queue")
    if staff.locator("li.proposal").count() == 0:
        staff.get_by_role("button", name="Run matching").click()
        staff.wait_for_load_state()
    before = staff.locator("li.proposal").count()
    assert before >= 1
    for _ in range(300):
        staff.keyboard.press("Tab")
        focused = staff.evaluate("document.activeElement && document.activeElement.textContent.trim()")
        if focused == "Accept":
            break
    else:
        raise AssertionError("Tab never reached an Accept button")
    staff.keyboard.press("Enter")
    staff.wait_for_load_state()
    assert "accepted" in staff.locator("[role=status]").inner_text()
    assert staff.locator("li.proposal").count() == before - 1
    staff.context.close()


def test_no_console_errors_and_no_serious_accessibility_violations(site: Site) -> None:
    errors: list[str] = []
    problems: dict[str, list[str]] = {}
    need = site.items.get("need") or _submit_french_request(site, errors)
    visits = {
        None: ["/"],
        "secretariat": [
            "/queue",
            "/queue?state=all",
            f"/needs/{need}",
            "/report",
            "/programmes",
            "/verification",
            "/account",
            "/assessment/survey",
            "/assessment/answers",
        ],
        "party": [
            "/requests",
            "/requests/new",
            f"/needs/{need}",
            f"/needs/{need}/edit",
            "/account",
            "/survey",
        ],
        "provider": ["/programmes", "/programmes/new", "/programmes/unep-chemicals-health/needs", "/account"],
    }
    for role, paths in visits.items():
        page = site.page(role, errors)
        for path in paths:
            page.goto(f"{site.base}{path}")
            found = site.serious_violations(page)
            if found:
                problems[f"{role} {path}"] = found
        page.context.close()
    assert problems == {}
    assert errors == []
