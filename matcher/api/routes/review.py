"""Matching runs, the review queue of proposals, and the audit trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Query, status

from matcher.api.deps import (
    DEFAULT_PAGE,
    Limit,
    NeedId,
    Offset,
    PartyFilter,
    PrincipalDep,
    ProposalId,
    ProviderFilter,
    ServiceDep,
    SessionDep,
    SettingsDep,
    errors,
    link,
    linked,
    text_filter,
)
from matcher.api.idempotency import IdempotencyKey, once
from matcher.api.schemas import (
    AuditPage,
    BulkRejectBody,
    BulkRejectOut,
    ClosedOut,
    LanguageCode,
    OutcomeBody,
    ProposalOut,
    ProposalPage,
    RegionCode,
    RejectBody,
    RunCreate,
    RunOut,
    SectorCode,
)
from matcher.services import review
from matcher.services.access import AuditFilters, audit_record, list_audit
from matcher.validation import MAX_AGE_DAYS, UtcDateTime

router = APIRouter(tags=["review"])
FIRST = "$response.body#/items/0/id"  # the first item of a page, for OpenAPI links


@router.post(
    "/v1/matching/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=RunOut,
    responses={
        **errors(400, 401, 403, 409, 413, 422),
        **linked(201, "What the run did.", ReviewQueue=link("GET", "/v1/proposals", state="proposed")),
    },
    summary="Run matching",
)
def run_matching(
    body: RunCreate,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Rank every open need (or those of a region, sector, language or Party) and store the
    top `k` as proposals. Decisions already taken are kept; a rejected pairing is never
    proposed again; undecided proposals that fall out of the top `k` are dropped. Send an
    `Idempotency-Key` to make a retry safe."""

    def run() -> Any:
        filters = review.RunFilters(body.region, body.sector, body.language, body.party, body.k)
        report = review.run_matching(session, matching, principal, filters)
        return {**report.as_dict(), "summary": report.summary()}

    return once(
        db=session,
        principal=principal,
        route="POST /v1/matching/runs",
        key=idempotency_key,
        body=body,
        response_model=RunOut,
        status=status.HTTP_201_CREATED,
        produce=run,
    )


@router.get(
    "/v1/proposals",
    response_model=ProposalPage,
    responses={
        **errors(401, 422),
        **linked(
            200,
            "A page of proposals.",
            ReadProposal=link("GET", "/v1/proposals/{proposal_id}", proposal_id=FIRST),
            AcceptProposal=link("POST", "/v1/proposals/{proposal_id}/accept", proposal_id=FIRST),
            RejectProposal=link("POST", "/v1/proposals/{proposal_id}/reject", proposal_id=FIRST),
            IntroduceProposal=link("POST", "/v1/proposals/{proposal_id}/introduce", proposal_id=FIRST),
        ),
    },
    summary="Review queue",
)
def list_proposals(
    session: SessionDep,
    principal: PrincipalDep,
    state: str | None = Query(None, description="proposed, accepted, rejected, introduced or closed."),
    region: RegionCode | None = None,
    sector: SectorCode | None = None,
    language: LanguageCode | None = None,
    provider_id: ProviderFilter = None,
    party: PartyFilter = None,
    min_age_days: int | None = Query(
        None, ge=0, le=MAX_AGE_DAYS, description="Proposed at least this many days ago."
    ),
    max_age_days: int | None = Query(
        None, ge=0, le=MAX_AGE_DAYS, description="Proposed at most this many days ago."
    ),
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    """Oldest first. The secretariat sees every state; a Party sees the accepted and
    introduced proposals for its needs; a provider those for its offerings."""
    if state is not None and state not in review.TRANSITIONS:
        from matcher.services.access import Invalid

        raise Invalid(
            f"unknown state {state!r}",
            [{"loc": "query.state", "message": f"allowed: {', '.join(review.TRANSITIONS)}"}],
        )
    filters = review.ProposalFilters(
        state, region, sector, language, provider_id, party, min_age_days, max_age_days
    )
    page = review.list_proposals(session, principal, filters, limit=limit, offset=offset)
    return page.as_dict([review.proposal_record(match, principal) for match in page.items])


@router.get(
    "/v1/proposals/{proposal_id}",
    response_model=ProposalOut,
    responses=errors(401, 404),
    summary="Read a proposal",
)
def get_proposal(proposal_id: ProposalId, session: SessionDep, principal: PrincipalDep) -> Any:
    return review.proposal_record(review.get_proposal(session, principal, proposal_id), principal)


@router.post(
    "/v1/proposals/{proposal_id}/accept",
    response_model=ProposalOut,
    responses=errors(401, 403, 404, 409, 422),
    summary="Accept a proposal",
)
def accept(
    proposal_id: ProposalId, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """`proposed` → `accepted`; the need becomes `matched`. The Party and the provider now see it."""
    match = review.accept(session, principal, proposal_id, matching=matching)
    return review.proposal_record(match, principal)


@router.post(
    "/v1/proposals/{proposal_id}/reject",
    response_model=ProposalOut,
    responses=errors(400, 401, 403, 404, 409, 413, 422),
    summary="Reject a proposal",
)
def reject(
    proposal_id: ProposalId,
    body: RejectBody,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
) -> Any:
    """`proposed` → `rejected`, with a reason. The pairing is never proposed again."""
    match = review.reject(session, principal, proposal_id, body.reason, matching=matching)
    return review.proposal_record(match, principal)


@router.post(
    "/v1/proposals/bulk-reject",
    response_model=BulkRejectOut,
    responses=errors(401, 403, 404, 409, 422),
    summary="Reject several proposals with one reason",
)
def bulk_reject(
    body: BulkRejectBody, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """Secretariat: `proposed` → `rejected` for every listed proposal, with one reason; all or
    nothing (409 names the proposals no longer proposed, 404 the unknown ones). One audit
    event per proposal."""
    rejected = review.bulk_reject(session, principal, body.proposals, body.reason, matching=matching)
    return {"rejected": [match.id for match in rejected], "count": len(rejected)}


@router.post(
    "/v1/proposals/{proposal_id}/undo",
    response_model=ProposalOut,
    responses=errors(401, 403, 404, 409),
    summary="Undo an accept or a reject",
)
def undo(
    proposal_id: ProposalId,
    session: SessionDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    matching: ServiceDep,
) -> Any:
    """Secretariat: an `accepted` or `rejected` proposal goes back to `proposed` within
    `MATCHER_UNDO_MINUTES` (default 10) of the decision, audited as `match.undo`; a need the
    acceptance had matched goes back to `in_review`. Later, or from another state: 409."""
    window = dt.timedelta(minutes=settings.undo_minutes)
    match = review.undo_decision(session, principal, proposal_id, window=window, matching=matching)
    return review.proposal_record(match, principal)


@router.post(
    "/v1/proposals/{proposal_id}/introduce",
    response_model=ProposalOut,
    responses=errors(401, 403, 404, 409),
    summary="Mark a proposal introduced",
)
def introduce(
    proposal_id: ProposalId, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """`accepted` → `introduced`: the secretariat has put the two sides in touch."""
    match = review.introduce(session, principal, proposal_id, matching=matching)
    return review.proposal_record(match, principal)


@router.post(
    "/v1/proposals/{proposal_id}/outcome",
    response_model=ProposalOut,
    responses=errors(400, 401, 403, 404, 409, 422),
    summary="Record the outcome of an introduction",
)
def outcome(proposal_id: ProposalId, body: OutcomeBody, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: what came of an introduced proposal: `agreed`, `funded` (with `amount` and
    `currency` when known), `declined` (with the reason in `note`) or `no-response`. A later
    record replaces the earlier one; both are audited. The reports count what was mobilised."""
    match = review.record_outcome(
        session,
        principal,
        proposal_id,
        outcome=body.outcome,
        amount=body.amount,
        currency=body.currency,
        note=body.note,
    )
    session.commit()
    return review.proposal_record(match, principal)


@router.post(
    "/v1/needs/{need_id}/close-remaining",
    response_model=ClosedOut,
    responses=errors(401, 403, 404, 409),
    summary="Close a matched need's remaining proposals",
)
def close_remaining(need_id: NeedId, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: once a need is matched, its undecided proposals move to `closed` in one action."""
    closed = review.close_remaining(session, principal, need_id)
    session.commit()
    return {"need_id": need_id, "closed": closed}


@router.get("/v1/audit", response_model=AuditPage, responses=errors(401, 403, 422), summary="Audit trail")
def audit_trail(
    session: SessionDep,
    principal: PrincipalDep,
    entity_type: str | None = text_filter("need, offering, match, matching_run, api_key, catalog…"),
    entity_id: str | None = text_filter(),
    action: str | None = text_filter("e.g. need.create, match.accept"),
    actor: str | None = text_filter("e.g. key:k1234abcd5678"),
    since: UtcDateTime | None = Query(None, description="From this time (UTC when no zone is given)."),
    until: UtcDateTime | None = Query(None, description="Up to this time (UTC when no zone is given)."),
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    """Every create, change, withdrawal, run, decision and key event, in the order they
    happened. Read only: no route changes or deletes an event."""
    filters = AuditFilters(entity_type, entity_id, action, actor, since, until)
    page = list_audit(session, principal, filters, limit=limit, offset=offset)
    return page.as_dict([audit_record(event) for event in page.items])
