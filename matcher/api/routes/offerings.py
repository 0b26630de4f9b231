"""/v1/offerings: the catalog; providers manage their own programmes; the donor view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

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
    MatchesOut,
    OfferingCreate,
    OfferingOut,
    OfferingPage,
    OfferingPatch,
    RegionCode,
    SectorCode,
)
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
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    filters = service.OfferingFilters(provider_id, sector, assistance_type, region, include_inactive)
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
    k: int = Query(10, ge=1, le=100, description="Number of results."),
) -> Any:
    """Open needs the offering could serve, with explanations. Its provider sees the
    non-confidential ones; the secretariat sees all; others get 403."""
    result = offering_matches(session, matching, principal, offering_id, k=k)
    session.commit()
    return result
