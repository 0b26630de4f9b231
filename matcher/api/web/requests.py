"""The Party's pages: its requests, a new request with coaching before it is filed, and
the page of one need (shared with the secretariat, who also sees its history)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.api.deps import NeedId
from matcher.api.schemas import NeedCreate
from matcher.api.web.review import card
from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    check_form,
    here_url,
    home_for,
    notice_text,
    open_session,
    parse_money,
    render,
    signed_in,
)
from matcher.engine.understanding import default_reader
from matcher.services import needs as need_service
from matcher.services import review
from matcher.services.access import Principal
from matcher.services.matching import need_profile
from matcher.taxonomy import UN_LANGUAGES

router = APIRouter(include_in_schema=False)


@router.get("/needs/{need_id}", response_class=HTMLResponse)
def need_page(need_id: NeedId, request: Request, notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        proposals = [
            card(match, principal)
            for match in review.proposals_by_need(session, principal, [need.id]).get(need.id, [])
        ]
        history = review.need_history(session, principal, need.id) if principal.is_staff else []
        evidence = default_reader().tagger.tag(need_profile(need).text, need.language)
        return render(
            request,
            "need.html",
            principal,
            need=need,
            coaching=need_service.coaching_for(need),
            keywords=evidence.matched_keywords,
            proposals=proposals,
            history=history,
            here=here_url(request),
            message=notice_text(request, notice),
        )


@router.get("/requests", response_class=HTMLResponse)
def my_requests(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(home_for(principal), status_code=303)
        page = need_service.list_needs(session, principal, need_service.NeedFilters(), limit=200, offset=0)
        visible = review.proposals_by_need(session, principal, [need.id for need in page.items])
        accepted = {
            need_id: [review.proposal_record(match, principal) for match in matches]
            for need_id, matches in visible.items()
        }
        return render(request, "requests.html", principal, needs=page.items, accepted=accepted)


def _request_form(request: Request, principal: Principal, **context: Any) -> HTMLResponse:
    return render(request, "request_form.html", principal, languages=UN_LANGUAGES, **context)


@router.get("/requests/new", response_class=HTMLResponse)
def new_request(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if principal.role != "party":
            return RedirectResponse(home_for(principal), status_code=303)
        return _request_form(request, principal, values={}, coaching=None)


@router.post("/requests/new", response_class=HTMLResponse)
def submit_request(
    request: Request,
    csrf: str = Form(""),
    action: str = Form("check"),
    title: str = Form(""),
    description: str = Form(""),
    language: str = Form(""),
    sectors: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    budget_usd: str = Form(""),
    confidential: str = Form(""),
) -> Response:
    check_csrf(request, csrf)
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "language": language if language in UN_LANGUAGES else None,
        "sectors": [code for code in sectors if code in TAXONOMY.sectors],
        "assistance_types": [code for code in assistance_types if code in TAXONOMY.assistance_types],
        "confidential": confidential == "on",
    }
    errors = []
    try:
        values["budget_usd"] = parse_money(budget_usd)
    except ValueError:
        errors.append("budget_usd")
    values, problems = check_form(NeedCreate, values)  # the API's rules, to the letter
    errors = sorted({*errors, *problems})
    if "budget_usd" in errors:
        values["budget_usd"] = budget_usd  # shown back as typed
    with open_session(request) as session:
        principal = signed_in(request, session)
        if errors:
            return _request_form(request, principal, values=values, coaching=None, errors=errors, status=422)
        reading, coaching = need_service.preview_need(principal, values)
        if action != "submit":
            return _request_form(request, principal, values=values, coaching=coaching, reading=reading)
        need = need_service.create_need(session, principal, values, matching=request.app.state.matching)
        return back(f"/needs/{need.id}")
