"""Expressions of interest: a provider says one of its programmes could serve an open need;
the secretariat sees it on the need and in the queue.

A provider may express interest only through its own active offering, only in an open need
it may see (confidential needs are hidden from providers), and once per pairing (a second
call updates the note). Staff may record one on a provider's behalf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from matcher.services.access import Conflict, Forbidden, NotFound, Principal, audit, require_staff
from matcher.services.needs import get_need
from matcher.services.notifications import queue_notice
from matcher.services.offerings import get_offering
from matcher.store.models import Interest
from matcher.taxonomy import OPEN_NEED_STATUSES


def express_interest(
    session: Session, principal: Principal, offering_id: str, need_id: str, note: str | None = None
) -> Interest:
    """Record (or update the note of) the offering's interest in the need, in the caller's
    transaction; audited."""
    offering = get_offering(session, principal, offering_id)
    if not (
        principal.is_staff or (principal.role == "provider" and principal.provider == offering.provider_id)
    ):
        raise Forbidden("only the programme's provider or the secretariat can express interest for it")
    if not offering.active:
        raise Conflict("the programme is inactive: reactivate it before expressing interest")
    need = get_need(session, principal, need_id)  # a provider cannot reach a confidential need
    if need.status not in OPEN_NEED_STATUSES:
        raise Conflict(f"the need is {need.status}: interest is for open needs only")
    clean = note.strip() if note and note.strip() else None
    interest = session.scalars(
        select(Interest).where(Interest.need_id == need.id, Interest.offering_id == offering.id)
    ).first()
    if interest is None:
        interest = Interest(need_id=need.id, offering_id=offering.id, actor=principal.actor, note=clean)
        session.add(interest)
        session.flush()
        audit(session, principal, "interest.create", "need", need.id, after=interest_record(interest))
        queue_notice(session, "interest.expressed", interest=interest)
    elif interest.note != clean:
        before = interest_record(interest)
        interest.note = clean
        session.flush()
        audit(
            session,
            principal,
            "interest.update",
            "need",
            need.id,
            before=before,
            after=interest_record(interest),
        )
    return interest


def interests_by_need(
    session: Session, principal: Principal, need_ids: Sequence[str]
) -> dict[str, list[Interest]]:
    """Every expression of interest in each of ``need_ids`` (secretariat only), oldest first."""
    require_staff(principal, "read expressions of interest")
    grouped: dict[str, list[Interest]] = {}
    if need_ids:
        query = (
            select(Interest)
            .where(Interest.need_id.in_(list(need_ids)))
            .order_by(Interest.created_at, Interest.id)
        )
        for interest in session.scalars(query):
            grouped.setdefault(interest.need_id, []).append(interest)
    return grouped


def interests_of_offering(session: Session, principal: Principal, offering_id: str) -> set[str]:
    """Ids of the needs the offering has expressed interest in (its provider or staff)."""
    offering = get_offering(session, principal, offering_id)
    if not (
        principal.is_staff or (principal.role == "provider" and principal.provider == offering.provider_id)
    ):
        raise NotFound(f"no offering {offering_id!r}")
    return set(session.scalars(select(Interest.need_id).where(Interest.offering_id == offering.id)))


def interest_record(interest: Interest) -> dict[str, Any]:
    return {
        "need_id": interest.need_id,
        "offering_id": interest.offering_id,
        "note": interest.note,
        "created_at": interest.created_at.isoformat() if interest.created_at else None,
    }
