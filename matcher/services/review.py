"""Matching runs and the secretariat's review of their proposals.

A run ranks every open need (or a filtered set) and stores the top ``k`` as proposals
(``Match`` rows). Re-running keeps every decision already taken, never proposes a
rejected pairing again, refreshes the scores of proposals still undecided, and drops
undecided proposals that fell out of the top ``k``. Transitions:

    proposed → accepted | rejected (with a reason);  accepted → introduced;  nothing else.

A need moves to ``in_review`` when it has proposals and to ``matched`` when one is
accepted. Parties and providers see only accepted and introduced proposals.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from matcher.services.access import Conflict, Invalid, NotFound, Principal, audit, require_staff
from matcher.services.matching import MatchingService, need_profile, party_profile
from matcher.services.needs import about_sector
from matcher.services.paging import Page, paginate
from matcher.store.models import AuditEvent, Match, Need, Offering, Party, utcnow
from matcher.taxonomy import OPEN_NEED_STATUSES

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("accepted", "rejected"),
    "accepted": ("introduced",),
    "rejected": (),
    "introduced": (),
}
VISIBLE_TO_OWNERS = ("accepted", "introduced")
ACTIONS = {"accepted": "match.accept", "rejected": "match.reject", "introduced": "match.introduce"}
# What a provider sees of a confidential need's explanation: only the parts about the
# offering and the process. Everything else is drawn from the need (its words, its codes,
# its budget; the score components together with the total would give the budget back).
OFFERING_SIDE_OF_EXPLANATION = ("constraints_passed", "unverified", "notice")


@dataclass(frozen=True)
class RunFilters:
    region: str | None = None
    sector: str | None = None
    language: str | None = None
    party: str | None = None
    k: int = 10

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}


@dataclass
class RunReport:
    needs: int = 0
    added: int = 0
    kept: int = 0
    dropped: int = 0
    need_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"needs": self.needs, "added": self.added, "kept": self.kept, "dropped": self.dropped}

    def summary(self) -> str:
        return f"proposals: {self.added} added, {self.kept} kept, {self.dropped} dropped"


def _needs_for_run(session: Session, filters: RunFilters) -> list[Need]:
    query = select(Need).where(Need.status.in_(OPEN_NEED_STATUSES))
    if filters.party:
        query = query.where(Need.party_iso3 == filters.party.upper())
    if filters.language:
        query = query.where(Need.language == filters.language)
    if filters.sector:
        query = query.where(about_sector(filters.sector))
    if filters.region:
        query = query.join(Party, Party.iso3 == Need.party_iso3).where(Party.un_region == filters.region)
    return list(session.scalars(query.order_by(Need.created_at, Need.id)))


def run_matching(
    session: Session,
    service: MatchingService,
    principal: Principal,
    filters: RunFilters,
    *,
    today: dt.date | None = None,
) -> RunReport:
    """Propose the top ``k`` offerings for each selected open need, commit, and bring the
    matching service up to date with the needs that moved to ``in_review``."""
    require_staff(principal, "run matching")
    if not 1 <= filters.k <= 100:
        raise Invalid("k must be between 1 and 100", [{"loc": "body.k", "message": "between 1 and 100"}])
    report = RunReport()
    moved: list[str] = []
    for need in _needs_for_run(session, filters):
        report.needs += 1
        report.need_ids.append(need.id)
        existing = {
            match.offering_id: match
            for match in session.scalars(select(Match).where(Match.need_id == need.id))
        }
        decided = {offering_id for offering_id, match in existing.items() if match.state != "proposed"}
        party = need.party
        ranking = service.rank_need(
            session, need_profile(need), party_profile(party), k=filters.k + len(decided), today=today
        )
        fresh = [item for item in ranking.results if item.offering.id not in decided][: filters.k]
        chosen = {item.offering.id for item in fresh}
        for stale in existing.values():
            if stale.state == "proposed" and stale.offering_id not in chosen:
                audit(session, principal, "match.drop", "match", str(stale.id), before=_snapshot(stale))
                session.delete(stale)
                report.dropped += 1
        report.kept += len(decided)
        for rank, item in enumerate(fresh, start=1):
            current = existing.get(item.offering.id)
            values = {
                "score": item.score,
                "components": {name: round(value, 6) for name, value in item.components.items()},
                "explanation": item.explanation,
                "rank": rank,
                "engine_version": ranking.engine_version,
            }
            if current is None:
                session.add(Match(need_id=need.id, offering_id=item.offering.id, state="proposed", **values))
                report.added += 1
            else:
                for name, value in values.items():
                    setattr(current, name, value)
                report.kept += 1
        if fresh and need.status == "submitted":
            need.status = "in_review"
            moved.append(need.id)
        session.flush()
    audit(
        session,
        principal,
        "matching.run",
        "matching_run",
        None,
        before=filters.as_dict(),
        after=report.as_dict(),
    )
    _commit_and_reflect(session, service, moved)
    return report


def _commit_and_reflect(session: Session, matching: MatchingService, need_ids: Sequence[str]) -> None:
    """Commit, then reflect the needs whose status changed in the matching service (their
    writes moved the catalogue version; a service that did not follow would be stale, and a
    matched need would stay in the donor view)."""
    session.commit()
    for need_id in need_ids:
        matching.need_changed(session, need_id)
    session.commit()


# ---------------------------------------------------------------------------- proposals


def can_see(principal: Principal, match: Match) -> bool:
    if principal.is_staff:
        return True
    if match.state not in VISIBLE_TO_OWNERS:
        return False
    if principal.role == "party":
        return match.need.party_iso3 == principal.party
    if principal.role == "provider":
        return match.offering.provider_id == principal.provider
    return False


def _visible(principal: Principal) -> Any:
    if principal.is_staff:
        return True
    owned = Match.state.in_(VISIBLE_TO_OWNERS)
    if principal.role == "party":
        return and_(owned, Need.party_iso3 == principal.party)
    if principal.role == "provider":
        return and_(owned, Offering.provider_id == principal.provider)
    return False


def get_proposal(session: Session, principal: Principal, proposal_id: int) -> Match:
    match = session.get(Match, proposal_id)
    if match is None or not can_see(principal, match):
        raise NotFound(f"no proposal {proposal_id}")
    return match


@dataclass(frozen=True)
class ProposalFilters:
    state: str | None = None
    region: str | None = None
    sector: str | None = None
    language: str | None = None
    provider_id: str | None = None
    party: str | None = None
    min_age_days: int | None = None
    max_age_days: int | None = None
    need_id: str | None = None


def list_proposals(
    session: Session, principal: Principal, filters: ProposalFilters, *, limit: int, offset: int
) -> Page[Match]:
    """Visible proposals, oldest first (the review queue)."""
    query = (
        select(Match)
        .join(Need, Need.id == Match.need_id)
        .join(Offering, Offering.id == Match.offering_id)
        .join(Party, Party.iso3 == Need.party_iso3)
        .where(_visible(principal))
    )
    if filters.state:
        query = query.where(Match.state == filters.state)
    if filters.region:
        query = query.where(Party.un_region == filters.region)
    if filters.sector:
        query = query.where(about_sector(filters.sector))
    if filters.language:
        query = query.where(Need.language == filters.language)
    if filters.provider_id:
        query = query.where(Offering.provider_id == filters.provider_id)
    if filters.party:
        query = query.where(Need.party_iso3 == filters.party.upper())
    if filters.need_id:
        query = query.where(Match.need_id == filters.need_id)
    now = utcnow()
    if filters.min_age_days is not None:
        query = query.where(Match.created_at <= now - dt.timedelta(days=filters.min_age_days))
    if filters.max_age_days is not None:
        query = query.where(Match.created_at >= now - dt.timedelta(days=filters.max_age_days))
    return paginate(session, query.order_by(Match.created_at, Match.id), limit, offset)


def proposals_by_need(
    session: Session, principal: Principal, need_ids: Sequence[str]
) -> dict[str, list[Match]]:
    """The proposals ``principal`` may see of each of ``need_ids``, best score first (one
    query, however long the queue: a page asks for what it shows)."""
    return _grouped(session, principal, Match.need_id, need_ids)


def proposals_by_offering(
    session: Session, principal: Principal, offering_ids: Sequence[str]
) -> dict[str, list[Match]]:
    """The proposals ``principal`` may see of each of ``offering_ids``, best score first."""
    return _grouped(session, principal, Match.offering_id, offering_ids)


def _grouped(
    session: Session, principal: Principal, column: Any, ids: Sequence[str]
) -> dict[str, list[Match]]:
    grouped: dict[str, list[Match]] = {}
    if not ids:
        return grouped
    query = (
        select(Match)
        .join(Need, Need.id == Match.need_id)
        .join(Offering, Offering.id == Match.offering_id)
        .where(_visible(principal), column.in_(list(ids)))
        .order_by(Match.score.desc(), Match.id)
    )
    for match in session.scalars(query):
        grouped.setdefault(getattr(match, column.key), []).append(match)
    return grouped


def need_history(session: Session, principal: Principal, need_id: str) -> list[AuditEvent]:
    """Every audit event of a need and of its proposals, in order (secretariat only)."""
    require_staff(principal, "read a need's history")
    match_ids = [
        str(match_id) for match_id in session.scalars(select(Match.id).where(Match.need_id == need_id))
    ]
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                ((AuditEvent.entity_type == "need") & (AuditEvent.entity_id == need_id))
                | ((AuditEvent.entity_type == "match") & (AuditEvent.entity_id.in_(match_ids)))
            )
            .order_by(AuditEvent.id)
        )
    )


def _snapshot(match: Match) -> dict[str, Any]:
    return {
        "need_id": match.need_id,
        "offering_id": match.offering_id,
        "state": match.state,
        "score": round(match.score, 6),
        "rank": match.rank,
        "reject_reason": match.reject_reason,
    }


def _move(
    session: Session, principal: Principal, proposal_id: int, target: str, reason: str | None = None
) -> tuple[Match, bool]:
    """Move a proposal to ``target`` (flushed); also says whether its need's status changed."""
    require_staff(principal, "decide on proposals")
    match = get_proposal(session, principal, proposal_id)
    allowed = TRANSITIONS[match.state]
    if target not in allowed:
        listed = ", ".join(allowed) if allowed else "none (it is final)"
        raise Conflict(
            f"a {match.state} proposal cannot become {target}; allowed from {match.state}: {listed}",
            [{"loc": "state", "message": f"allowed transitions: {listed}"}],
        )
    before = _snapshot(match)
    match.state = target
    if target in ("accepted", "rejected"):
        match.decided_at = utcnow()
        match.reviewer = principal.actor
    if target == "rejected":
        match.reject_reason = reason
    if target == "introduced":
        match.introduced_at = utcnow()
    need_moved = target == "accepted" and match.need.status in OPEN_NEED_STATUSES
    if need_moved:
        need_before = match.need.status
        match.need.status = "matched"
        audit(
            session,
            principal,
            "need.matched",
            "need",
            match.need_id,
            before={"status": need_before},
            after={"status": "matched"},
        )
    session.flush()
    audit(session, principal, ACTIONS[target], "match", str(match.id), before=before, after=_snapshot(match))
    return match, need_moved


def accept(session: Session, principal: Principal, proposal_id: int, *, matching: MatchingService) -> Match:
    """Accept and commit; the need becomes ``matched`` and leaves the donor view."""
    match, need_moved = _move(session, principal, proposal_id, "accepted")
    _commit_and_reflect(session, matching, [match.need_id] if need_moved else [])
    return match


def reject(session: Session, principal: Principal, proposal_id: int, reason: str | None) -> Match:
    """Reject with a reason and commit."""
    if not reason or not reason.strip():
        raise Invalid(
            "a rejection needs a reason", [{"loc": "body.reason", "message": "required, not empty"}]
        )
    match, _ = _move(session, principal, proposal_id, "rejected", reason.strip())
    session.commit()
    return match


def introduce(session: Session, principal: Principal, proposal_id: int) -> Match:
    """Mark introduced and commit."""
    match, _ = _move(session, principal, proposal_id, "introduced")
    session.commit()
    return match


def proposal_record(match: Match, principal: Principal) -> dict[str, Any]:
    """The proposal as ``principal`` may see it. Of a confidential need a provider sees the
    id, Party, title, language and the flag, and of the explanation only
    ``OFFERING_SIDE_OF_EXPLANATION`` (README, "Who may do what")."""
    need, offering = match.need, match.offering
    show_description = principal.is_staff or principal.role == "party" or not need.confidential
    explanation = dict(match.explanation or {})
    if not show_description:
        explanation = {
            key: value for key, value in explanation.items() if key in OFFERING_SIDE_OF_EXPLANATION
        }
    record: dict[str, Any] = {
        "id": match.id,
        "state": match.state,
        "score": match.score,
        "rank": match.rank,
        "engine_version": match.engine_version,
        "explanation": explanation,
        "created_at": match.created_at,
        "decided_at": match.decided_at,
        "introduced_at": match.introduced_at,
        "need": {
            "id": need.id,
            "party": need.party_iso3,
            "title": need.title,
            "description": need.description if show_description else None,
            "language": need.language,
            "confidential": need.confidential,
        },
        "offering": {
            "id": offering.id,
            "title": offering.title,
            "provider_id": offering.provider_id,
            "provider": offering.provider,
        },
    }
    if principal.is_staff:
        record["reject_reason"] = match.reject_reason
        record["reviewer"] = match.reviewer
    return record
