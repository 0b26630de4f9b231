"""Live matches, both ways, with the rules on who sees what.

* need → offerings: the secretariat and admin get a live ranking with explanations; the
  owning Party gets only the proposals the secretariat accepted (or introduced);
* offering → needs (the donor view): the secretariat and admin see every open need; the
  offering's own provider sees open, non-confidential needs; nobody else.

Withdrawn needs and inactive offerings never appear in results.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.engine.text.tagging import english_equivalents
from matcher.services.access import Conflict, Forbidden, Principal
from matcher.services.matching import MatchingService, need_profile, party_profile
from matcher.services.needs import coaching_for, get_need
from matcher.services.offerings import get_offering
from matcher.services.review import VISIBLE_TO_OWNERS
from matcher.store.models import Interest, Match, Need, Offering
from matcher.taxonomy import FINAL_NEED_STATUSES


def need_matches(
    session: Session,
    service: MatchingService,
    principal: Principal,
    need_id: str,
    *,
    k: int = 10,
    today: dt.date | None = None,
) -> dict[str, Any]:
    need = get_need(session, principal, need_id)
    if principal.is_staff:
        if need.status in FINAL_NEED_STATUSES:
            raise Conflict(f"the need is {need.status}: it is no longer matched")
        party = need.party
        ranking = service.rank_need(session, need_profile(need), party_profile(party), k=k, today=today)
        coaching = coaching_for(need, query=ranking.query)
        return {
            "need_id": need.id,
            "vague": coaching.vague,
            "coaching": coaching.as_dict(),
            "engine_version": ranking.engine_version,
            "model_version": ranking.model_version,
            "candidates": ranking.candidates,
            "removed": ranking.removed,
            "results": [
                {
                    **item.as_result(),
                    "offering": {
                        "title": item.offering.title,
                        "provider_id": item.offering.provider_id,
                        "provider": item.offering.provider,
                    },
                }
                for item in ranking.results
            ],
        }
    if principal.role == "party":  # get_need let it through, so the need is its own
        rows = session.execute(
            select(Match)
            .join(Offering, Offering.id == Match.offering_id)
            .where(Match.need_id == need.id, Match.state.in_(VISIBLE_TO_OWNERS), Offering.active.is_(True))
            .order_by(Match.score.desc(), Match.offering_id)
            .limit(k)
        ).scalars()
        return {
            "need_id": need.id,
            "results": [
                {
                    "offering_id": match.offering_id,
                    "score": match.score,
                    "explanation": match.explanation,
                    "state": match.state,
                    "offering": {
                        "title": match.offering.title,
                        "provider_id": match.offering.provider_id,
                        "provider": match.offering.provider,
                    },
                }
                for match in rows
            ],
        }
    raise Forbidden("providers see needs through their offerings' matches")


def offering_matches(
    session: Session,
    service: MatchingService,
    principal: Principal,
    offering_id: str,
    *,
    k: int = 10,
    min_score: float | None = None,
    offset: int = 0,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The donor view: open needs the offering could serve, best first, each with its Party,
    language, an English gloss (for a need in another language), the reason in codes, and
    whether the provider has expressed interest. ``min_score`` (the engine's scale) keeps
    only needs that fit; the measured default is ``MATCHER_DONOR_MIN_SCORE``. ``k`` needs
    from ``offset``; ``total`` counts every need above the cut-off."""
    offering = get_offering(session, principal, offering_id)
    if principal.is_staff:
        include_confidential = True
    elif principal.role == "provider" and principal.provider == offering.provider_id:
        include_confidential = False
    else:
        raise Forbidden("only the offering's provider or the secretariat can see its matching needs")
    if not offering.active:
        raise Conflict("the offering is inactive: it is not matched (reactivate it with active: true)")
    page = service.donor_view(
        session,
        offering.id,
        limit=k,
        offset=offset,
        min_score=min_score,
        include_confidential=include_confidential,
        today=today,
    )
    results = page.matches
    needs = {
        need.id: need
        for need in session.scalars(select(Need).where(Need.id.in_([r.need_id for r in results])))
    }
    interested = set(
        session.scalars(
            select(Interest.need_id).where(
                Interest.offering_id == offering.id, Interest.need_id.in_(list(needs))
            )
        )
    )
    following = offset + len(results)
    return {
        "offering_id": offering.id,
        "min_score": min_score,
        "total": page.total,
        "offset": offset,
        "next_offset": following if following < page.total else None,
        "results": [
            {
                **item.as_result(),
                "need": {
                    "title": needs[item.need_id].title,
                    "party": needs[item.need_id].party_iso3,
                    "language": needs[item.need_id].language,
                    "gloss": english_gloss(service, needs[item.need_id]),
                    "interest": item.need_id in interested,
                },
                "reason": score_reason(item.explanation),
            }
            for item in results
        ],
    }


def english_gloss(service: MatchingService, need: Need) -> str | None:
    """A few English words saying what a need in another language is about: the English
    labels of its codes and the English counterparts of the keywords it matched (no
    translation service: the taxonomy and its keyword glossary). None for English needs."""
    if need.language in (None, "en"):
        return None
    taxonomy = service.taxonomy
    labels = [
        entry.label_in("en")
        for code in dict.fromkeys(
            [*need.sectors, *need.inferred_sectors, *need.assistance_types, *need.inferred_assistance_types]
        )
        if (entry := taxonomy.sectors.get(code) or taxonomy.assistance_types.get(code)) is not None
    ]
    terms = english_equivalents(service.prepare(need_profile(need)).evidence, service.engine.glossary)
    words = list(dict.fromkeys([*labels, *terms]))
    return "; ".join(words[:8]) or None


def score_reason(explanation: dict[str, Any]) -> dict[str, Any]:
    """Why a pairing scores: the codes both sides share (stated or inferred) and the
    two strongest parts of the score, for a reader who does not want the whole explanation."""
    matched = explanation.get("matched", {})
    components = explanation.get("components", {})
    strongest = sorted(
        (name for name, value in components.items() if value > 0), key=lambda name: -components[name]
    )[:2]
    return {
        "sectors": [
            *matched.get("sectors", {}).get("stated", []),
            *matched.get("sectors", {}).get("inferred", []),
        ],
        "assistance_types": [
            *matched.get("assistance_types", {}).get("stated", []),
            *matched.get("assistance_types", {}).get("inferred", []),
        ],
        "strongest": strongest,
    }
