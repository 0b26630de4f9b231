"""Automatic matching: every write that can change a need's proposals queues a job in its
own transaction, and the job brings the proposals up to date, once.

* a need filed or changed → ``match_need``: its proposals follow its new ranking;
* a need withdrawn or closed → its undecided proposals are closed in the write itself;
* an offering added or changed → ``match_around_offering``: the open needs that hold an
  undecided proposal of it, or whose ranking it now enters, are re-matched;
* an offering deactivated → its undecided proposals are closed in the write itself, and the
  needs that lost one are re-matched (``match_need``) to fill the slot.

The worker that made the write runs the jobs it queued right after its commit (so a caller
sees the proposals in the response's wake); a background ``JobRunner`` in every
``matcher serve`` process picks up whatever is left (another process died, a retry is
due, an import filed needs). Claims make each job run once across all workers. Decisions
are never touched: the run rules of ``review.match_need`` apply.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from matcher.services import jobs
from matcher.services.access import SYSTEM, audit
from matcher.services.leases import worker_name
from matcher.services.matching import MatchingService
from matcher.services.review import match_need
from matcher.store.models import Job, Match, Need, Offering, utcnow
from matcher.taxonomy import OPEN_NEED_STATUSES

logger = logging.getLogger(__name__)

MATCH_NEED = "match_need"
MATCH_AROUND_OFFERING = "match_around_offering"
# One name per process: claims by a dead process expire and are taken again.
WORKER = worker_name()


def queue_need(session: Session, need: Need) -> Job:
    """Queue a re-match of ``need`` that this worker runs right after the commit (``run_now``)."""
    return jobs.enqueue(session, MATCH_NEED, need.id, claim_for=WORKER)


def queue_offering(session: Session, offering: Offering) -> Job:
    """Queue a re-match around ``offering`` that this worker runs right after the commit."""
    return jobs.enqueue(session, MATCH_AROUND_OFFERING, offering.id, claim_for=WORKER)


def rematch_need(session: Session, matching: MatchingService, need_id: str) -> None:
    """Bring one need's proposals up to date (nothing to do once it left the open states)."""
    need = session.get(Need, need_id)
    if need is None or need.status not in OPEN_NEED_STATUSES:
        return
    report = match_need(
        session, matching, SYSTEM, need, k=matching.proposals_per_need, fit_threshold=matching.fit_threshold
    )
    if report.added or report.dropped:
        audit(session, SYSTEM, "matching.auto", "need", need.id, after=report.as_dict())


def rematch_around_offering(session: Session, matching: MatchingService, offering_id: str) -> None:
    """Re-match the open needs this offering's change can affect: those holding an undecided
    proposal of it (its score moved), and those whose ranking it now enters (it scores above
    their weakest proposal, or they have fewer than ``k``)."""
    k = matching.proposals_per_need
    affected = set(
        session.scalars(
            select(Match.need_id)
            .join(Need, Need.id == Match.need_id)
            .where(
                Match.offering_id == offering_id,
                Match.state == "proposed",
                Need.status.in_(OPEN_NEED_STATUSES),
            )
        )
    )
    offering = session.get(Offering, offering_id)
    if offering is not None and offering.active:
        open_needs = (
            session.scalar(select(func.count()).select_from(Need).where(Need.status.in_(OPEN_NEED_STATUSES)))
            or 0
        )
        scored = matching.rank_needs_for_offering(session, offering_id, k=max(open_needs, 1))
        weakest = _weakest_proposals(session, [item.need_id for item in scored], k)
        for item in scored:
            floor = weakest.get(item.need_id)
            if floor is None or item.score > floor:
                affected.add(item.need_id)
    for need_id in sorted(affected):
        rematch_need(session, matching, need_id)


def _weakest_proposals(session: Session, need_ids: Iterable[str], k: int) -> dict[str, float]:
    """Per need with at least ``k`` undecided proposals: the lowest of their scores (a need
    with fewer has room, and is left out)."""
    scores: dict[str, list[float]] = {}
    ids = list(need_ids)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Match.need_id, Match.score).where(
                Match.need_id.in_(ids[start : start + 500]), Match.state == "proposed"
            )
        )
        for need_id, score in rows:
            scores.setdefault(need_id, []).append(score)
    return {need_id: min(values) for need_id, values in scores.items() if len(values) >= k}


def handlers(matching: MatchingService) -> dict[str, jobs.Handler]:
    return {
        MATCH_NEED: lambda session, need_id: rematch_need(session, matching, need_id),
        MATCH_AROUND_OFFERING: lambda session, offering_id: rematch_around_offering(
            session, matching, offering_id
        ),
    }


def run_now(session: Session, matching: MatchingService, queued: Iterable[Job]) -> int:
    """Run jobs this worker just queued and committed (unless another worker got there first)."""
    return jobs.run(session, [job.id for job in queued], WORKER, handlers(matching))


class JobRunner:
    """A background thread that runs due jobs every ``poll_seconds`` (and at once when
    ``wake`` is called), for jobs no request ran: left by a process that died, retries,
    imports. Start it from the app's lifespan; ``stop`` waits for the current job."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        matching: MatchingService,
        poll_seconds: float = 2.0,
        daily: Callable[[Session, dt.date], object] | None = None,
    ) -> None:
        self.sessions = sessions
        self.matching = matching
        self.poll_seconds = poll_seconds
        self.daily = daily  # offered each new day (UTC); it decides whether this process runs it
        self._last_day: dt.date | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="matcher-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def wake(self) -> None:
        self._wake.set()

    def drain(self) -> int:
        """Run every due job now, in the caller's thread; returns how many ran."""
        ran = 0
        with self.sessions() as session:
            while due := jobs.due(session):
                done = jobs.run(session, due, WORKER, handlers(self.matching))
                ran += done
                if done == 0:
                    break
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.drain()
                today = utcnow().date()
                if self.daily is not None and today != self._last_day:
                    with self.sessions() as session:
                        self.daily(session, today)
                    self._last_day = today
            except Exception:  # the loop must outlive a bad moment (database restart, say)
                logger.exception("background jobs: a pass failed; trying again shortly")
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
