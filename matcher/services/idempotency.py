"""Idempotent creates: a POST sent again with the same ``Idempotency-Key`` (after a dropped
connection, say) gets the first result back instead of creating a second need, offering
or run.

Keys belong to the caller (the API key) and the route. The first request records the key
as in progress (committed before the work starts, so a concurrent retry sees it and gets
409), then stores its status and body. A retry with the same body gets them back; the
same key with another body is a 422. A request that fails stores nothing, so it may be
retried with the same key. Stored results expire after ``LIFETIME``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matcher.services.access import Conflict, Invalid, Principal
from matcher.store.models import IdempotencyRecord, utcnow

LIFETIME = dt.timedelta(hours=24)
_in_progress_message = "a request with this Idempotency-Key is still being processed; retry in a moment"


class KeyReused(Invalid):
    code = "idempotency_key_reused"


class StillProcessing(Conflict):
    code = "idempotency_key_in_progress"


@dataclass(frozen=True)
class StoredResult:
    status: int
    body: Any


def fingerprint(canonical_body: str) -> str:
    return hashlib.sha256(canonical_body.encode("utf-8")).hexdigest()


def claim(
    db: Session, principal: Principal, route: str, key: str, body_fingerprint: str
) -> StoredResult | None:
    """The stored result of an earlier request with this key, or None once this request is
    recorded as in progress (committed). ``KeyReused`` when the key came with another body;
    ``StillProcessing`` while the first request runs."""
    now = utcnow()
    primary = (principal.key_id, route, key)
    db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.key_id == principal.key_id, IdempotencyRecord.expires_at <= now
        )
    )
    record = db.get(IdempotencyRecord, primary)
    if record is None:
        db.add(
            IdempotencyRecord(
                key_id=principal.key_id,
                route=route,
                idempotency_key=key,
                fingerprint=body_fingerprint,
                created_at=now,
                expires_at=now + LIFETIME,
            )
        )
        try:
            db.commit()
            return None
        except IntegrityError:  # a concurrent request with the same key got there first
            db.rollback()
            record = db.get(IdempotencyRecord, primary)
            if record is None:
                raise StillProcessing(_in_progress_message) from None
    else:
        db.commit()  # the expired records' deletion
    if record.fingerprint != body_fingerprint:
        raise KeyReused(
            "this Idempotency-Key was already used with another body; use a new key for a new request",
            [{"loc": "header.Idempotency-Key", "message": "already used with another body"}],
        )
    if record.status is None:
        raise StillProcessing(_in_progress_message)
    return StoredResult(record.status, record.body)


def complete(db: Session, principal: Principal, route: str, key: str, status: int, body: Any) -> None:
    """Store the result of the request that claimed ``key``. Commits."""
    record = db.get(IdempotencyRecord, (principal.key_id, route, key))
    if record is not None:
        record.status = status
        record.body = body
        db.commit()


def release(db: Session, principal: Principal, route: str, key: str) -> None:
    """Forget a claim whose request failed, so it can be retried with the same key. Commits."""
    db.rollback()
    db.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.key_id == principal.key_id,
            IdempotencyRecord.route == route,
            IdempotencyRecord.idempotency_key == key,
        )
    )
    db.commit()
