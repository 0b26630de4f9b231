"""Case work on the workbench's pages: the queue as cases, bulk reject and undo, filing on
a Party's behalf, amounts in the reader's language, the default language and the history."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.api.conftest import Api


def _signed_in(api: Api, key: str, cookies: dict[str, str]) -> None:
    """The client as a browser signed in (through the form) with ``key``, plus ``cookies``."""
    role = next(name for name, value in api.keys.items() if value == key)
    api.web_session(role)
    for name, value in cookies.items():
        api.client.cookies.set(name, value)


def _page(api: Api, key: str, path: str, **cookies: str) -> Any:
    _signed_in(api, key, cookies)
    return api.client.get(path, follow_redirects=False)


def _post(api: Api, key: str, path: str, data: dict[str, Any], **cookies: str) -> Any:
    _signed_in(api, key, cookies)
    return api.client.post(path, data=data, follow_redirects=False)


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', text)
    assert found
    return found.group(1)


def _proposed(api: Api, need: str) -> list[int]:
    items = api.call("GET", "/v1/proposals?state=proposed&limit=200", "secretariat").json()["items"]
    return [item["id"] for item in items if item["need"]["id"] == need]


def test_the_queue_shows_one_case_per_need_with_its_proposals_as_rows(api: Api) -> None:
    need = api.new_need(
        title="Thermometers in district hospitals", description="Hospitals hold broken thermometers."
    )
    page = _page(api, api.keys["secretariat"], "/queue?party=KEN")
    assert page.status_code == 200
    case = re.search(rf'<article class="case" aria-labelledby="case-{need}">(.*?)</article>', page.text, re.S)
    assert case, "the need has its own case"
    body = case.group(1)
    assert body.count('class="original"') == 1  # the need's text once, not once per proposal
    rows = re.findall(r'<li class="proposal" id="proposal-(\d+)"', body)
    assert sorted(map(int, rows)) == sorted(_proposed(api, need))
    assert body.count('form="bulk-reject"') == len(rows)
    assert 'id="bulk-reject"' in page.text
    assert page.text.count('<article class="case"') <= 10  # a page of cases, not of proposals


def test_bulk_reject_then_undo_from_the_pages(api: Api) -> None:
    need = api.new_need(
        title="Lamps with mercury", description="We need collection of spent fluorescent lamps."
    )
    staff = api.keys["secretariat"]
    page = _page(api, staff, "/queue?party=KEN")
    token = _csrf(page.text)
    first, second, third, *_ = _proposed(api, need)
    nothing = _post(
        api, staff, "/proposals/bulk-reject", {"csrf": token, "reason": "x", "next": "/queue?party=KEN"}
    )
    assert "error%3Apick" in nothing.headers["location"] and "party=KEN" in nothing.headers["location"]
    done = _post(
        api,
        staff,
        "/proposals/bulk-reject",
        {
            "csrf": token,
            "proposal": [str(first), str(second)],
            "reason": "Outside the call",
            "next": "/queue?party=KEN",
        },
    )
    assert done.status_code == 303 and "bulk%3A2" in done.headers["location"]
    shown = _page(api, staff, done.headers["location"])
    assert "2 proposal(s) rejected." in shown.text

    accepted = _post(api, staff, f"/proposals/{third}/accept", {"csrf": token, "next": "/queue?party=KEN"})
    after = _page(api, staff, accepted.headers["location"])
    assert f'action="/proposals/{third}/undo"' in after.text  # Undo offered with the notice
    assert f'action="/needs/{need}/close-remaining"' in after.text  # the matched case's other proposals
    undone = _post(api, staff, f"/proposals/{third}/undo", {"csrf": token, "next": "/queue?party=KEN"})
    assert f"undo%3A{third}" in undone.headers["location"]
    assert third in _proposed(api, need)
    trail = api.call("GET", f"/v1/audit?entity_type=match&entity_id={third}", "secretariat").json()["items"]
    assert [event["action"] for event in trail][-2:] == ["match.accept", "match.undo"]


def test_staff_file_a_request_on_a_partys_behalf(api: Api) -> None:
    staff = api.keys["secretariat"]
    form = _page(api, staff, "/requests/new")
    assert form.status_code == 200 and '<select id="party" name="party"' in form.text
    assert '<option value="SEN" >Senegal</option>' in form.text
    data = {
        "csrf": _csrf(form.text),
        "action": "submit",
        "party": "SEN",
        "title": "Mercury in artisanal gold mining",
        "description": "Miners in Kédougou burn amalgam in the open; we need retorts and training.",
    }
    filed = _post(api, staff, "/requests/new", data)
    assert filed.status_code == 303, filed.text[:300]
    need = filed.headers["location"].rsplit("/", 1)[1]
    assert api.call("GET", f"/v1/needs/{need}", "secretariat").json()["party"] == "SEN"
    assert _post(api, staff, "/requests/new", {**data, "party": "XXX"}).status_code == 422


def test_a_spanish_amount_is_shown_back_then_saved_and_unusual_ones_are_confirmed(api: Api) -> None:
    party = api.keys["party"]
    form = _page(api, party, "/requests/new", mm_lang="es")
    data = {
        "csrf": _csrf(form.text),
        "action": "submit",
        "title": "Almacenamiento de residuos de mercurio",
        "description": "Necesitamos almacenamiento provisional seguro para termómetros de hospitales.",
        "budget_usd": "250.000",
    }
    shown = _post(api, party, "/requests/new", data, mm_lang="es")
    assert shown.status_code == 200 and "Se lee 250.000 USD" in shown.text  # nothing saved yet
    echoed = re.search(r'name="budget_usd_shown" value="(\d+)"', shown.text)
    assert echoed and echoed.group(1) == "250000"
    saved = _post(api, party, "/requests/new", {**data, "budget_usd_shown": "250000"}, mm_lang="es")
    assert saved.status_code == 303
    need = saved.headers["location"].rsplit("/", 1)[1]
    assert api.call("GET", f"/v1/needs/{need}", "party").json()["budget_usd"] == 250000

    words = {**data, "budget_usd": "1,5 millones"}
    asked = _post(api, party, "/requests/new", {**words, "budget_usd_shown": "1500000"}, mm_lang="es")
    assert asked.status_code == 200 and "«1,5 millones» se lee 1.500.000 USD" in html.unescape(asked.text)
    assert 'name="budget_usd_confirmed" value="1500000"' in asked.text
    confirmed = _post(api, party, "/requests/new", {**words, "budget_usd_confirmed": "1500000"}, mm_lang="es")
    assert confirmed.status_code == 303
    need = confirmed.headers["location"].rsplit("/", 1)[1]
    assert api.call("GET", f"/v1/needs/{need}", "party").json()["budget_usd"] == 1_500_000

    small = _post(
        api, party, "/requests/new", {**data, "budget_usd": "1,5", "budget_usd_shown": "1.5"}, mm_lang="es"
    )
    assert small.status_code == 200 and "1,50 USD" in small.text and "budget_usd_confirmed" in small.text

    ambiguous = _post(api, party, "/requests/new", {**data, "budget_usd": "1,500"}, mm_lang="fr")
    assert ambiguous.status_code == 422
    assert "« 1,500 » peut se lire 1,50 ou 1\u202f500" in html.unescape(ambiguous.text)


def test_the_browsers_language_is_the_default_and_arabic_is_right_to_left(api: Api) -> None:
    api.web_session("party")
    page = api.client.get("/requests", headers={"Accept-Language": "ar-JO,ar;q=0.9,en;q=0.5"})
    assert '<html lang="ar" dir="rtl">' in page.text and "طلباتي" in page.text
    chinese = api.client.get("/requests", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh" dir="ltr">' in chinese.text and "我的请求" in chinese.text
    api.client.cookies.set("mm_lang", "ru")
    chosen = api.client.get("/requests", headers={"Accept-Language": "ar"})
    assert '<html lang="ru" dir="ltr">' in chosen.text  # a choice in the header wins
    api.client.cookies.clear()


def test_the_history_says_who_what_from_to_and_why(api: Api) -> None:
    officer = api.call(
        "POST", "/v1/keys", "admin", {"role": "secretariat", "label": "Li Wei (Asia desk)"}
    ).json()
    need = api.new_need(
        title="Skin-lightening creams", description="Creams with mercury are sold in markets."
    )
    first = _proposed(api, need)[0]
    reviewer = {"Authorization": f"Bearer {officer['key']}"}
    assert api.client.post(
        f"/v1/proposals/{first}/reject", json={"reason": "Not in our region"}, headers=reviewer
    ).is_success
    api.call("PATCH", f"/v1/needs/{need}", "party", {"budget_usd": 120000})
    api.call("POST", f"/v1/needs/{need}/assign", "secretariat", {"officer": officer["id"]})
    page = _page(api, api.keys["secretariat"], f"/needs/{need}", mm_lang="fr")
    table = re.search(r'<table class="history">(.*?)</table>', page.text, re.S).group(1)  # type: ignore[union-attr]
    history = html.unescape(re.sub(r"<[^>]+>", "", table))
    assert "Li Wei (Asia desk)" in history and officer["id"] not in history.replace(
        f"key:{officer['id']}", ""
    )
    assert "proposition rejetée" in history and "Not in our region" in history
    assert (
        "état : proposée → rejetée" in history.replace(": ", " : ", 1)
        or "état: proposée → rejetée" in history
    )
    assert "budget (USD): – → 120\u202f000" in history
    assert "dossier attribué" in history and "Li Wei (Asia desk)" in history
    assert '{"' not in history  # no raw JSON
    party = _page(api, api.keys["party"], f"/needs/{need}")
    party_history = re.search(r'<table class="history">(.*?)</table>', party.text, re.S).group(1)  # type: ignore[union-attr]
    assert "Li Wei" not in party_history and "rejected" not in party_history
