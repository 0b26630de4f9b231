"""The secretariat's pages: the review queue, decisions, matching runs and the unmet-needs report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from matcher.api.deps import NeedId, OfferingId, ProposalId
from matcher.api.schemas import ISO3_PATTERN, PROVIDER_ID_PATTERN, RejectBody
from matcher.api.web.amounts import read_amount
from matcher.api.web.session import (
    NATIVE_NAMES,
    TAXONOMY,
    back,
    check_csrf,
    check_form,
    here_url,
    home_for,
    interface_language,
    notice_text,
    open_session,
    query_choice,
    query_matching,
    query_string,
    render,
    safe_next,
    signed_in,
)
from matcher.documents.text import DOCUMENT_LANGUAGES
from matcher.services import cases, review
from matcher.services import interests as interest_service
from matcher.services import offerings as offering_service
from matcher.services.access import Conflict, Invalid, NotFound, Principal
from matcher.services.matches import score_reason
from matcher.services.matching import MatchingService, need_profile
from matcher.services.reports import as_csv, unmet_needs
from matcher.taxonomy import UN_LANGUAGES
from matcher.validation import MAX_AGE_DAYS, MAX_INT32

if TYPE_CHECKING:
    from matcher.store.models import Interest, Match

router = APIRouter(include_in_schema=False)
QUEUE_PAGE = 10  # cases (needs) per page


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
    officer: str = "",
    offset: int = Query(0, ge=0, le=MAX_INT32),
    notice: str = "",
) -> Response:
    """The review queue as cases: one need per case, its proposals as rows, in priority
    order (LDC and SIDS Parties, nearest deadline, oldest), with the filters kept."""
    with open_session(request) as session:
        principal = signed_in(request, session)
        if not principal.is_staff:
            return RedirectResponse(home_for(principal), status_code=303)
        filters = cases.CaseFilters(
            proposals=review.ProposalFilters(
                state=state if state in review.TRANSITIONS else None,
                region=query_choice("region", region, TAXONOMY.regions),
                sector=query_choice("sector", sector, TAXONOMY.sectors),
                language=query_choice("language", language, UN_LANGUAGES),
                provider_id=query_matching("provider_id", provider_id.strip().lower(), PROVIDER_ID_PATTERN),
                party=query_matching("party", party.strip().upper(), ISO3_PATTERN),
                min_age_days=_age_days(min_age_days),
            ),
            officer=officer.strip() or None,
        )
        page = cases.list_cases(session, principal, filters, limit=QUEUE_PAGE, offset=offset)
        interested = interest_service.interests_by_need(
            session, principal, [case.need.id for case in page.items]
        )
        window = undo_window(request)
        matching = request.app.state.matching
        views = [
            case_view(case, principal, matching, interested.get(case.need.id, []), window)
            for case in page.items
        ]
        return render(
            request,
            "queue.html",
            principal,
            cases=views,
            total=page.total,
            filters={
                "state": state,
                "region": region,
                "sector": sector,
                "language": language,
                "provider_id": provider_id,
                "party": party,
                "min_age_days": min_age_days,
                "officer": officer,
            },
            officers=cases.list_officers(session, principal),
            states=tuple(review.TRANSITIONS),
            message=notice_text(request, notice),
            undo_offer=_undo_offer(session, principal, notice, window),
            undo_minutes=round(window.total_seconds() / 60),
            here=here_url(request),
            offset=offset,
            page_size=QUEUE_PAGE,
            next_offset=page.next_offset,
            query_without_offset=query_string(request, drop=("offset", "notice")),
        )


def undo_window(request: Request) -> dt.timedelta:
    return dt.timedelta(minutes=request.app.state.store.settings.undo_minutes)


def _undo_offer(session: Session, principal: Principal, notice: str, window: dt.timedelta) -> int | None:
    """After "Proposal 12 accepted." (or rejected), the proposal to offer Undo for, while it may."""
    action, _, number = notice.partition(":")
    if action not in ("accept", "reject") or not number.isdigit():
        return None
    try:
        match = review.get_proposal(session, principal, int(number))
    except NotFound:
        return None
    return match.id if review.can_undo(match, window=window) else None


def _age_days(text: str) -> int | None:
    """The queue's age filter as typed: empty, or a whole number of days up to a century
    (``"²".isdigit()`` is true, so digits are checked as ASCII)."""
    days = query_matching("min_age_days", text.strip(), r"[0-9]{1,6}")
    if days is not None and int(days) > MAX_AGE_DAYS:
        raise Invalid(
            f"query.min_age_days: at most {MAX_AGE_DAYS} days",
            [{"loc": "query.min_age_days", "message": f"at most {MAX_AGE_DAYS}"}],
        )
    return None if days is None else int(days)


def case_view(
    case: cases.Case,
    principal: Principal,
    matching: MatchingService,
    interests: Sequence[Interest],
    window: dt.timedelta,
) -> dict[str, Any]:
    """A case as the queue shows it: the need once (text, tags and matched keywords), then
    each proposal as a row with the reason for its score."""
    need = case.need
    evidence = matching.prepare(need_profile(need)).evidence
    return {
        "need": need,
        "priority": case.priority,
        "officer": case.officer,
        "notes": case.notes,
        "keywords": evidence.matched_keywords,
        "rows": [row(match, principal, interests, window) for match in case.proposals],
    }


def row(
    match: Match, principal: Principal, interests: Sequence[Interest], window: dt.timedelta
) -> dict[str, Any]:
    """A proposal as the secretariat reviews it: the programme, why it scores (shared codes
    and the strongest parts), the score by part for whoever opens the details, whether the
    programme's provider has expressed interest, and whether the decision can be undone."""
    record = review.proposal_record(match, principal)
    components = record["explanation"].get("components", {})
    top = max((abs(value) for value in components.values()), default=1.0) or 1.0
    return {
        **record,
        "interest": next((item for item in interests if item.offering_id == match.offering_id), None),
        "reason": score_reason(record["explanation"]),
        "undoable": review.can_undo(match, window=window),
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
    return back("/queue", notice=f"run:{report.added}:{report.kept}:{report.dropped}")


@router.post("/proposals/{proposal_id}/outcome")
def record_outcome(
    proposal_id: ProposalId,
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
    # An outcome is recorded at once: an amount that is not clear in the reader's own way of
    # writing numbers (ambiguous, unusual, another convention) is refused, never guessed.
    reading = read_amount(amount, interface_language(request))
    if reading.problem is not None:
        return back(target, notice="error:amount")
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            review.record_outcome(
                session,
                principal,
                proposal_id,
                outcome=outcome,
                amount=float(reading.value) if reading.value is not None else None,
                currency=currency.strip() or None,
                note=note,
            )
        except (Invalid, Conflict):
            session.rollback()
            return back(target, notice="error:outcome")
        session.commit()
    return back(target, notice=f"outcome:{proposal_id}")


@router.post("/needs/{need_id}/close-remaining")
def close_remaining(need_id: NeedId, request: Request, csrf: str = Form("")) -> Response:
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


@router.post("/proposals/bulk-reject")
def bulk_reject(
    request: Request,
    csrf: str = Form(""),
    proposal: list[int] = Form([]),  # each checked against a database integer's bounds below
    reason: str = Form(""),
    next: str = Form("/queue"),
) -> Response:
    """Reject the ticked proposals (of any case on the page) with one reason."""
    check_csrf(request, csrf)
    target = safe_next(next, "/queue")
    if not proposal or not all(1 <= number <= MAX_INT32 for number in proposal):
        return back(target, notice="error:pick")
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            rejected = review.bulk_reject(
                session, principal, proposal, reason, matching=request.app.state.matching
            )
        except (Invalid, Conflict, NotFound) as problem:
            session.rollback()
            return back(target, notice="error:reason" if isinstance(problem, Invalid) else "error:state")
    return back(target, notice=f"bulk:{len(rejected)}")


@router.post("/needs/{need_id}/assign")
def assign_case(need_id: NeedId, request: Request, csrf: str = Form(""), officer: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        cases.assign_case(session, principal, need_id, officer.strip() or None)
        session.commit()
    return back(f"/needs/{need_id}", notice="assigned")


@router.post("/needs/{need_id}/notes")
def add_note(need_id: NeedId, request: Request, csrf: str = Form(""), text: str = Form("")) -> Response:
    check_csrf(request, csrf)
    with open_session(request) as session:
        principal = signed_in(request, session)
        try:
            cases.add_note(session, principal, need_id, text)
        except Invalid:
            session.rollback()
            return back(f"/needs/{need_id}", notice="error:note")
        session.commit()
    return back(f"/needs/{need_id}", notice="note")


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
def verify_programme(offering_id: OfferingId, request: Request, csrf: str = Form("")) -> Response:
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
    proposal_id: ProposalId,
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
                checked, problems = check_form(RejectBody, {"reason": reason})
                if problems:
                    raise Invalid("the reason is not valid")
                review.reject(session, principal, proposal_id, checked["reason"], matching=matching)
            elif action == "introduce":
                review.introduce(session, principal, proposal_id, matching=matching)
            elif action == "undo":
                review.undo_decision(
                    session,
                    principal,
                    proposal_id,
                    window=undo_window(request),
                    matching=matching,
                )
            else:
                return PlainTextResponse("unknown action", status_code=404)
        except (Invalid, Conflict) as problem:
            session.rollback()
            if action == "undo":
                return back(target, notice="error:undo")
            return back(target, notice="error:reason" if isinstance(problem, Invalid) else "error:state")
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
            assessment_languages=[(code, NATIVE_NAMES[code]) for code in DOCUMENT_LANGUAGES],
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
