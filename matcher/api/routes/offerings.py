"""/v1/offerings: the catalog; providers manage their own programmes; the donor view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status

from matcher.api.deps import (
    DEFAULT_PAGE,
    Limit,
    OfferingId,
    Offset,
    PrincipalDep,
    ProviderFilter,
    ServiceDep,
    SessionDep,
    errors,
    link,
    linked,
)
from matcher.api.idempotency import IdempotencyKey, once
from matcher.api.schemas import (
    AssistanceType,
    InterestBody,
    InterestOut,
    MatchesOut,
    OfferingCreate,
    OfferingOut,
    OfferingPage,
    OfferingPatch,
    RegionCode,
    SectorCode,
    TrackRecordOut,
    VerificationRejectBody,
)
from matcher.services import history, interests
from matcher.services import offerings as service
from matcher.services.matches import offering_matches

router = APIRouter(prefix="/v1/offerings", tags=["offerings"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OfferingOut,
    responses={
        **errors(400, 401, 403, 409, 413, 422),
        **linked(
            201,
            "The offering as created.",
            ReadOffering=link("GET", "/v1/offerings/{offering_id}", offering_id="$response.body#/id"),
            ChangeOffering=link("PATCH", "/v1/offerings/{offering_id}", offering_id="$response.body#/id"),
            OfferingMatches=link(
                "GET", "/v1/offerings/{offering_id}/matches", offering_id="$response.body#/id"
            ),
        ),
    },
    summary="Create an offering",
)
def create_offering(
    body: OfferingCreate,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A provider key creates offerings of its own `provider_id`; the secretariat names it.
    Send an `Idempotency-Key` to make a retry safe."""

    def create() -> Any:
        data = body.model_dump(exclude_unset=True)
        return service.offering_record(service.create_offering(session, principal, data, matching=matching))

    return once(
        db=session,
        principal=principal,
        route="POST /v1/offerings",
        key=idempotency_key,
        body=body,
        response_model=OfferingOut,
        status=status.HTTP_201_CREATED,
        produce=create,
    )


@router.get("", response_model=OfferingPage, responses=errors(401, 422), summary="List offerings")
def list_offerings(
    session: SessionDep,
    principal: PrincipalDep,
    provider_id: ProviderFilter = None,
    sector: SectorCode | None = None,
    assistance_type: AssistanceType | None = None,
    region: RegionCode | None = None,
    include_inactive: bool = Query(False, description="Also list deactivated offerings."),
    verified: bool | None = Query(None, description="Only verified (true) or unverified (false) offerings."),
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    filters = service.OfferingFilters(
        provider_id, sector, assistance_type, region, include_inactive, verified
    )
    page = service.list_offerings(session, principal, filters, limit=limit, offset=offset)
    return page.as_dict([service.offering_record(offering) for offering in page.items])


@router.get(
    "/{offering_id}", response_model=OfferingOut, responses=errors(401, 404), summary="Read an offering"
)
def get_offering(offering_id: OfferingId, session: SessionDep, principal: PrincipalDep) -> Any:
    return service.offering_record(service.get_offering(session, principal, offering_id))


@router.patch(
    "/{offering_id}",
    response_model=OfferingOut,
    responses=errors(400, 401, 403, 404, 413, 422),
    summary="Change or deactivate an offering",
)
def update_offering(
    offering_id: OfferingId,
    body: OfferingPatch,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
) -> Any:
    """Only the fields sent change; `{"active": false}` deactivates (nothing is deleted)."""
    offering = service.update_offering(
        session, principal, offering_id, body.model_dump(exclude_unset=True), matching=matching
    )
    return service.offering_record(offering)


@router.get(
    "/{offering_id}/matches",
    response_model=MatchesOut,
    response_model_exclude_none=True,
    responses=errors(401, 403, 404, 409, 422),
    summary="Open needs for an offering (donor view)",
)
def matches(
    offering_id: OfferingId,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    request: Request,
    k: int = Query(10, ge=1, le=100, description="Number of results."),
    min_score: float | None = Query(
        None,
        ge=-10,
        le=10,
        description="Leave out needs scoring below this (the engine's scale). "
        "Default: MATCHER_DONOR_MIN_SCORE, measured on the labelled sets.",
    ),
    offset: Offset = 0,
) -> Any:
    """Open needs the offering could serve, best first, with explanations, an English gloss
    of needs in other languages and whether the provider has expressed interest; ``k`` of
    them from ``offset`` (``total`` counts all above the cut-off, ``next_offset`` pages on).
    Its provider sees the non-confidential ones; the secretariat sees all; others get 403."""
    cutoff = min_score if min_score is not None else request.app.state.store.settings.donor_min_score
    result = offering_matches(session, matching, principal, offering_id, k=k, min_score=cutoff, offset=offset)
    session.commit()
    return result


@router.get(
    "/{offering_id}/track-record",
    response_model=TrackRecordOut,
    responses=errors(401, 403, 404),
    summary="An offering's track record",
)
def track_record(offering_id: str, session: SessionDep, principal: PrincipalDep) -> Any:
    """The past needs the offering served (their codes, countries and titles, newest first) and
    its proposals turned down, by reason kind: imported history and every decision. The
    secretariat and the offering's own provider (who never sees a confidential need's title)."""
    return history.track_record(session, principal, offering_id)


@router.post(
    "/{offering_id}/verify",
    response_model=OfferingOut,
    responses=errors(401, 403, 404),
    summary="Verify an offering",
)
def verify_offering(
    offering_id: OfferingId, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """Secretariat: vouch for the programme; it is no longer demoted or flagged."""
    return service.offering_record(
        service.verify_offering(session, principal, offering_id, matching=matching)
    )


@router.post(
    "/{offering_id}/reject",
    response_model=OfferingOut,
    responses=errors(400, 401, 403, 404, 409, 422),
    summary="Reject an unverified offering",
)
def reject_offering(
    offering_id: OfferingId,
    body: VerificationRejectBody,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
) -> Any:
    """Secretariat: turn an unverified programme down with a reason; it is deactivated (nothing
    is deleted) and its undecided proposals close."""
    offering = service.reject_offering(session, principal, offering_id, body.reason, matching=matching)
    return service.offering_record(offering)


@router.post(
    "/{offering_id}/interest",
    status_code=status.HTTP_201_CREATED,
    response_model=InterestOut,
    responses=errors(400, 401, 403, 404, 409, 422),
    summary="Express interest in an open need",
)
def express_interest(
    offering_id: OfferingId, body: InterestBody, session: SessionDep, principal: PrincipalDep
) -> Any:
    """The offering's provider (or the secretariat) says this programme could serve the need;
    the secretariat sees it on the need and in the review queue. Again for the same need: the
    note is updated."""
    interest = interests.express_interest(session, principal, offering_id, body.need_id, body.note)
    session.commit()
    return interests.interest_record(interest)
