"""The needs assessment through HTTP: a survey round from opening to a confirmed need, report
answers and their drafts, and the document download (staff only), on both engines."""

from __future__ import annotations

import datetime as dt
import html as html_module
import io
from pathlib import Path

from catalog.answers import load_answer_files
from matcher.store.db import session_scope
from tests.api.conftest import FORM_TOKEN, Api

SAMPLE = Path(__file__).resolve().parents[2] / "evaluation" / "data" / "answers_sample.jsonl"


def html_text(page: str) -> str:
    return html_module.unescape(page)


def _as(api: Api, role: str | None, **cookies: str) -> None:
    """The client signed in as ``role`` (a server-side web session), or signed out."""
    if role is None:
        api.client.cookies.clear()
    else:
        api.web_session(role)
    for name, value in cookies.items():
        api.client.cookies.set(name, value)


def _csrf(page: str) -> str:
    found = FORM_TOKEN.search(page)
    assert found, page[:300]
    return found.group(1)


def test_a_survey_round_from_opening_to_a_confirmed_need(api: Api) -> None:
    deadline = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert (
        api.call("POST", "/v1/survey/rounds", "party", {"title": "x", "deadline": deadline}).status_code
        == 403
    )
    opened = api.call(
        "POST", "/v1/survey/rounds", "secretariat", {"title": "Needs survey 2026", "deadline": deadline}
    )
    assert opened.status_code == 201 and opened.json()["open"] is True
    round_id = opened.json()["id"]
    assert round_id in [item["id"] for item in api.call("GET", "/v1/survey/rounds", "party").json()]

    # The focal point sees the form in French and answers through the workbench.
    _as(api, "party", mm_lang="fr")
    page = api.client.get("/survey")
    assert page.status_code == 200 and "Enquête sur les besoins" in page.text
    assert "Que manque-t-il ?" in page.text and "compétences" in page.text
    assert "Extraction minière artisanale" in page.text  # a taxonomy label in French
    sent = api.client.post(
        f"/survey/{round_id}",
        data={
            "csrf": _csrf(page.text),
            "sectors": ["asgm"],
            "missing": ["equipment", "skills"],
            "assistance_types": ["technology"],
            "free_text": "Les orpailleurs de Kédougou n'ont pas de cornues ; les agents ne sont pas formés.",
            "as_need": "draft",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("notice=sent")
    responses = api.call("GET", f"/v1/survey/rounds/{round_id}/responses", "secretariat").json()
    assert [item["party"] for item in responses] == ["KEN"]
    need_id = responses[0]["need_id"]
    assert responses[0]["missing"] == ["equipment", "skills"] and need_id
    assert api.call("GET", f"/v1/survey/rounds/{round_id}/responses", "party").status_code == 403

    draft = api.call("GET", f"/v1/needs/{need_id}", "party").json()
    assert draft["status"] == "draft" and draft["language"] == "fr" and draft["sectors"] == ["asgm"]
    assert api.call("GET", f"/v1/needs/{need_id}/matches", "secretariat").status_code in (200, 409)
    answers = api.call("GET", "/v1/answers?source=survey", "secretariat").json()["items"]
    mine = [item for item in answers if item["need_id"] == need_id]
    assert mine and mine[0]["challenge_kind"] in ("technology-access", "capacity")
    assert api.call("GET", "/v1/answers?source=survey", "other_party").json()["total"] == 0

    # The draft waits on the survey page; the Party confirms it and it is matched.
    _as(api, "party")
    page = api.client.get("/survey")
    assert need_id in page.text and "Confirm" in page.text
    assert api.call("POST", f"/v1/needs/{need_id}/confirm", "other_party").status_code == 404
    confirmed = api.client.post(
        f"/drafts/{need_id}/confirm", data={"csrf": _csrf(page.text)}, follow_redirects=False
    )
    assert confirmed.status_code == 303
    need = api.call("GET", f"/v1/needs/{need_id}", "party").json()
    assert need["status"] in ("submitted", "in_review")
    assert api.call("POST", f"/v1/needs/{need_id}/confirm", "party").status_code == 409

    # Staff see the round and its responses; once closed, an answer is refused with 409.
    _as(api, "secretariat")
    staff_page = api.client.get(f"/assessment/survey?show={round_id}")
    assert (
        staff_page.status_code == 200
        and "Needs survey 2026" in staff_page.text
        and need_id in staff_page.text
    )
    assert api.call("POST", f"/v1/survey/rounds/{round_id}/close", "secretariat").json()["open"] is False
    late = api.call("POST", f"/v1/survey/rounds/{round_id}/responses", "party", {"missing": ["data"]})
    assert late.status_code == 409 and late.json()["error"]["code"] == "conflict"
    assert _get_status(api, "party", "/assessment/survey") == 303


def _get_status(api: Api, role: str, path: str) -> int:
    _as(api, role)
    return api.client.get(path, follow_redirects=False).status_code


def test_report_answers_become_drafts_the_party_can_discard(api: Api) -> None:
    with session_scope(api.client.app.state.store.sessions) as session:  # type: ignore[attr-defined]
        load_answer_files(session, [SAMPLE])
    staff = api.call("GET", "/v1/answers?limit=200", "secretariat").json()
    assert staff["total"] >= 72
    ghana = api.call("GET", "/v1/answers?party=GHA&source=report", "secretariat").json()["items"]
    assert ghana and all(item["party"] == "GHA" for item in ghana)
    assert api.call("GET", "/v1/answers", "provider").status_code == 403
    _as(api, "secretariat")
    page = api.client.get("/assessment/answers?party=GHA")
    assert page.status_code == 200 and "Make a draft need" in page.text
    made = api.client.post(
        f"/assessment/answers/{ghana[0]['id']}/draft", data={"csrf": _csrf(page.text)}, follow_redirects=False
    )
    assert made.status_code == 303
    again = api.call("POST", f"/v1/answers/{ghana[0]['id']}/draft", "secretariat")
    assert again.status_code == 201 and again.json()["status"] == "draft"
    need_id = again.json()["id"]
    kenya = api.call("GET", "/v1/answers?party=KEN", "secretariat").json()["items"]
    if kenya:
        assert api.call("POST", f"/v1/answers/{kenya[0]['id']}/draft", "other_party").status_code == 404
    discarded = api.call(
        "POST", f"/v1/needs/{need_id}/discard", "secretariat", {"reason": "covered elsewhere"}
    )
    assert discarded.status_code == 200
    assert (
        discarded.json()["status"] == "withdrawn"
        and discarded.json()["withdraw_reason"] == "covered elsewhere"
    )
    assert api.call("POST", f"/v1/needs/{need_id}/discard", "secretariat").status_code == 409


def test_the_assessment_downloads_for_staff_only(api: Api) -> None:
    _as(api, "secretariat", mm_lang="fr")
    report = api.client.get("/report")
    assert report.status_code == 200 and "Télécharger l'évaluation" in html_text(report.text)
    assert 'action="/report/assessment"' in report.text
    html = api.client.get("/report/assessment?file_format=html&lang=fr")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert 'attachment; filename="needs-assessment-' in html.headers["content-disposition"]
    assert "1. Sources et couverture" in html.text and "Annexe : méthode et requêtes" in html.text
    assert "Évaluation des besoins d'assistance" in html_text(html.text)
    docx = api.call("GET", "/v1/assessment?format=docx&lang=es&from=2020-01-01", "secretariat")
    assert docx.status_code == 200 and docx.headers["content-type"].startswith("application/vnd.openxml")
    from docx import Document

    headings = [
        p.text for p in Document(io.BytesIO(docx.content)).paragraphs if p.style.name.startswith("Heading")
    ]
    assert "2. Necesidades" in headings
    assert api.call("GET", "/v1/assessment?format=html", "party").status_code == 403
    assert (
        api.call("GET", "/v1/assessment?format=html&from=2026-02-01&to=2026-01-01", "secretariat").status_code
        == 422
    )
    assert _get_status(api, "party", "/report/assessment") == 403
