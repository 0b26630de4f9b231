"""Public reference data: the parties list and the taxonomy (no key needed)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from matcher.api.deps import DEFAULT_PAGE, Limit, Offset, SessionDep, errors
from matcher.api.schemas import PartyPage, RegionCode
from matcher.services.paging import paginate
from matcher.store.models import Party
from matcher.taxonomy import bundled_catalog_dir

router = APIRouter(prefix="/v1", tags=["reference"])


@router.get("/parties", response_model=PartyPage, responses=errors(422), summary="List parties")
def list_parties(
    session: SessionDep, region: RegionCode | None = None, limit: Limit = DEFAULT_PAGE, offset: Offset = 0
) -> Any:
    """Countries with their UN region, (proxy) development status, LDC and SIDS flags."""
    query = select(Party)
    if region:
        query = query.where(Party.un_region == region)
    page = paginate(session, query.order_by(Party.iso3), limit, offset)
    return page.as_dict(
        [
            {
                "iso3": party.iso3,
                "name_en": party.name_en,
                "name_fr": party.name_fr,
                "name_es": party.name_es,
                "un_region": party.un_region,
                "status": party.status,
                "ldc": party.ldc,
                "sids": party.sids,
            }
            for party in page.items
        ]
    )


@router.get("/taxonomy", summary="The controlled vocabulary")
def taxonomy() -> Any:
    """Sector, assistance-type, region and language codes with labels, definitions and
    keywords in the six UN languages (the interchange format uses these codes)."""
    return json.loads((bundled_catalog_dir() / "taxonomy.json").read_text(encoding="utf-8"))
