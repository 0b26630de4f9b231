"""Matching runs and the secretariat's review of their proposals.

A run ranks every open need (or a filtered set) and stores the top ``k`` as proposals
(``Match`` rows). Re-running keeps every decision already taken, never proposes a
rejected pairing again, refreshes the scores of proposals still undecided, and drops
undecided proposals that fell out of the top ``k``. Transitions:

    proposed → accepted | rejected (with a reason) | closed;  accepted → introduced;  nothing else,
    but an accept or a reject can be undone (back to proposed) within a short window.

``closed`` ends an undecided proposal that no longer matters: its need was withdrawn or
closed, its offering deactivated or past its closing date, or staff closed the remaining
proposals of a matched need. A later run may reopen a closed pairing that ranks again.

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
from matcher.services.notifications import queue_notice
from matcher.services.paging import Page, paginate
from matcher.services.queries import about_sector
from matcher.store.models import AuditEvent, Match, Need, Offering, Party, utcnow
from matcher.taxonomy import OPEN_NEED_STATUSES, OUTCOMES

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "proposed": ("accepted", "rejected"),
    "accepted": ("introduced",),
    "rejected": (),
    "introduced": (),
    # Closed by the lifecycle (need withdrawn or closed, offering inactive or past its
    # closing date) or by staff closing a matched need's remaining proposals; a later
    # matching run may reopen it (``match_need``).
    "closed": (),
}
# Decided pairings: kept by every run, never proposed again, not counted against k.
DECIDED = ("accepted", "rejected", "introduced")
VISIBLE_TO_OWNERS = ("accepted", "introduced")
ACTIONS = {"accepted": "match.accept", "rejected": "match.reject", "introduced": "match.introduce"}
NOTICES = {"accepted": "proposal.accepted", "introduced": "proposal.introduced"}


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
    """Propose the top ``k`` offerings for each selected open need and commit. (A need moving
    from ``submitted`` to ``in_review`` stays open: nothing a ranking reads changes, so the
    catalogue version does not move and the matching service needs no update.)"""
    require_staff(principal, "run matching")
    if not 1 <= filters.k <= 100:
        raise Invalid("k must be between 1 and 100", [{"loc": "body.k", "message": "between 1 and 100"}])
    report = RunReport()
    for need in _needs_for_run(session, filters):
        match_need(
            session,
            service,
            principal,
            need,
            k=filters.k,
            today=today,
            report=report,
            fit_threshold=service.fit_threshold,
        )
    audit(
        session,
        principal,
        "matching.run",
        "matching_run",
        None,
        before=filters.as_dict(),
        after=report.as_dict(),
    )
    session.commit()
    return report


def match_need(
    session: Session,
    service: MatchingService,
    principal: Principal,
    need: Need,
    *,
    k: int,
    today: dt.date | None = None,
    report: RunReport | None = None,
    fit_threshold: float | None = None,
) -> RunReport:
    """Bring one open need's proposals up to date with its current ranking (the run rules):

    * decisions are kept: accepted, introduced and rejected pairings are never re-proposed
      and do not count against ``k``;
    * the ``k`` best other offerings are proposed; an undecided proposal still among them
      gets its new score and rank, one that fell out is dropped (audited);
    * a ``closed`` pairing (its offering was deactivated, say) that ranks again is reopened.

    Works in the caller's transaction; ``report`` (or a new one) counts what happened. A new
    proposal scoring at least ``fit_threshold`` (when given) tells the programme's provider
    that a need fits it (``need.fits_programme``)."""
    report = report if report is not None else RunReport()
    report.needs += 1
    report.need_ids.append(need.id)
    existing = {
        match.offering_id: match for match in session.scalars(select(Match).where(Match.need_id == need.id))
    }
    decided = {offering_id for offering_id, match in existing.items() if match.state in DECIDED}
    ranking = service.rank_need(
        session, need_profile(need), party_profile(need.party), k=k + len(decided), today=today
    )
    fresh = [item for item in ranking.results if item.offering.id not in decided][:k]
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
            "model_version": ranking.model_version,
        }
        if current is None:
            proposal = Match(need_id=need.id, offering_id=item.offering.id, state="proposed", **values)
            session.add(proposal)
            report.added += 1
            if fit_threshold is not None and item.score >= fit_threshold:
                session.flush()
                queue_notice(session, "need.fits_programme", match=proposal)
            continue
        if current.state == "closed":
            before = _snapshot(current)
            current.state, current.closed_at, current.close_reason = "proposed", None, None
            audit(
                session,
                principal,
                "match.reopen",
                "match",
                str(current.id),
                before=before,
                after=_snapshot(current),
            )
            report.added += 1
        else:
            report.kept += 1
        for name, value in values.items():
            setattr(current, name, value)
    if fresh and need.status == "submitted":
        need.status = "in_review"
    session.flush()
    return report


def close_undecided(session: Session, principal: Principal, matches: Sequence[Match], reason: str) -> int:
    """Move the undecided (``proposed``) ones of ``matches`` to ``closed`` with ``reason``
    (e.g. ``need_withdrawn``, ``offering_inactive``), each audited. Returns how many."""
    closed = 0
    now = utcnow()
    for match in matches:
        if match.state != "proposed":
            continue
        before = _snapshot(match)
        match.state, match.closed_at, match.close_reason = "closed", now, reason
        audit(
            session, principal, "match.close", "match", str(match.id), before=before, after=_snapshot(match)
        )
        closed += 1
    session.flush()
    return closed


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


def proposal_conditions(principal: Principal, filters: ProposalFilters) -> list[Any]:
    """The queue's filters as query conditions over ``Match`` joined with its ``Need``,
    ``Offering`` and the need's ``Party`` (shared by the flat list and the case view)."""
    conditions: list[Any] = [_visible(principal)]
    if filters.state:
        conditions.append(Match.state == filters.state)
    if filters.region:
        conditions.append(Party.un_region == filters.region)
    if filters.sector:
        conditions.append(about_sector(filters.sector))
    if filters.language:
        conditions.append(Need.language == filters.language)
    if filters.provider_id:
        conditions.append(Offering.provider_id == filters.provider_id)
    if filters.party:
        conditions.append(Need.party_iso3 == filters.party.upper())
    if filters.need_id:
        conditions.append(Match.need_id == filters.need_id)
    now = utcnow()
    if filters.min_age_days is not None:
        conditions.append(Match.created_at <= now - dt.timedelta(days=filters.min_age_days))
    if filters.max_age_days is not None:
        conditions.append(Match.created_at >= now - dt.timedelta(days=filters.max_age_days))
    return conditions


def list_proposals(
    session: Session, principal: Principal, filters: ProposalFilters, *, limit: int, offset: int
) -> Page[Match]:
    """Visible proposals, oldest first (the review queue)."""
    query = (
        select(Match)
        .join(Need, Need.id == Match.need_id)
        .join(Offering, Offering.id == Match.offering_id)
        .join(Party, Party.iso3 == Need.party_iso3)
        .where(*proposal_conditions(principal, filters))
    )
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


# What a Party may read of its own need's history: its own steps and the decisions it can
# see, never drops, rejections, runs or internal notes.
PARTY_HISTORY = (
    "need.create",
    "need.update",
    "need.withdraw",
    "need.matched",
    "need.unmatched",
    "need.reconfirm",
    "need.reconfirm_requested",
    "need.close",
    "match.accept",
    "match.introduce",
    "match.outcome",
)


def need_history(session: Session, principal: Principal, need_id: str) -> list[AuditEvent]:
    """The audit events of a need and of its proposals, in order. The secretariat reads all
    of them; the owning Party reads its own steps and the decisions on proposals it can see."""
    need = session.get(Need, need_id)
    if need is None or not (
        principal.is_staff or (principal.role == "party" and need.party_iso3 == principal.party)
    ):
        raise NotFound(f"no need {need_id!r}")
    visible = select(Match.id).where(Match.need_id == need_id)
    if not principal.is_staff:
        visible = visible.where(Match.state.in_(VISIBLE_TO_OWNERS))
    match_ids = [str(match_id) for match_id in session.scalars(visible)]
    query = (
        select(AuditEvent)
        .where(
            ((AuditEvent.entity_type == "need") & (AuditEvent.entity_id == need_id))
            | ((AuditEvent.entity_type == "match") & (AuditEvent.entity_id.in_(match_ids)))
        )
        .order_by(AuditEvent.id)
    )
    if not principal.is_staff:
        query = query.where(AuditEvent.action.in_(PARTY_HISTORY))
    return list(session.scalars(query))


def _snapshot(match: Match) -> dict[str, Any]:
    return {
        "need_id": match.need_id,
        "offering_id": match.offering_id,
        "state": match.state,
        "score": round(match.score, 6),
        "rank": match.rank,
        "engine_version": match.engine_version,
        "model_version": match.model_version,
        "reject_reason": match.reject_reason,
        "close_reason": match.close_reason,
        "outcome": match.outcome,
        "outcome_amount": match.outcome_amount,
        "outcome_currency": match.outcome_currency,
        "outcome_note": match.outcome_note,
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
    if target in NOTICES:
        queue_notice(session, NOTICES[target], match=match)
    return match, need_moved


def _history_moved(session: Session, matching: MatchingService | None) -> None:
    """After a committed decision: it is history from this moment, so the next ranking of a
    similar need reads it (the decision also moved the catalogue version)."""
    if matching is not None:
        matching.history_changed(session)


def accept(session: Session, principal: Principal, proposal_id: int, *, matching: MatchingService) -> Match:
    """Accept and commit; the need becomes ``matched`` and leaves the donor view, and the
    service's history reflects the decision at once."""
    match, need_moved = _move(session, principal, proposal_id, "accepted")
    _commit_and_reflect(session, matching, [match.need_id] if need_moved else [])
    _history_moved(session, matching)
    return match


def reject(
    session: Session,
    principal: Principal,
    proposal_id: int,
    reason: str | None,
    *,
    matching: MatchingService | None = None,
) -> Match:
    """Reject with a reason and commit: never proposed again for this need, and evidence (by
    the reason's kind) that mildly demotes the offering for similar needs."""
    if not reason or not reason.strip():
        raise Invalid(
            "a rejection needs a reason", [{"loc": "body.reason", "message": "required, not empty"}]
        )
    match, _ = _move(session, principal, proposal_id, "rejected", reason.strip())
    session.commit()
    _history_moved(session, matching)
    return match


def introduce(
    session: Session, principal: Principal, proposal_id: int, *, matching: MatchingService | None = None
) -> Match:
    """Mark introduced and commit."""
    match, _ = _move(session, principal, proposal_id, "introduced")
    session.commit()
    _history_moved(session, matching)
    return match


MAX_BULK = 200


def bulk_reject(
    session: Session,
    principal: Principal,
    proposal_ids: Sequence[int],
    reason: str | None,
    *,
    matching: MatchingService | None = None,
) -> list[Match]:
    """Reject several proposals with one reason, all or nothing, and commit: if any of them
    is missing or no longer ``proposed``, nothing changes (``NotFound``/``Conflict`` name
    them). One audit event per proposal, in ascending id order."""
    require_staff(principal, "decide on proposals")
    if not reason or not reason.strip():
        raise Invalid(
            "a rejection needs a reason", [{"loc": "body.reason", "message": "required, not empty"}]
        )
    wanted = sorted(set(proposal_ids))
    if not wanted or len(wanted) > MAX_BULK:
        raise Invalid(
            f"choose between 1 and {MAX_BULK} proposals",
            [{"loc": "body.proposals", "message": f"1 to {MAX_BULK} proposal ids"}],
        )
    found = {match.id: match for match in session.scalars(select(Match).where(Match.id.in_(wanted)))}
    missing = [number for number in wanted if number not in found]
    if missing:
        raise NotFound(f"no proposal {', '.join(map(str, missing))}")
    decided = [number for number in wanted if found[number].state != "proposed"]
    if decided:
        listed = ", ".join(map(str, decided))
        raise Conflict(
            f"proposal(s) {listed} are no longer proposed; nothing was rejected",
            [{"loc": "body.proposals", "message": f"not proposed: {listed}"}],
        )
    rejected = [_move(session, principal, number, "rejected", reason.strip())[0] for number in wanted]
    session.commit()
    _history_moved(session, matching)
    return rejected


def can_undo(match: Match, *, window: dt.timedelta, now: dt.datetime | None = None) -> bool:
    """The proposal is accepted or rejected, and its decision is younger than ``window``."""
    return (
        match.state in ("accepted", "rejected")
        and match.decided_at is not None
        and (now or utcnow()) - match.decided_at <= window
    )


def undo_decision(
    session: Session,
    principal: Principal,
    proposal_id: int,
    *,
    window: dt.timedelta,
    matching: MatchingService,
    now: dt.datetime | None = None,
) -> Match:
    """Reverse an accept or a reject taken less than ``window`` ago, and commit: the proposal is
    ``proposed`` again, audited as ``match.undo`` (before and after; nothing is deleted). If
    the acceptance had made the need ``matched`` and no other accepted or introduced proposal
    keeps it so, the need goes back to ``in_review`` (audited as ``need.unmatched``). After
    the window, or for any other state (an introduction happened in the world), ``Conflict``."""
    require_staff(principal, "undo decisions")
    match = get_proposal(session, principal, proposal_id)
    if match.state not in ("accepted", "rejected"):
        raise Conflict(
            f"a {match.state} proposal has no decision to undo; only accepted or rejected ones",
            [{"loc": "state", "message": "must be accepted or rejected"}],
        )
    if not can_undo(match, window=window, now=now):
        minutes = round(window.total_seconds() / 60)
        raise Conflict(
            f"the decision can be undone only within {minutes} minute(s) of it",
            [{"loc": "decided_at", "message": f"older than {minutes} minute(s)"}],
        )
    before = _snapshot(match)
    undone = match.state
    match.state, match.decided_at, match.reviewer, match.reject_reason = "proposed", None, None, None
    session.flush()
    audit(session, principal, "match.undo", "match", str(match.id), before=before, after=_snapshot(match))
    need = match.need
    if undone == "accepted" and need.status == "matched":
        still_matched = session.scalar(
            select(Match.id).where(
                Match.need_id == need.id, Match.id != match.id, Match.state.in_(VISIBLE_TO_OWNERS)
            )
        )
        if still_matched is None:
            need.status = "in_review"
            session.flush()
            audit(
                session,
                principal,
                "need.unmatched",
                "need",
                need.id,
                before={"status": "matched"},
                after={"status": "in_review"},
            )
            # Open again: back in the donor view and the open-needs index.
            _commit_and_reflect(session, matching, [need.id])
            _history_moved(session, matching)
            return match
    session.commit()
    _history_moved(session, matching)
    return match


def close_remaining(session: Session, principal: Principal, need_id: str) -> int:
    """Close the undecided proposals of a matched need in one action (the secretariat found
    what the Party needed). Returns how many were closed; audited per proposal."""
    require_staff(principal, "close a need's remaining proposals")
    need = session.get(Need, need_id)
    if need is None:
        raise NotFound(f"no need {need_id!r}")
    if need.status != "matched":
        raise Conflict(
            f"the need is {need.status}: only a matched need's remaining proposals are closed this way",
            [{"loc": "status", "message": "must be matched"}],
        )
    undecided = list(
        session.scalars(select(Match).where(Match.need_id == need.id, Match.state == "proposed"))
    )
    return close_undecided(session, principal, undecided, "need_matched")


def record_outcome(
    session: Session,
    principal: Principal,
    proposal_id: int,
    *,
    outcome: str,
    amount: float | None = None,
    currency: str | None = None,
    note: str | None = None,
) -> Match:
    """Record what came of an introduction: ``agreed``, ``funded`` (with the amount and its
    currency when known), ``declined`` (with the reason in ``note``) or ``no-response``.
    Only for introduced proposals; a later record replaces the earlier one (both audited)."""
    require_staff(principal, "record outcomes")
    match = get_proposal(session, principal, proposal_id)
    problems = []
    if match.state != "introduced":
        raise Conflict(
            f"a {match.state} proposal has no outcome yet: introduce it first",
            [{"loc": "state", "message": "must be introduced"}],
        )
    if outcome not in OUTCOMES:
        problems.append({"loc": "body.outcome", "message": f"one of: {', '.join(OUTCOMES)}"})
    if outcome == "declined" and not (note and note.strip()):
        problems.append({"loc": "body.note", "message": "a declined outcome needs the reason"})
    if amount is not None and outcome != "funded":
        problems.append({"loc": "body.amount", "message": "an amount belongs to a funded outcome only"})
    if (amount is None) != (currency is None):
        problems.append({"loc": "body.currency", "message": "give the amount and its currency together"})
    if problems:
        raise Invalid("the outcome is incomplete or inconsistent", problems)
    before = _snapshot(match)
    match.outcome = outcome
    match.outcome_amount = amount
    match.outcome_currency = currency.upper() if currency else None
    match.outcome_note = note.strip() if note and note.strip() else None
    match.outcome_at = utcnow()
    session.flush()
    audit(session, principal, "match.outcome", "match", str(match.id), before=before, after=_snapshot(match))
    return match


def proposal_record(match: Match, principal: Principal) -> dict[str, Any]:
    """The proposal as ``principal`` may see it.

    * staff: everything, with the score, its explanation and the review fields;
    * the Party and the provider (who see accepted and introduced proposals only): what they
      act on, i.e. the programme's description, link, contact, how and when to apply, the
      eligibility rules the Party meets and the next step, never the engine's internals;
    * a provider sees a confidential need's title and Party, never its text.
    """
    need, offering = match.need, match.offering
    show_description = principal.is_staff or principal.role == "party" or not need.confidential
    record: dict[str, Any] = {
        "id": match.id,
        "state": match.state,
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
        "outcome": _outcome(match),
    }
    if principal.is_staff:
        record.update(
            score=match.score,
            rank=match.rank,
            engine_version=match.engine_version,
            model_version=match.model_version,
            explanation=dict(match.explanation or {}),
            reject_reason=match.reject_reason,
            reviewer=match.reviewer,
            close_reason=match.close_reason,
            closed_at=match.closed_at,
        )
    else:
        record["programme"] = programme_details(offering, need.party)
        record["next_step"] = next_step(match, principal)
    return record


def _outcome(match: Match) -> dict[str, Any] | None:
    if match.outcome is None:
        return None
    return {
        "outcome": match.outcome,
        "amount": match.outcome_amount,
        "currency": match.outcome_currency,
        "note": match.outcome_note,
        "recorded_at": match.outcome_at,
    }


def programme_details(offering: Offering, party: Party) -> dict[str, Any]:
    """What a focal point needs to act on a programme: its description, who runs it, its
    link and contact, how and when to apply, and which of its eligibility rules the Party meets."""
    return {
        "description": offering.description,
        "provider": offering.provider,
        "provider_kind": offering.provider_kind,
        "url": offering.url,
        "contact": offering.contact,
        "how_to_apply": offering.how_to_apply,
        "opens": offering.opens,
        "closes": offering.closes,
        "languages": list(offering.languages or []),
        "funding_min_usd": offering.funding_min_usd,
        "funding_max_usd": offering.funding_max_usd,
        "eligibility_met": eligibility_met(offering, party),
    }


def eligibility_met(offering: Offering, party: Party) -> list[dict[str, str]]:
    """The offering's eligibility rules, each with the Party's value that meets it (an empty
    rule restricts nothing and is not listed)."""
    met = []
    if offering.regions and party.un_region in offering.regions:
        met.append({"rule": "region", "value": party.un_region})
    if offering.countries and party.iso3 in offering.countries:
        met.append({"rule": "country", "value": party.iso3})
    if offering.eligible_status and party.status in offering.eligible_status:
        met.append({"rule": "status", "value": party.status})
    return met


def next_step(match: Match, principal: Principal) -> dict[str, str]:
    """What the reader does next, as a code (for the workbench's own words) and an English text."""
    provider = match.offering.provider
    if match.state == "accepted":
        if principal.role == "provider":
            return {
                "code": "await_introduction_provider",
                "text": "The secretariat will introduce you to the Party's focal point.",
            }
        return {
            "code": "await_introduction",
            "text": f"The secretariat will introduce you to {provider}. Meanwhile, read the programme's "
            "page and check how and when to apply.",
        }
    if match.state == "introduced":
        if principal.role == "provider":
            return {
                "code": "follow_up_provider",
                "text": "Contact the Party's focal point to agree the next steps.",
            }
        return {
            "code": "apply",
            "text": f"You have been introduced to {provider}: contact them and apply as the programme describes.",
        }
    return {"code": "none", "text": "Nothing to do on this proposal."}
