"""History from the store: the past needs rankings learn from, and each offering's track record.

Every accepted, introduced and rejected proposal is history from the moment it is decided,
and every closed need is a past request (served or not): imported records
(``matcher history load``) are closed needs with introduced or rejected proposals. The
matching service reads them with ``past_needs`` whenever the history changes
(``MatchingService.history_changed``) and hands them to the engine as plain records.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from matcher.engine.builder import build_history
from matcher.engine.history import IMPORTED, Declined, History, PastNeed, reason_kind
from matcher.services.access import Forbidden, NotFound, Principal
from matcher.services.matching import MatchingService, embed_cached, need_profile, party_profile
from matcher.store.models import Match, Need, Offering

DECIDED = ("accepted", "introduced", "rejected")
SERVED = ("accepted", "introduced")


def past_needs(session: Session) -> list[PastNeed]:
    """Every need with a decided proposal and every closed need, by id, with what came of it."""
    decided: dict[str, list[Match]] = defaultdict(list)
    for match in session.scalars(select(Match).where(Match.state.in_(DECIDED)).order_by(Match.id)):
        decided[match.need_id].append(match)
    needs = session.scalars(
        select(Need)
        .options(selectinload(Need.party))
        .where(
            or_(Need.status == "closed", Need.id.in_(select(Match.need_id).where(Match.state.in_(DECIDED))))
        )
        .order_by(Need.id)
    )
    return [_past_need(need, decided.get(need.id, [])) for need in needs]


def _past_need(need: Need, matches: Iterable[Match]) -> PastNeed:
    matches = list(matches)
    return PastNeed(
        need=need_profile(need),
        party=party_profile(need.party),
        country=need.party.name_en,
        served=tuple(sorted(m.offering_id for m in matches if m.state in SERVED)),
        declined=tuple(Declined(m.offering_id, m.reject_reason) for m in matches if m.state == "rejected"),
        shown_at=tuple(
            sorted((m.offering_id, m.rank) for m in matches if m.engine_version != IMPORTED and m.rank > 0)
        ),
        year=need.history_year,
        sectors=tuple(need.sectors or need.inferred_sectors),
    )


def track_record(session: Session, principal: Principal, offering_id: str) -> dict[str, Any]:
    """What an offering delivered: the past needs it served (their codes, countries and
    titles, newest first) and the proposals of it that were turned down, by reason kind.
    Staff and the offering's own provider may read it; a provider never sees a confidential
    need's title."""
    offering = session.get(Offering, offering_id)
    if offering is None:
        raise NotFound(f"no offering {offering_id!r}")
    if not (
        principal.is_staff or (principal.role == "provider" and principal.provider == offering.provider_id)
    ):
        raise Forbidden("only the secretariat and the offering's provider read its track record")
    matches = session.scalars(
        select(Match)
        .options(selectinload(Match.need).selectinload(Need.party))
        .where(Match.offering_id == offering_id, Match.state.in_(DECIDED))
        .order_by(Match.id)
    )
    served: list[dict[str, Any]] = []
    declined: dict[str, int] = defaultdict(int)
    countries: dict[str, int] = defaultdict(int)
    sectors: dict[str, int] = defaultdict(int)
    for match in matches:
        if match.state == "rejected":
            declined[reason_kind(match.reject_reason)] += 1
            continue
        need = match.need
        codes = list(need.sectors or need.inferred_sectors)
        hidden = need.confidential and not principal.is_staff
        served.append(
            {
                "need_id": need.id,
                "title": None if hidden else need.title,
                "party": need.party_iso3,
                "country": need.party.name_en,
                "sectors": codes,
                "year": need.history_year,
                "state": match.state,
                "imported": match.engine_version == IMPORTED,
            }
        )
        countries[need.party.name_en] += 1
        for code in codes:
            sectors[code] += 1
    served.sort(key=lambda item: (-int(item["year"] or 0), str(item["need_id"])))
    return {
        "offering_id": offering_id,
        "served": len(served),
        "countries": dict(sorted(countries.items(), key=lambda item: (-item[1], item[0]))),
        "sectors": dict(sorted(sectors.items(), key=lambda item: (-item[1], item[0]))),
        "declined": dict(declined),
        "needs": served,
    }


def load_history(session: Session, service: MatchingService) -> History:
    """The store's past needs (``past_needs``), embedded through the embedding cache with the
    service's multilingual encoder (caller commits)."""
    return build_history(
        past_needs(session), service.encoders, lambda encoder, texts: embed_cached(session, encoder, texts)
    )
