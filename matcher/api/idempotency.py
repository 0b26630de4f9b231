"""The ``Idempotency-Key`` header of the routes that create (needs, offerings, runs): a
retry with the same key gets the first result (see ``matcher.services.idempotency``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from matcher.services import idempotency
from matcher.services.access import Principal

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Optional: any unique value (a UUID, say), printable ASCII without spaces. A retry "
        "with the same key and body returns the first result (header `Idempotent-Replayed: true`) "
        "for 24 hours; the same key with another body is a 422; while the first request runs, a 409.",
    ),
]


def once(
    *,
    db: Session,
    principal: Principal,
    route: str,
    key: str | None,
    body: BaseModel,
    response_model: type[BaseModel],
    status: int,
    produce: Callable[[], Any],
) -> Any:
    """``produce()`` the route's result, once per ``key``: a stored result is replayed."""
    if key is None:
        return produce()
    body_fingerprint = idempotency.fingerprint(body.model_dump_json(exclude_unset=True))
    stored = idempotency.claim(db, principal, route, key, body_fingerprint)
    if stored is not None:
        return JSONResponse(stored.body, status_code=stored.status, headers={"Idempotent-Replayed": "true"})
    try:
        content = response_model.model_validate(produce()).model_dump(mode="json")
    except BaseException:
        idempotency.release(db, principal, route, key)
        raise
    idempotency.complete(db, principal, route, key, status, content)
    return JSONResponse(content, status_code=status)
