"""/v1/needs: file, read, list, change and withdraw needs; live matches of a need."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, status

from matcher.api.deps import (
    DEFAULT_PAGE,
    Limit,
    NeedId,
    Offset,
    PartyFilter,
    PrincipalDep,
    ServiceDep,
    SessionDep,
    errors,
    link,
    linked,
)
from matcher.api.idempotency import IdempotencyKey, once
from matcher.api.schemas import (
    AssistanceType,
    InterestList,
    LanguageCode,
    MatchesOut,
    NeedCreate,
    NeedOut,
    NeedPage,
    NeedPatch,
    NeedStatus,
    RegionCode,
    SectorCode,
    WithdrawBody,
)
from matcher.services import needs as service
from matcher.services.interests import interest_record, interests_by_need
from matcher.services.lifecycle import reconfirm_need as reconfirm
from matcher.services.matches import need_matches

router = APIRouter(prefix="/v1/needs", tags=["needs"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NeedOut,
    responses={
        **errors(400, 401, 403, 409, 413, 422),
        **linked(
            201,
            "The need as filed.",
            ReadNeed=link("GET", "/v1/needs/{need_id}", need_id="$response.body#/id"),
            ChangeNeed=link("PATCH", "/v1/needs/{need_id}", need_id="$response.body#/id"),
            WithdrawNeed=link("POST", "/v1/needs/{need_id}/withdraw", need_id="$response.body#/id"),
            NeedMatches=link("GET", "/v1/needs/{need_id}/matches", need_id="$response.body#/id"),
        ),
    },
    summary="File a need",
)
def create_need(
    body: NeedCreate,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """A party key files for its own Party; the secretariat names the Party in `party`.

    The response carries the detected `language` (when none was given), the `inferred`
    codes (kept apart from the stated ones) and `coaching` for vague requests, in the
    need's language. A short text is coached, never refused. A deadline in the past is
    refused. Send an `Idempotency-Key` to make a retry safe.
    """

    def file_it() -> Any:
        data = body.model_dump(exclude_unset=True)
        return service.need_record(service.create_need(session, principal, data, matching=matching))

    return once(
        db=session,
        principal=principal,
        route="POST /v1/needs",
        key=idempotency_key,
        body=body,
        response_model=NeedOut,
        status=status.HTTP_201_CREATED,
        produce=file_it,
    )


@router.get(
    "",
    response_model=NeedPage,
    responses={
        **errors(401, 422),
        **linked(
            200,
            "A page of needs.",
            ReadFirstNeed=link("GET", "/v1/needs/{need_id}", need_id="$response.body#/items/0/id"),
        ),
    },
    summary="List needs",
)
def list_needs(
    session: SessionDep,
    principal: PrincipalDep,
    party: PartyFilter = None,
    status_: NeedStatus | None = Query(None, alias="status"),
    sector: SectorCode | None = Query(None, description="Stated or inferred sector."),
    assistance_type: AssistanceType | None = Query(None, description="Stated or inferred assistance type."),
    language: LanguageCode | None = None,
    region: RegionCode | None = Query(None, description="UN region of the Party."),
    limit: Limit = DEFAULT_PAGE,
    offset: Offset = 0,
) -> Any:
    """The needs the caller may see, oldest first: a Party sees its own, a provider the open,
    non-confidential ones, the secretariat all."""
    filters = service.NeedFilters(party, status_, sector, assistance_type, language, region)
    page = service.list_needs(session, principal, filters, limit=limit, offset=offset)
    return page.as_dict([service.need_record(need) for need in page.items])


@router.get("/{need_id}", response_model=NeedOut, responses=errors(401, 404), summary="Read a need")
def get_need(need_id: NeedId, session: SessionDep, principal: PrincipalDep) -> Any:
    return service.need_record(service.get_need(session, principal, need_id))


@router.patch(
    "/{need_id}",
    response_model=NeedOut,
    responses=errors(400, 401, 403, 404, 409, 413, 422),
    summary="Change a need",
)
def update_need(
    need_id: NeedId, body: NeedPatch, session: SessionDep, principal: PrincipalDep, matching: ServiceDep
) -> Any:
    """Only the fields sent change. The owning Party or the secretariat; not once withdrawn or closed."""
    need = service.update_need(
        session, principal, need_id, body.model_dump(exclude_unset=True), matching=matching
    )
    return service.need_record(need)


@router.post(
    "/{need_id}/withdraw",
    response_model=NeedOut,
    responses=errors(401, 403, 404, 409),
    summary="Withdraw a need",
)
def withdraw_need(
    need_id: NeedId,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    body: WithdrawBody | None = None,
) -> Any:
    """The need leaves every match and the donor view, and its undecided proposals are
    closed; nothing is deleted. The body is optional: `{"reason": "..."}`."""
    need = service.withdraw_need(
        session, principal, need_id, matching=matching, reason=body.reason if body else None
    )
    return service.need_record(need)


@router.post(
    "/{need_id}/reconfirm",
    response_model=NeedOut,
    responses=errors(401, 403, 404, 409),
    summary="Reconfirm a need",
)
def reconfirm_need(need_id: NeedId, session: SessionDep, principal: PrincipalDep) -> Any:
    """The Party (or the secretariat) confirms an open need still stands, answering the
    lifecycle's request; a need asked and not reconfirmed is closed after the grace period."""
    need = reconfirm(session, principal, need_id)
    session.commit()
    return service.need_record(need)


@router.get(
    "/{need_id}/interests",
    response_model=InterestList,
    responses=errors(401, 403, 404),
    summary="Providers' expressions of interest in a need",
)
def need_interests(need_id: NeedId, session: SessionDep, principal: PrincipalDep) -> Any:
    """Secretariat: which programmes' providers said they could serve this need."""
    need = service.get_need(session, principal, need_id)
    found = interests_by_need(session, principal, [need.id]).get(need.id, [])
    return {"items": [interest_record(interest) for interest in found]}


@router.get(
    "/{need_id}/matches",
    response_model=MatchesOut,
    response_model_exclude_none=True,
    responses=errors(401, 403, 404, 409, 422),
    summary="Offerings for a need",
)
def matches(
    need_id: NeedId,
    session: SessionDep,
    principal: PrincipalDep,
    matching: ServiceDep,
    k: int = Query(10, ge=1, le=100, description="Number of results."),
) -> Any:
    """Secretariat and admin: a live ranking with explanations. The owning Party: only the
    proposals the secretariat has accepted. Providers: 403."""
    result = need_matches(session, matching, principal, need_id, k=k)
    session.commit()  # embeddings of new text are cached
    return result
