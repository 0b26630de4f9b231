"""The job queue: each job runs once however many workers race for it; a dead worker's
claim expires; failures are retried and finally kept with their error."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from matcher.services import jobs, leases
from matcher.store.models import Job, Party, utcnow


def _queue(sessions: sessionmaker[Session], count: int) -> list[int]:
    with sessions() as session:
        ids = [jobs.enqueue(session, "count", f"item-{number}").id for number in range(count)]
        session.commit()
    return ids


def test_each_job_runs_once_when_workers_race(sessions: sessionmaker[Session]) -> None:
    ids = _queue(sessions, 30)
    ran: list[str] = []
    lock = threading.Lock()

    def handler(session: Session, entity_id: str) -> None:
        with lock:
            ran.append(entity_id)

    def worker(name: str) -> None:
        with sessions() as session:
            jobs.run(session, ids, name, {"count": handler})

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(ran) == sorted(f"item-{number}" for number in range(30))  # each exactly once
    with sessions() as session:
        assert jobs.pending_count(session) == 0


def test_a_job_born_claimed_is_left_to_its_worker_until_the_claim_expires(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        job = jobs.enqueue(session, "count", "mine", claim_for="first")
        session.commit()
        job_id = job.id
        assert jobs.due(session) == []  # no other worker takes it
        assert jobs.run(session, [job_id], "second", {"count": lambda s, e: None}) == 0
        # The first worker died: its claim runs out and anyone may take the job.
        session.execute(
            update(Job).where(Job.id == job_id).values(claimed_until=utcnow() - dt.timedelta(seconds=1))
        )
        session.commit()
        assert jobs.due(session) == [job_id]
        assert jobs.run(session, [job_id], "second", {"count": lambda s, e: None}) == 1


def test_identical_waiting_jobs_are_merged(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        first = jobs.enqueue(session, "count", "same")
        second = jobs.enqueue(session, "count", "same")
        other = jobs.enqueue(session, "count", "other")
        session.commit()
        assert first.id == second.id != other.id


def test_a_failing_job_is_retried_later_and_kept_with_its_error(sessions: sessionmaker[Session]) -> None:
    (job_id,) = _queue(sessions, 1)

    def broken(session: Session, entity_id: str) -> None:
        raise RuntimeError("database went away")

    with sessions() as session:
        assert jobs.run(session, [job_id], "w", {"count": broken}) == 0
        job = session.get(Job, job_id, populate_existing=True)
        assert job is not None and job.done_at is None and job.attempts == 1
        assert job.error == "RuntimeError: database went away" and job.run_after > utcnow()
        for _ in range(jobs.MAX_ATTEMPTS - 1):  # pretend each retry is due now
            session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow()))
            session.commit()
            jobs.run(session, [job_id], "w", {"count": broken})
        job = session.scalars(
            select(Job).where(Job.id == job_id).execution_options(populate_existing=True)
        ).one()
        assert (
            job.done_at is not None
            and job.attempts == jobs.MAX_ATTEMPTS
            and "database went away" in (job.error or "")
        )


def test_a_job_that_meets_a_concurrent_write_runs_again_at_once(sessions: sessionmaker[Session]) -> None:
    """Two jobs both find a row missing and insert it: the second insert conflicts with the
    first one's commit, and its job runs again at once (finding the row), not after a retry
    delay with an error on record."""
    ids = _queue(sessions, 2)
    both_read = threading.Barrier(2, timeout=30)
    calls: list[str] = []

    def add_party(session: Session, entity_id: str) -> None:
        calls.append(entity_id)
        missing = session.get(Party, "XQZ") is None
        if calls.count(entity_id) == 1:
            both_read.wait()  # each job has looked before either writes
        if missing:
            session.add(Party(iso3="XQZ", name_en="Race", un_region="Africa", status="developing"))
            session.flush()

    ran: list[int] = []

    def worker(job_id: int) -> None:
        with sessions() as session:
            ran.append(jobs.run(session, [job_id], f"worker-{job_id}", {"count": add_party}))

    threads = [threading.Thread(target=worker, args=(job_id,)) for job_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert ran == [1, 1]
    assert set(calls) == {"item-0", "item-1"}
    assert len(calls) == 3  # one of the two ran again, once
    with sessions() as session:
        assert jobs.pending_count(session) == 0
        finished = session.scalars(select(Job).where(Job.id.in_(ids))).all()
        assert all(job.error is None and job.attempts == 1 for job in finished)
        assert session.get(Party, "XQZ") is not None


def test_a_lease_has_one_holder_at_a_time(sessions: sessionmaker[Session]) -> None:
    minute = dt.timedelta(minutes=1)
    with sessions() as session:
        assert leases.try_acquire(session, "notifications", "a", minute)
        assert not leases.try_acquire(session, "notifications", "b", minute)
        assert leases.try_acquire(session, "notifications", "a", minute)  # renewal
        leases.release(session, "notifications", "a")
        assert leases.try_acquire(session, "notifications", "b", minute)
