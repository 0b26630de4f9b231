"""The secretariat's case work: the review queue grouped by need (a *case*: one need and
its proposals), in priority order, the officer a case is assigned to, internal notes, and
who did what (a key's label and role) for readable histories.

Priority order: needs of least developed countries and small island developing States
first, then the nearest deadline (needs without one after those with one), then the
oldest need. A page of cases costs a fixed number of queries (count, needs, proposals,
assignments, note counts), however many cases it shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from matcher.services.access import Invalid, Principal, audit, require_staff
from matcher.services.needs import get_need
from matcher.services.paging import Page, paginate
from matcher.services.review import ProposalFilters, proposal_conditions
from matcher.store.models import ApiKey, CaseAssignment, CaseNote, Match, Need, Offering, Party, utcnow

MAX_NOTE = 4000
UNASSIGNED = "none"


@dataclass(frozen=True)
class Actor:
    """Who acted: the audit trail's actor string, the key's label (when the reader may see
    it) and role. ``system`` is the server's own work (automatic matching, the lifecycle)."""

    actor: str
    role: str | None
    label: str | None = None
    key_id: str | None = None


@dataclass(frozen=True)
class CaseFilters:
    """The queue's filters (``proposals``) plus the case's officer: a staff key id, or
    ``"none"`` for cases nobody is assigned to."""

    proposals: ProposalFilters = field(default_factory=ProposalFilters)
    officer: str | None = None


@dataclass
class Case:
    need: Need
    proposals: list[Match]
    officer: Actor | None = None
    assigned_at: dt.datetime | None = None
    notes: int = 0

    @property
    def priority(self) -> bool:
        """The Party is a least developed country or a small island developing State."""
        return bool(self.need.party.ldc or self.need.party.sids)


def _priority_order() -> tuple[Any, ...]:
    return (
        case((or_(Party.ldc.is_(True), Party.sids.is_(True)), 0), else_=1),
        case((Need.deadline.is_(None), 1), else_=0),
        Need.deadline,
        Need.created_at,
        Need.id,
    )


def list_cases(
    session: Session, principal: Principal, filters: CaseFilters, *, limit: int, offset: int
) -> Page[Case]:
    """One page of cases: the needs with at least one proposal passing ``filters``, in
    priority order, each with those proposals (best score first), its officer and the number
    of internal notes. Secretariat only."""
    require_staff(principal, "read the review queue")
    conditions = proposal_conditions(principal, filters.proposals)
    with_proposals = (
        select(Match.need_id)
        .join(Need, Need.id == Match.need_id)
        .join(Offering, Offering.id == Match.offering_id)
        .join(Party, Party.iso3 == Need.party_iso3)
        .where(*conditions)
    )
    query = (
        select(Need)
        .join(Party, Party.iso3 == Need.party_iso3)
        .options(contains_eager(Need.party))
        .where(Need.id.in_(with_proposals))
    )
    if filters.officer == UNASSIGNED:
        query = query.where(~Need.id.in_(select(CaseAssignment.need_id)))
    elif filters.officer:
        query = query.where(
            Need.id.in_(
                select(CaseAssignment.need_id).where(CaseAssignment.officer_key_id == filters.officer)
            )
        )
    page = paginate(session, query.order_by(*_priority_order()), limit, offset)
    needs: Sequence[Need] = page.items
    ids = [need.id for need in needs]
    cases = {need.id: Case(need=need, proposals=[]) for need in needs}
    if ids:
        proposals = (
            select(Match)
            .join(Need, Need.id == Match.need_id)
            .join(Offering, Offering.id == Match.offering_id)
            .join(Party, Party.iso3 == Need.party_iso3)
            .options(contains_eager(Match.offering), contains_eager(Match.need))
            .where(Match.need_id.in_(ids), *conditions)
            .order_by(Match.score.desc(), Match.id)
        )
        for match in session.scalars(proposals).unique():
            cases[match.need_id].proposals.append(match)
        assigned = session.execute(
            select(CaseAssignment, ApiKey)
            .join(ApiKey, ApiKey.id == CaseAssignment.officer_key_id)
            .where(CaseAssignment.need_id.in_(ids))
        )
        for assignment, key in assigned:
            cases[assignment.need_id].officer = _actor_of(key)
            cases[assignment.need_id].assigned_at = assignment.assigned_at
        counted = session.execute(
            select(CaseNote.need_id, func.count()).where(CaseNote.need_id.in_(ids)).group_by(CaseNote.need_id)
        )
        for need_id, count in counted:
            cases[need_id].notes = int(count)
    return Page([cases[need_id] for need_id in ids], page.total, page.limit, page.offset)


# ---------------------------------------------------------------------------- officers


def _actor_of(key: ApiKey) -> Actor:
    return Actor(actor=f"key:{key.id}", role=key.role, label=key.label, key_id=key.id)


def list_officers(session: Session, principal: Principal) -> list[Actor]:
    """The staff keys a case can be assigned to (secretariat and admin, not revoked)."""
    require_staff(principal, "assign cases")
    keys = session.scalars(
        select(ApiKey)
        .where(ApiKey.role.in_(("secretariat", "admin")), ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.label, ApiKey.id)
    )
    return [_actor_of(key) for key in keys]


def assignment_of(session: Session, principal: Principal, need_id: str) -> tuple[Actor, dt.datetime] | None:
    """The officer a need's case is assigned to, and since when (secretariat only)."""
    require_staff(principal, "read case assignments")
    found = session.execute(
        select(CaseAssignment, ApiKey)
        .join(ApiKey, ApiKey.id == CaseAssignment.officer_key_id)
        .where(CaseAssignment.need_id == need_id)
    ).first()
    if found is None:
        return None
    assignment, key = found
    return _actor_of(key), assignment.assigned_at


def assign_case(
    session: Session, principal: Principal, need_id: str, officer_key_id: str | None
) -> CaseAssignment | None:
    """Assign the need's case to a staff key (``None`` unassigns it), audited as
    ``case.assign`` with the officer before and after. In the caller's transaction."""
    need = get_need(session, principal, need_id)
    require_staff(principal, "assign cases")
    current = session.get(CaseAssignment, need.id)
    before = current.officer_key_id if current is not None else None
    if officer_key_id:
        key = session.get(ApiKey, officer_key_id)
        if key is None or key.role not in ("secretariat", "admin") or key.revoked_at is not None:
            raise Invalid(
                f"{officer_key_id!r} is not a current secretariat key",
                [{"loc": "body.officer", "message": "a secretariat or admin key id that is not revoked"}],
            )
    if before == (officer_key_id or None):
        return current
    if officer_key_id is None:
        assert current is not None
        session.delete(current)
        current = None
    elif current is None:
        current = CaseAssignment(need_id=need.id, officer_key_id=officer_key_id, assigned_by=principal.actor)
        session.add(current)
    else:
        current.officer_key_id, current.assigned_by = officer_key_id, principal.actor
        current.assigned_at = utcnow()
    session.flush()
    audit(
        session,
        principal,
        "case.assign",
        "need",
        need.id,
        before={"officer": before},
        after={"officer": officer_key_id or None},
    )
    return current


# ---------------------------------------------------------------------------- notes


def add_note(session: Session, principal: Principal, need_id: str, text: str) -> CaseNote:
    """An internal note on the need's case (secretariat only; never shown to the Party or a
    provider), audited as ``case.note``. In the caller's transaction."""
    need = get_need(session, principal, need_id)
    require_staff(principal, "write internal notes")
    body = (text or "").strip()
    if not body or len(body) > MAX_NOTE:
        raise Invalid(
            f"a note has 1 to {MAX_NOTE} characters",
            [{"loc": "body.text", "message": f"1 to {MAX_NOTE} characters"}],
        )
    note = CaseNote(need_id=need.id, author=principal.actor, body=body)
    session.add(note)
    session.flush()
    audit(session, principal, "case.note", "need", need.id, after={"note": note.id, "text": body})
    return note


def list_notes(session: Session, principal: Principal, need_id: str) -> list[CaseNote]:
    """The need's internal notes, oldest first (secretariat only)."""
    need = get_need(session, principal, need_id)
    require_staff(principal, "read internal notes")
    return list(session.scalars(select(CaseNote).where(CaseNote.need_id == need.id).order_by(CaseNote.id)))


# ---------------------------------------------------------------------------- actors


def describe_actors(session: Session, principal: Principal, actors: Iterable[str]) -> dict[str, Actor]:
    """Each audit actor (``key:<id>``, ``system``...) as a label and a role, from one query.
    Staff read every key's label; anyone else reads only their own key's label (a Party
    learns that the secretariat acted, not which officer)."""
    wanted = {actor for actor in actors if actor}
    key_ids = {actor.removeprefix("key:") for actor in wanted if actor.startswith("key:")}
    keys = {key.id: key for key in session.scalars(select(ApiKey).where(ApiKey.id.in_(key_ids)))}
    described: dict[str, Actor] = {}
    for actor in wanted:
        key = keys.get(actor.removeprefix("key:")) if actor.startswith("key:") else None
        if key is None:
            system = actor in ("system", "key:system")  # the server's own work (SYSTEM)
            described[actor] = Actor(actor=actor, role="system" if system else None)
            continue
        shown = principal.is_staff or key.id == principal.key_id
        described[actor] = Actor(
            actor=actor, role=key.role, label=key.label if shown else None, key_id=key.id
        )
    return described


def note_author(session: Session, principal: Principal, notes: Sequence[CaseNote]) -> dict[str, Actor]:
    """The authors of ``notes``, described (one query)."""
    return describe_actors(session, principal, [note.author for note in notes])
