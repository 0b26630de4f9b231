"""Operations: liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select, text

from matcher.api.deps import SessionDep
from matcher.services.matching import offering_rows
from matcher.store.models import Offering

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve",
    responses={503: {"description": "The database is unreachable or the index is missing or stale."}},
)
def readyz(request: Request, session: SessionDep) -> Any:
    """The database answers, and every offering index holds exactly the active offerings."""
    checks: dict[str, str] = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as problem:
        checks["database"] = f"unreachable: {type(problem).__name__}"
    matching = request.app.state.matching
    if checks["database"] == "ok":
        from matcher.engine.domain import OfferingProfile

        with matching.lock:
            rows = offering_rows([OfferingProfile.from_record(o) for o in session.scalars(select(Offering))])
            for role, index in matching.indexes.indexes.items():
                fresh = index.fingerprint == matching.indexes.fingerprint(role, rows)
                checks[f"index:{role}"] = "ok" if fresh else "stale"
        if not matching.indexes.indexes:
            checks["index"] = "not loaded"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
