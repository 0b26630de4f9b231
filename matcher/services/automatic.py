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
import math
import threading
from collections.abc import Callable, Iterable, Mapping

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
# A proposal whose offering's score moved less than this keeps its place: the donor view's
# scores agree with the rankings' to about 1e-5 (BM25's corpus statistics drift slightly).
SCORE_MOVED = 1e-4
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
    proposal of it whose score moved (or that it no longer fits), and those whose ranking it
    now enters (it scores above their weakest proposal, or they have fewer than ``k``).

    The offering's score for every open need comes from the donor view's one vectorised pass
    (no ranking, no query per need); only the needs it affects are then read and re-matched,
    so the cost follows what changed, not the number of open needs or offerings."""
    k = matching.proposals_per_need
    held = dict(
        session.execute(
            select(Match.need_id, Match.score)
            .join(Need, Need.id == Match.need_id)
            .where(
                Match.offering_id == offering_id,
                Match.state == "proposed",
                Need.status.in_(OPEN_NEED_STATUSES),
            )
        ).all()
    )
    scores: dict[str, float] = {}
    offering = session.get(Offering, offering_id)
    if offering is not None and offering.active:
        page = matching.donor_view(session, offering_id, limit=max(matching.open_needs, 1), explained=False)
        scores = {match.need_id: match.score for match in page.matches}
    affected = {
        need_id
        for need_id, score in held.items()
        if abs(scores.get(need_id, -math.inf) - score) > SCORE_MOVED
    }
    entering = {need_id: score for need_id, score in scores.items() if need_id not in held}
    floors = _weakest_proposals(session, entering, k)
    affected.update(need_id for need_id, score in entering.items() if score > floors.get(need_id, -math.inf))
    for need_id in sorted(affected):
        rematch_need(session, matching, need_id)


def _weakest_proposals(session: Session, scores: Mapping[str, float], k: int) -> dict[str, float]:
    """Per need of ``scores`` with at least ``k`` undecided proposals: the lowest of their
    scores (a need with fewer has room, and is left out). Asked only for the needs whose
    score could matter: one grouped query per 500 of them."""
    floors: dict[str, float] = {}
    ids = sorted(scores)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Match.need_id, func.min(Match.score), func.count())
            .where(Match.need_id.in_(ids[start : start + 500]), Match.state == "proposed")
            .group_by(Match.need_id)
        )
        for need_id, lowest, count in rows:
            if count >= k:
                floors[need_id] = float(lowest)
    return floors


def handlers(matching: MatchingService) -> dict[str, jobs.Handler]:
    """What each job kind does; every job first brings this process to the database's
    catalogue version (another worker may have written since), so it never proposes an
    offering that was deactivated elsewhere."""

    def fresh(handler: Callable[[Session, MatchingService, str], None]) -> jobs.Handler:
        def run(session: Session, entity_id: str) -> None:
            matching.sync(session)
            handler(session, matching, entity_id)

        return run

    return {MATCH_NEED: fresh(rematch_need), MATCH_AROUND_OFFERING: fresh(rematch_around_offering)}


def run_now(session: Session, matching: MatchingService, queued: Iterable[Job]) -> int:
    """Run jobs this worker just queued and committed (unless another worker got there first),
    then reflect what they wrote (proposals are logged catalogue changes too)."""
    ran = jobs.run(session, [job.id for job in queued], WORKER, handlers(matching))
    if ran:
        matching.sync(session)
    return ran


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
            if ran:
                self.matching.sync(session)
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
