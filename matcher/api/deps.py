"""Dependencies shared by the routes: a database session, the caller, the matching service,
and the bounded parameter types every route uses (checked before the database sees them)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from matcher.api.schemas import ISO3_PATTERN, PROVIDER_ID_PATTERN, ErrorOut
from matcher.services.access import Principal, authenticate
from matcher.services.matching import MatchingService
from matcher.services.paging import DEFAULT_LIMIT, MAX_LIMIT
from matcher.settings import Settings
from matcher.validation import ID_PATTERN, MAX_INT32, NO_CONTROL_PATTERN

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


def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with (tests build apps with their own)."""
    settings: Settings = request.app.state.store.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
# Offsets and ids fit a 32-bit database integer: a larger one is a 422, never an overflow.
Offset = Annotated[int, Query(ge=0, le=MAX_INT32, description="Items to skip.")]
DEFAULT_PAGE = DEFAULT_LIMIT

NeedId = Annotated[str, Path(pattern=ID_PATTERN, description="A need's id, e.g. need-3f2a9c01b7e4.")]
OfferingId = Annotated[str, Path(pattern=ID_PATTERN, description="An offering's id.")]
ProposalId = Annotated[int, Path(ge=1, le=MAX_INT32, description="A proposal's id.")]
AnswerId = Annotated[int, Path(ge=1, le=MAX_INT32, description="A report or survey answer's id.")]
RoundId = Annotated[int, Path(ge=1, le=MAX_INT32, description="A survey round's id.")]
KeyId = Annotated[str, Path(pattern=r"^k[0-9a-f]{12}$", description="A key's id, e.g. k1a2b3c4d5e6f.")]
PartyFilter = Annotated[str | None, Query(pattern=ISO3_PATTERN, description="ISO3 code of the Party.")]
ProviderFilter = Annotated[str | None, Query(pattern=PROVIDER_ID_PATTERN, description="A provider id.")]


def text_filter(description: str | None = None) -> Any:
    """A free-text filter: at most 200 characters, no control characters."""
    return Query(None, max_length=200, pattern=NO_CONTROL_PATTERN, description=description)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries declaring the error body for ``statuses`` (500 is declared app-wide)."""
    described = {
        400: "Malformed JSON.",
        401: "No key, or a revoked or unknown key.",
        403: "The key's role may not do this.",
        404: "No such item, or one the caller may not see.",
        409: "The item's state does not allow this (for a create: a request with the same "
        "Idempotency-Key is still being processed).",
        413: "The request body is larger than 64 KB.",
        422: "Invalid fields or parameters, each named by its location (for a create: an "
        "Idempotency-Key already used with another body).",
    }
    # Every route has parameters FastAPI validates, so every route can answer 422 too.
    return {
        status: {"model": ErrorOut, "description": described[status]} for status in sorted({*statuses, 422})
    }


def link(method: str, path: str, **parameters: Any) -> dict[str, Any]:
    """An OpenAPI link to the operation ``method path``, its parameters taken from this
    response (``$response.body#/id``): clients and the fuzzing test follow them."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method.lower()}", "parameters": parameters}


def linked(status: int, description: str, **links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a success response with its links (merged with FastAPI's own)."""
    return {status: {"description": description, "links": links}}
