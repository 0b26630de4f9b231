"""Named leases in the database, so that a task meant to run once across every worker
(sending notifications, the daily lifecycle) runs in one process at a time.

A lease is a row (name, holder, expiry). Taking it is one conditional UPDATE (free, expired,
or already ours) or, the first time, an INSERT that only one process can win; both are
atomic on SQLite and PostgreSQL, so no two holders ever overlap while the lease is valid.
A holder renews before the expiry; a holder that dies simply lets it run out.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matcher.store.models import WorkerLease, utcnow


def worker_name() -> str:
    """A name unique to this process (host, pid and a random part, as pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def try_acquire(session: Session, name: str, holder: str, ttl: dt.timedelta) -> bool:
    """Take or renew the lease ``name`` for ``ttl``; False when another holder has it.
    Commits (a lease must be visible to other processes at once)."""
    now = utcnow()
    taken = session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, or_(WorkerLease.holder == holder, WorkerLease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        session.commit()
        return True
    session.rollback()
    if session.get(WorkerLease, name) is not None:
        return False
    session.add(WorkerLease(name=name, holder=holder, expires_at=now + ttl))
    try:
        session.commit()
    except IntegrityError:  # another process inserted it first
        session.rollback()
        return False
    return True


def release(session: Session, name: str, holder: str) -> None:
    """Give the lease up at once (only if ``holder`` still has it). Commits."""
    session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, WorkerLease.holder == holder)
        .values(expires_at=utcnow() - dt.timedelta(seconds=1))
    )
    session.commit()
