"""The lifecycle of needs and proposals over time: reconfirming idle needs, closing the
ones nobody reconfirms, and closing proposals of programmes whose call has closed.

``run_lifecycle`` does one pass (``matcher lifecycle run``); every ``matcher serve``
process offers to run it once a day, and a row per day in ``worker_leases`` makes sure
only one of them does.

* an open need with no change for ``reconfirm_after_days`` is asked to reconfirm (the
  Party is told); reconfirming (``reconfirm_need``) counts as a change;
* a need asked ``grace_days`` ago and not reconfirmed since is closed, and its undecided
  proposals with it;
* an offering past its ``closes`` date has its undecided proposals closed (it is no longer
  ranked: eligibility excludes it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matcher.services.access import SYSTEM, Conflict, Forbidden, Principal, audit
from matcher.services.needs import get_need
from matcher.services.notifications import queue_notice
from matcher.services.review import close_undecided
from matcher.store.models import Match, Need, Offering, WorkerLease, utcnow
from matcher.taxonomy import OPEN_NEED_STATUSES


@dataclass
class LifecycleReport:
    asked_to_reconfirm: int = 0
    needs_closed: int = 0
    proposals_closed: int = 0

    def summary(self) -> str:
        return (
            f"lifecycle: {self.asked_to_reconfirm} need(s) asked to reconfirm, {self.needs_closed} closed, "
            f"{self.proposals_closed} proposal(s) closed"
        )


def reconfirm_need(session: Session, principal: Principal, need_id: str) -> Need:
    """The Party (or staff) confirms the need still stands; in the caller's transaction."""
    need = get_need(session, principal, need_id)
    if principal.role == "provider":
        raise Forbidden("only the Party or the secretariat can reconfirm a need")
    if need.status not in OPEN_NEED_STATUSES:
        raise Conflict(f"the need is {need.status}: only an open need is reconfirmed")
    need.reconfirmed_at = utcnow()
    need.reconfirm_requested_at = None
    session.flush()
    audit(
        session,
        principal,
        "need.reconfirm",
        "need",
        need.id,
        after={"reconfirmed_at": need.reconfirmed_at.isoformat()},
    )
    return need


def run_lifecycle(
    session: Session,
    *,
    reconfirm_after_days: int,
    grace_days: int,
    now: dt.datetime | None = None,
) -> LifecycleReport:
    """One pass, in the caller's transaction (the caller commits)."""
    now = now or utcnow()
    report = LifecycleReport()
    idle_since = now - dt.timedelta(days=reconfirm_after_days)
    asked_before = now - dt.timedelta(days=grace_days)
    open_needs = list(
        session.scalars(select(Need).where(Need.status.in_(OPEN_NEED_STATUSES)).order_by(Need.id))
    )
    for need in open_needs:
        if need.reconfirm_requested_at is None:
            if need.updated_at <= idle_since:
                need.reconfirm_requested_at = now
                audit(
                    session,
                    SYSTEM,
                    "need.reconfirm_requested",
                    "need",
                    need.id,
                    after={"idle_since": need.updated_at.isoformat()},
                )
                queue_notice(session, "need.idle", need=need, details={"days": reconfirm_after_days})
                report.asked_to_reconfirm += 1
        elif need.reconfirm_requested_at <= asked_before:
            before = need.status
            need.status = "closed"
            audit(
                session,
                SYSTEM,
                "need.close",
                "need",
                need.id,
                before={"status": before},
                after={"status": "closed", "reason": "not reconfirmed"},
            )
            queue_notice(session, "need.status", need=need, details={"from": before, "to": "closed"})
            undecided = list(
                session.scalars(select(Match).where(Match.need_id == need.id, Match.state == "proposed"))
            )
            report.proposals_closed += close_undecided(session, SYSTEM, undecided, "need_closed")
            report.needs_closed += 1
    past = list(
        session.scalars(
            select(Match)
            .join(Offering, Offering.id == Match.offering_id)
            .where(Match.state == "proposed", Offering.closes.is_not(None), Offering.closes < now.date())
        )
    )
    report.proposals_closed += close_undecided(session, SYSTEM, past, "offering_closed")
    session.flush()
    return report


def daily_pass(
    session: Session, day: dt.date, *, reconfirm_after_days: int, grace_days: int
) -> LifecycleReport | None:
    """The day's pass, if no other process has run it yet (commits); None when it had."""
    if not claim_day(session, day):
        return None
    report = run_lifecycle(session, reconfirm_after_days=reconfirm_after_days, grace_days=grace_days)
    session.commit()
    return report


def claim_day(session: Session, day: dt.date) -> bool:
    """True for the first process that claims ``day``'s lifecycle pass (commits the claim)."""
    session.add(WorkerLease(name=f"lifecycle:{day.isoformat()}", holder="lifecycle", expires_at=utcnow()))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True
