"""Public reference data: the parties list and the controlled vocabulary (no key needed)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.services.paging import Page, paginate
from matcher.store.models import Party
from matcher.taxonomy import bundled_catalog_dir


def list_parties(session: Session, *, region: str | None, limit: int, offset: int) -> Page[Party]:
    """Parties by ISO3 code, optionally of one UN region."""
    query = select(Party)
    if region:
        query = query.where(Party.un_region == region)
    return paginate(session, query.order_by(Party.iso3), limit, offset)


def party_record(party: Party) -> dict[str, Any]:
    return {
        "iso3": party.iso3,
        "name_en": party.name_en,
        "name_fr": party.name_fr,
        "name_es": party.name_es,
        "un_region": party.un_region,
        "status": party.status,
        "ldc": party.ldc,
        "sids": party.sids,
    }


def taxonomy_document() -> dict[str, Any]:
    """The taxonomy file as shipped: codes with labels, definitions and keywords in six languages."""
    document: dict[str, Any] = json.loads(
        (bundled_catalog_dir() / "taxonomy.json").read_text(encoding="utf-8")
    )
    return document


def party_names(session: Session) -> dict[str, dict[str, str | None]]:
    """Every Party's name by language (en, fr, es), for pages that show names, not codes."""
    return {
        iso3: {"en": name_en, "fr": name_fr, "es": name_es}
        for iso3, name_en, name_fr, name_es in session.execute(
            select(Party.iso3, Party.name_en, Party.name_fr, Party.name_es)
        )
    }
