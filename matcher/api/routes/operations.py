"""Operations: liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from matcher.api.deps import SessionDep
from matcher.services.operations import is_ready, readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Ready to serve",
    responses={503: {"description": "The database is unreachable, or the indexes are not loaded or stale."}},
)
def readyz(request: Request, session: SessionDep) -> Any:
    """The database answers, and this process serves the catalogue version the database holds."""
    checks = readiness(session, request.app.state.matching)
    ready = is_ready(checks)
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
