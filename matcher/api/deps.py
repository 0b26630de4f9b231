"""Dependencies shared by the routes: a database session, the caller, the matching service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from matcher.api.schemas import ErrorOut
from matcher.services.access import Principal, authenticate
from matcher.services.matching import MatchingService
from matcher.services.paging import DEFAULT_LIMIT, MAX_LIMIT

_bearer = HTTPBearer(auto_error=False, description="An API key from `matcher keys create`.")


def get_session(request: Request) -> Iterator[Session]:
    session = request.app.state.store.sessions()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    return authenticate(session, credentials.credentials if credentials else None)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_service(request: Request, session: SessionDep) -> MatchingService:
    """The matching service, brought to the database's catalogue version first (another worker
    may have written since; ``MatchingService.ensure_fresh`` polls at most every few ms)."""
    matching: MatchingService = request.app.state.matching
    matching.ensure_fresh(session)
    return matching


ServiceDep = Annotated[MatchingService, Depends(get_service)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]
DEFAULT_PAGE = DEFAULT_LIMIT


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries declaring the error body for ``statuses``."""
    described = {
        400: "Malformed JSON.",
        401: "No key, or a revoked or unknown key.",
        403: "The key's role may not do this.",
        404: "No such item, or one the caller may not see.",
        409: "The item's state does not allow this.",
        413: "The request body is larger than 64 KB.",
        422: "Invalid fields, each named by its JSON path.",
    }
    # Every route has parameters FastAPI validates, so every route can answer 422 too.
    return {
        status: {"model": ErrorOut, "description": described[status]} for status in sorted({*statuses, 422})
    }
