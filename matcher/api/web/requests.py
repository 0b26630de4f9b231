"""The Party's pages: its requests, a request form with coaching before anything is saved
(for a new request and for changes), withdrawal with a reason, reconfirmation, and the page
of one need (shared with the secretariat, who also decides there)."""

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
from matcher.services import interests as interest_service
from matcher.services import needs as need_service
from matcher.services import review
from matcher.services.access import Conflict, Invalid, Principal
from matcher.services.lifecycle import reconfirm_need
from matcher.services.matching import need_profile
from matcher.taxonomy import FINAL_NEED_STATUSES, OUTCOMES, UN_LANGUAGES

router = APIRouter(include_in_schema=False)


@router.get("/needs/{need_id}", response_class=HTMLResponse)
def need_page(need_id: NeedId, request: Request, notice: str = "") -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        matches = review.proposals_by_need(session, principal, [need.id]).get(need.id, [])
        matching = request.app.state.matching
        query = matching.prepare(need_profile(need))
        if principal.is_staff:
            proposals = [card(match, principal, matching) for match in matches]
            interests = interest_service.interests_by_need(session, principal, [need.id]).get(need.id, [])
        else:
            proposals = [review.proposal_record(match, principal) for match in matches]
            interests = []
        history = (
            review.need_history(session, principal, need.id)
            if principal.is_staff or principal.role == "party"
            else []
        )
        return render(
            request,
            "need.html",
            principal,
            need=need,
            coaching=need_service.coaching_for(need, query=query),
            keywords=query.evidence.matched_keywords,
            proposals=proposals,
            interests=interests,
            history=history,
            may_change=principal.role == "party" and need.status not in FINAL_NEED_STATUSES,
            outcomes=OUTCOMES,
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
    context.setdefault("form_action", "/requests/new")
    return render(request, "request_form.html", principal, languages=UN_LANGUAGES, **context)


def _form_values(
    title: str,
    description: str,
    language: str,
    sectors: list[str],
    assistance_types: list[str],
    budget_usd: str,
    confidential: str,
) -> tuple[dict[str, Any], list[str]]:
    """The request form's fields as service input, and the names of fields that are wrong."""
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "language": language if language in UN_LANGUAGES else None,
        "sectors": [code for code in sectors if code in TAXONOMY.sectors],
        "assistance_types": [code for code in assistance_types if code in TAXONOMY.assistance_types],
        "confidential": confidential == "on",
    }
    errors = [name for name in ("title", "description") if not values[name]]
    try:
        values["budget_usd"] = parse_money(budget_usd)
    except ValueError:
        errors.append("budget_usd")
    values, problems = check_form(NeedCreate, values)  # the API's rules, to the letter
    errors = sorted({*errors, *problems})
    if "budget_usd" in errors:
        values["budget_usd"] = budget_usd  # shown back as typed
    return values, errors


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
    values, errors = _form_values(
        title, description, language, sectors, assistance_types, budget_usd, confidential
    )
    with open_session(request) as session:
        principal = signed_in(request, session)
        if errors:
            return _request_form(request, principal, values=values, coaching=None, errors=errors, status=422)
        reading, coaching = need_service.preview_need(principal, values)
        if action != "submit":
            return _request_form(request, principal, values=values, coaching=coaching, reading=reading)
        need = need_service.create_need(session, principal, values, matching=request.app.state.matching)
        return back(f"/needs/{need.id}")


@router.get("/needs/{need_id}/edit", response_class=HTMLResponse)
def edit_request(need_id: str, request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        values = {
            name: getattr(need, name)
            for name in (
                "title",
                "description",
                "language",
                "sectors",
                "assistance_types",
                "budget_usd",
                "confidential",
            )
        }
        return _request_form(
            request,
            principal,
            values=values,
            coaching=need_service.coaching_for(need),
            form_action=f"/needs/{need.id}/edit",
            editing=need,
        )


@router.post("/needs/{need_id}/edit", response_class=HTMLResponse)
def save_request(
    need_id: str,
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
    """Check (coaching, nothing saved) or save the changes of a request."""
    check_csrf(request, csrf)
    values, errors = _form_values(
        title, description, language, sectors, assistance_types, budget_usd, confidential
    )
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        context = {"form_action": f"/needs/{need.id}/edit", "editing": need}
        if errors:
            return _request_form(
                request, principal, values=values, coaching=None, errors=errors, status=422, **context
            )
        reading, coaching = need_service.preview_need(principal, values)
        if action != "submit":
            return _request_form(
                request, principal, values=values, coaching=coaching, reading=reading, **context
            )
        need_service.update_need(session, principal, need.id, values, matching=request.app.state.matching)
        return back(f"/needs/{need.id}", notice="saved")


@router.post("/needs/{need_id}/withdraw")
def withdraw_request(
    need_id: str, request: Request, csrf: str = Form(""), reason: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            need_service.withdraw_need(
                session, principal, need_id, matching=request.app.state.matching, reason=reason
            )
        except Conflict:
            session.rollback()
            return back(f"/needs/{need_id}", notice="error:state")
    return back(f"/needs/{need_id}", notice="withdrawn")


@router.post("/needs/{need_id}/reconfirm")
def reconfirm_request(need_id: str, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            reconfirm_need(session, principal, need_id)
        except (Conflict, Invalid):
            session.rollback()
            return back(f"/needs/{need_id}", notice="error:state")
        session.commit()
    return back(f"/needs/{need_id}", notice="reconfirmed")
