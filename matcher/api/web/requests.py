"""The Party's pages: its requests, a request form with coaching before anything is saved
(for a new request and for changes), withdrawal with a reason, reconfirmation, and the page
of one need (shared with the secretariat, who also decides there)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from matcher.api.deps import NeedId
from matcher.api.schemas import NeedCreate
from matcher.api.web.amounts import AmountField, check_amount, known_amount
from matcher.api.web.i18n import translator
from matcher.api.web.labels import history_rows, party_name
from matcher.api.web.review import row, undo_window
from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    check_form,
    code_label,
    here_url,
    home_for,
    interface_language,
    notice_text,
    open_session,
    render,
    signed_in,
)
from matcher.services import cases, review
from matcher.services import interests as interest_service
from matcher.services import needs as need_service
from matcher.services.access import Conflict, Invalid, Principal
from matcher.services.lifecycle import reconfirm_need
from matcher.services.matching import need_profile
from matcher.taxonomy import FINAL_NEED_STATUSES, OUTCOMES, UN_LANGUAGES

router = APIRouter(include_in_schema=False)


@router.get("/needs/{need_id}", response_class=HTMLResponse)
def need_page(need_id: NeedId, request: Request, notice: str = "") -> Response:
    """A need's page: the need (its title as the heading), its proposals, and its history
    in the reader's language; for the secretariat also the case: the officer it is assigned
    to and the internal notes."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        matches = review.proposals_by_need(session, principal, [need.id]).get(need.id, [])
        window = undo_window(request)
        case: dict[str, Any] = {}
        if principal.is_staff:
            interests = interest_service.interests_by_need(session, principal, [need.id]).get(need.id, [])
            proposals = [row(match, principal, interests, window) for match in matches]
            notes = cases.list_notes(session, principal, need.id)
            assigned = cases.assignment_of(session, principal, need.id)
            case = {
                "officer": assigned[0] if assigned else None,
                "assigned_at": assigned[1] if assigned else None,
                "officers": cases.list_officers(session, principal),
                "notes": notes,
            }
        else:
            proposals = [review.proposal_record(match, principal) for match in matches]
            interests = []
        events = (
            review.need_history(session, principal, need.id)
            if principal.is_staff or principal.role == "party"
            else []
        )
        actors = cases.describe_actors(
            session,
            principal,
            [event.actor for event in events] + [note.author for note in case.get("notes", [])],
        )
        language = interface_language(request)
        history = history_rows(
            events,
            language=language,
            actors=actors,
            programmes={str(match.id): match.offering.title for match in matches},
            officers={
                officer.key_id or "": officer.label or officer.key_id or ""
                for officer in case.get("officers", [])
            },
            label=lambda family, code: code_label(family, code, language),
            words=translator(language),
            show_changes=principal.is_staff,
        )
        query = request.app.state.matching.prepare(need_profile(need))
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
            case=case,
            authors=actors,
            undo_minutes=round(window.total_seconds() / 60),
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


def _may_file(principal: Principal) -> bool:
    """A Party files its own requests; the secretariat files on a Party's behalf."""
    return principal.role == "party" or principal.is_staff


def _request_form(request: Request, principal: Principal, **context: Any) -> HTMLResponse:
    context.setdefault("form_action", "/requests/new")
    context.setdefault("budget", known_amount("budget_usd", None, interface_language(request)))
    parties: list[tuple[str, str]] = []
    if principal.is_staff and not context.get("editing"):
        names = getattr(request.app.state, "party_names", {})
        language = interface_language(request)
        parties = sorted(
            ((iso3, party_name(names, iso3, language)) for iso3 in names), key=lambda item: item[1]
        )
    return render(request, "request_form.html", principal, languages=UN_LANGUAGES, parties=parties, **context)


def _form_values(
    request: Request,
    title: str,
    description: str,
    language: str,
    sectors: list[str],
    assistance_types: list[str],
    budget_usd: str,
    budget_shown: str,
    budget_confirmed: str,
    confidential: str,
) -> tuple[dict[str, Any], list[str], AmountField]:
    """The request form's fields as service input, the names of fields that are wrong, and
    the budget as read in the interface language (saved only once it was shown back)."""
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description.strip(),
        "language": language if language in UN_LANGUAGES else None,
        "sectors": [code for code in sectors if code in TAXONOMY.sectors],
        "assistance_types": [code for code in assistance_types if code in TAXONOMY.assistance_types],
        "confidential": confidential == "on",
    }
    errors = [name for name in ("title", "description") if not values[name]]
    budget = check_amount(
        "budget_usd", budget_usd, interface_language(request), shown=budget_shown, confirmed=budget_confirmed
    )
    values["budget_usd"] = budget.value
    if budget.is_error:
        errors.append("budget_usd")
    if not errors:
        values, problems = check_form(NeedCreate, values)  # the API's rules, to the letter
        errors += problems
    return values, errors, budget


@router.get("/requests/new", response_class=HTMLResponse)
def new_request(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not _may_file(principal):
            return RedirectResponse(home_for(principal), status_code=303)
        return _request_form(request, principal, values={}, coaching=None)


@router.post("/requests/new", response_class=HTMLResponse)
def submit_request(
    request: Request,
    csrf: str = Form(""),
    action: str = Form("check"),
    party: str = Form(""),
    title: str = Form(""),
    description: str = Form(""),
    language: str = Form(""),
    sectors: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    budget_usd: str = Form(""),
    budget_usd_shown: str = Form(""),
    budget_usd_confirmed: str = Form(""),
    confidential: str = Form(""),
) -> Response:
    """Check (coaching, nothing saved) or file a request: a Party's own, or the secretariat's
    on a Party's behalf (``party``)."""
    check_csrf(request, csrf)
    values, errors, budget = _form_values(
        request,
        title,
        description,
        language,
        sectors,
        assistance_types,
        budget_usd,
        budget_usd_shown,
        budget_usd_confirmed,
        confidential,
    )
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not _may_file(principal):
            return RedirectResponse(home_for(principal), status_code=303)
        if principal.is_staff:
            values["party"] = party.strip().upper()
            if values["party"] not in getattr(request.app.state, "party_names", {}):
                errors.append("party")
        if errors:
            return _request_form(
                request, principal, values=values, coaching=None, errors=errors, budget=budget, status=422
            )
        reading, coaching = need_service.preview_need(principal, values)
        if action != "submit" or budget.blocks_saving:
            return _request_form(
                request, principal, values=values, coaching=coaching, reading=reading, budget=budget
            )
        need = need_service.create_need(session, principal, values, matching=request.app.state.matching)
        return back(f"/needs/{need.id}")


@router.get("/needs/{need_id}/edit", response_class=HTMLResponse)
def edit_request(need_id: NeedId, request: Request) -> Response:
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
            budget=known_amount("budget_usd", need.budget_usd, interface_language(request)),
        )


@router.post("/needs/{need_id}/edit", response_class=HTMLResponse)
def save_request(
    need_id: NeedId,
    request: Request,
    csrf: str = Form(""),
    action: str = Form("check"),
    title: str = Form(""),
    description: str = Form(""),
    language: str = Form(""),
    sectors: list[str] = Form([]),
    assistance_types: list[str] = Form([]),
    budget_usd: str = Form(""),
    budget_usd_shown: str = Form(""),
    budget_usd_confirmed: str = Form(""),
    confidential: str = Form(""),
) -> Response:
    """Check (coaching, nothing saved) or save the changes of a request."""
    check_csrf(request, csrf)
    values, errors, budget = _form_values(
        request,
        title,
        description,
        language,
        sectors,
        assistance_types,
        budget_usd,
        budget_usd_shown,
        budget_usd_confirmed,
        confidential,
    )
    with open_session(request) as session:
        principal = signed_in(request, session)
        need = need_service.get_need(session, principal, need_id)
        context = {"form_action": f"/needs/{need.id}/edit", "editing": need, "budget": budget}
        if errors:
            return _request_form(
                request, principal, values=values, coaching=None, errors=errors, status=422, **context
            )
        reading, coaching = need_service.preview_need(principal, values)
        if action != "submit" or budget.blocks_saving:
            return _request_form(
                request, principal, values=values, coaching=coaching, reading=reading, **context
            )
        need_service.update_need(session, principal, need.id, values, matching=request.app.state.matching)
        return back(f"/needs/{need.id}", notice="saved")


@router.post("/needs/{need_id}/withdraw")
def withdraw_request(
    need_id: NeedId, request: Request, csrf: str = Form(""), reason: str = Form("")
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
def reconfirm_request(need_id: NeedId, request: Request, csrf: str = Form("")) -> Response:
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
