"""The secretariat's pages: the review queue, decisions, matching runs and the unmet-needs report."""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from matcher.api.web.session import (
    TAXONOMY,
    back,
    check_csrf,
    here_url,
    home_for,
    notice_text,
    open_session,
    parse_money,
    query_string,
    render,
    safe_next,
    signed_in,
)
from matcher.services import interests as interest_service
from matcher.services import offerings as offering_service
from matcher.services import review
from matcher.services.access import Conflict, Invalid, Principal
from matcher.services.matching import MatchingService, need_profile
from matcher.services.reports import as_csv, unmet_needs

if TYPE_CHECKING:
    from matcher.store.models import Interest, Match

router = APIRouter(include_in_schema=False)
QUEUE_PAGE = 20


@router.get("/queue", response_class=HTMLResponse)
def queue(
    request: Request,
    state: str = "proposed",
    region: str = "",
    sector: str = "",
    language: str = "",
    provider_id: str = "",
    party: str = "",
    min_age_days: str = "",
    offset: int = 0,
    notice: str = "",
) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = review.ProposalFilters(
            state=state if state in review.TRANSITIONS else None,
            region=region or None,
            sector=sector or None,
            language=language or None,
            provider_id=provider_id.strip().lower() or None,
            party=party.strip().upper() or None,
            min_age_days=int(min_age_days) if min_age_days.isdigit() else None,
        )
        offset = max(0, offset)
        page = review.list_proposals(session, principal, filters, limit=QUEUE_PAGE, offset=offset)
        interested = interest_service.interests_by_need(
            session, principal, list({match.need_id for match in page.items})
        )
        cards = [
            card(match, principal, request.app.state.matching, interested.get(match.need_id, []))
            for match in page.items
        ]
        return render(
            request,
            "queue.html",
            principal,
            cards=cards,
            total=page.total,
            filters={
                "state": state,
                "region": region,
                "sector": sector,
                "language": language,
                "provider_id": provider_id,
                "party": party,
                "min_age_days": min_age_days,
            },
            states=tuple(review.TRANSITIONS),
            message=notice_text(request, notice),
            here=here_url(request),
            offset=offset,
            page_size=QUEUE_PAGE,
            next_offset=page.next_offset,
            query_without_offset=query_string(request, drop=("offset", "notice")),
        )


def card(
    match: Match, principal: Principal, matching: MatchingService, interests: Sequence[Interest] = ()
) -> dict[str, Any]:
    """A proposal as the secretariat reviews it: the need's text and tags, the score by part,
    and whether the programme's provider has expressed interest in this need."""
    record = review.proposal_record(match, principal)
    need = match.need
    evidence = matching.prepare(need_profile(need)).evidence
    components = record["explanation"].get("components", {})
    top = max((abs(value) for value in components.values()), default=1.0) or 1.0
    shown = SimpleNamespace(
        title=need.title,
        description=record["need"]["description"],  # None for a provider when confidential
        language=need.language,
        sectors=need.sectors,
        assistance_types=need.assistance_types,
        inferred_sectors=need.inferred_sectors,
        inferred_assistance_types=need.inferred_assistance_types,
    )
    return {
        **record,
        "interest": next((item for item in interests if item.offering_id == match.offering_id), None),
        "need_full": shown,
        "keywords": evidence.matched_keywords,
        "bars": [
            (name, value, abs(value) / top * 100) for name, value in components.items() if abs(value) > 1e-6
        ],
    }


@router.post("/queue/run")
def run_from_queue(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        report = review.run_matching(session, request.app.state.matching, principal, review.RunFilters())
        session.commit()
    return back("/queue", notice=f"run:{report.added}:{report.kept}:{report.dropped}")


@router.post("/proposals/{proposal_id}/outcome")
def record_outcome(
    proposal_id: int,
    request: Request,
    csrf: str = Form(""),
    outcome: str = Form(""),
    amount: str = Form(""),
    currency: str = Form(""),
    note: str = Form(""),
    next: str = Form("/queue"),
) -> Response:
    check_csrf(request, csrf)
    target = safe_next(next, "/queue")
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            review.record_outcome(
                session,
                principal,
                proposal_id,
                outcome=outcome,
                amount=parse_money(amount),
                currency=currency.strip() or None,
                note=note,
            )
        except (Invalid, Conflict, ValueError):
            session.rollback()
            return back(target, notice="error:outcome")
        session.commit()
    return back(target, notice=f"outcome:{proposal_id}")


@router.post("/needs/{need_id}/close-remaining")
def close_remaining(need_id: str, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            closed = review.close_remaining(session, principal, need_id)
        except Conflict:
            session.rollback()
            return back(f"/needs/{need_id}", notice="error:state")
        session.commit()
    return back(f"/needs/{need_id}", notice=f"closed:{closed}")


@router.get("/verification", response_class=HTMLResponse)
def verification(request: Request, notice: str = "") -> Response:
    """The secretariat's queue of programmes nobody has vouched for yet."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = offering_service.OfferingFilters(verified=False)
        page = offering_service.list_offerings(session, principal, filters, limit=200, offset=0)
        return render(
            request,
            "verification.html",
            principal,
            offerings=page.items,
            message=notice_text(request, notice),
        )


@router.post("/programmes/{offering_id}/verify")
def verify_programme(offering_id: str, request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        offering_service.verify_offering(session, principal, offering_id, matching=request.app.state.matching)
    return back("/verification", notice="verified")


@router.post("/programmes/{offering_id}/reject")
def reject_programme(
    offering_id: str, request: Request, csrf: str = Form(""), reason: str = Form("")
) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            offering_service.reject_offering(
                session, principal, offering_id, reason, matching=request.app.state.matching
            )
        except (Invalid, Conflict):
            session.rollback()
            return back("/verification", notice="error:reason")
    return back("/verification", notice="rejected_programme")


@router.post("/proposals/{proposal_id}/{action}")
def decide(
    proposal_id: int,
    action: str,
    request: Request,
    csrf: str = Form(""),
    reason: str = Form(""),
    next: str = Form("/queue"),
) -> Response:
    check_csrf(request, csrf)
    target = safe_next(next, "/queue")
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            matching = request.app.state.matching
            if action == "accept":
                review.accept(session, principal, proposal_id, matching=matching)
            elif action == "reject":
                review.reject(session, principal, proposal_id, reason, matching=matching)
            elif action == "introduce":
                review.introduce(session, principal, proposal_id, matching=matching)
            else:
                return PlainTextResponse("unknown action", status_code=404)
        except (Invalid, Conflict) as problem:
            session.rollback()
            return back(target, notice="error:reason" if isinstance(problem, Invalid) else "error:state")
        session.commit()
    return back(target, notice=f"{action}:{proposal_id}")


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        settings = request.app.state.store.settings
        report = unmet_needs(
            session, principal, threshold=settings.unmet_score_threshold, after_days=settings.unmet_after_days
        )
        heat = report.by_sector_and_region()
        regions = list(TAXONOMY.regions)
        sectors = [code for code in TAXONOMY.sectors if any(heat[(code, region)] for region in regions)]
        peak = max(heat.values(), default=0) or 1
        return render(
            request,
            "report.html",
            principal,
            report=report,
            heat=heat,
            regions=regions,
            sectors=sectors,
            peak=peak,
            by_type=report.by_assistance_type().most_common(),
            by_language=report.by_language().most_common(),
        )


@router.get("/report.csv")
def report_csv(request: Request) -> Response:
    with open_session(request) as session:
        principal = signed_in(request, session)
        settings = request.app.state.store.settings
        report = unmet_needs(
            session, principal, threshold=settings.unmet_score_threshold, after_days=settings.unmet_after_days
        )
    return Response(
        as_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="unmet-needs.csv"'},
    )
