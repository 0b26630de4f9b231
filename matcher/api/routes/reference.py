"""Public reference data: the parties list and the taxonomy (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from matcher.api.deps import DEFAULT_PAGE, Limit, Offset, SessionDep, errors
from matcher.api.schemas import PartyPage, RegionCode
from matcher.services import reference

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get("/parties", response_model=PartyPage, responses=errors(422), summary="List parties")
def list_parties(
    session: SessionDep, region: RegionCode | None = None, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
) -> Any:
    """Countries with their UN region, (proxy) development status, LDC and SIDS flags."""
    page = reference.list_parties(session, region=region, limit=limit, offset=offset)
    return page.as_dict([reference.party_record(party) for party in page.items])


@router.get("/taxonomy", summary="The controlled vocabulary")
def taxonomy() -> Any:
    """Sector, assistance-type, region and language codes with labels, definitions and
    keywords in the six UN languages (the interchange format uses these codes)."""
    return reference.taxonomy_document()
