"""Background jobs queued by writes, each run once however many workers there are.

A service that writes a need or an offering queues the follow-up work (re-matching) in the
same transaction, so the work is never lost: if the process dies after the commit, another
worker finds the job. Running a job starts with a *claim*, one conditional UPDATE that only
one process can win (``claimed_until`` is a lease: a claim by a process that died expires
and the job is taken again). A job that fails is retried with a growing delay and, after
``MAX_ATTEMPTS``, left with its error for an operator to read.

This module is the queue only; what a job kind does is given by the caller
(``matcher.services.automatic``), which keeps the queue free of the services it drives.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matcher.store.models import Job, utcnow

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
CLAIM_FOR = dt.timedelta(minutes=5)  # longer than any job takes; a dead worker's claim expires

Handler = Callable[[Session, str], None]


def enqueue(session: Session, kind: str, entity_id: str, *, claim_for: str | None = None) -> Job:
    """Queue ``kind`` for ``entity_id`` in the caller's transaction (flushed, so it has an id).
    An identical job still waiting is reused: ten edits of one need re-match it once.

    ``claim_for`` names a worker that will run the job itself right after the commit: the job
    is born claimed by it, so no other worker races it to the job (the claim expires, and
    anyone takes the job, if that worker dies first)."""
    waiting = session.scalars(
        select(Job).where(
            Job.kind == kind, Job.entity_id == entity_id, Job.done_at.is_(None), Job.claimed_by.is_(None)
        )
    ).first()
    job = waiting or Job(kind=kind, entity_id=entity_id, attempts=0)
    if claim_for is not None:
        job.claimed_by, job.claimed_until = claim_for, utcnow() + CLAIM_FOR
    if waiting is None:
        session.add(job)
    session.flush()
    return job


def due(session: Session, limit: int = 50) -> list[int]:
    """Ids of jobs ready to run and not claimed by a live worker, oldest first."""
    now = utcnow()
    return list(
        session.scalars(
            select(Job.id)
            .where(
                Job.done_at.is_(None),
                Job.run_after <= now,
                or_(Job.claimed_until.is_(None), Job.claimed_until < now),
            )
            .order_by(Job.id)
            .limit(limit)
        )
    )


def claim(session: Session, job_id: int, worker: str) -> Job | None:
    """Claim one job for ``worker`` (or confirm its own claim); None when it is done, not due
    or claimed by another live worker. Commits the claim (other workers must see it)."""
    now = utcnow()
    claimed = session.execute(
        update(Job)
        .where(
            Job.id == job_id,
            Job.done_at.is_(None),
            Job.run_after <= now,
            or_(Job.claimed_until.is_(None), Job.claimed_until < now, Job.claimed_by == worker),
        )
        .values(claimed_by=worker, claimed_until=now + CLAIM_FOR, attempts=Job.attempts + 1)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(Job, job_id, populate_existing=True)


def run(session: Session, job_ids: Iterable[int], worker: str, handlers: Mapping[str, Handler]) -> int:
    """Claim and run each of ``job_ids``; returns how many this worker ran. Each job's work
    commits with the job marked done, so a job is either done with its effects or not done."""
    ran = 0
    for job_id in job_ids:
        job = claim(session, job_id, worker)
        if job is None:
            continue
        handler = handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            _run_and_finish(session, job, handler)
            ran += 1
        except Exception as problem:  # recorded on the job and retried; never lost
            session.rollback()
            _failed(session, job_id, problem)
    return ran


def _run_and_finish(session: Session, job: Job, handler: Handler) -> None:
    """Run ``handler`` and mark ``job`` done in one commit. A unique-key conflict with a
    transaction that committed meanwhile (two jobs re-matching one need at the same moment
    both propose one pairing) is run again at once, once: the second run reads the rows the
    other wrote. Waiting for the retry delay instead left the need's proposals stale for
    seconds."""
    for attempt in range(2):
        try:
            handler(session, job.entity_id)
            job.done_at = utcnow()
            job.error = None
            session.commit()
            return
        except IntegrityError:
            session.rollback()
            if attempt == 1:
                raise
            logger.info(
                "job %s (%s %s) met a concurrent write; running it again", job.id, job.kind, job.entity_id
            )


def _failed(session: Session, job_id: int, problem: Exception) -> None:
    job = session.get(Job, job_id, populate_existing=True)
    if job is None:
        return
    message = f"{type(problem).__name__}: {problem}"
    job.error = message[:2000]
    job.claimed_by = None
    job.claimed_until = None
    if job.attempts >= MAX_ATTEMPTS:
        job.done_at = utcnow()
        logger.error(
            "job %s (%s %s) failed %d times, given up: %s",
            job.id,
            job.kind,
            job.entity_id,
            job.attempts,
            message,
        )
    else:
        job.run_after = utcnow() + dt.timedelta(seconds=2**job.attempts)
        logger.warning("job %s (%s %s) failed, will retry: %s", job.id, job.kind, job.entity_id, message)
    session.commit()


def pending_count(session: Session) -> int:
    """Jobs not yet done (queued, claimed or waiting for a retry)."""
    return session.scalar(select(func.count()).select_from(Job).where(Job.done_at.is_(None))) or 0
