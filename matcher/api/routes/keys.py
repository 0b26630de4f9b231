"""/v1/keys: API keys over HTTP, for admin keys only (the CLI does the same)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from matcher.api.deps import KeyId, PrincipalDep, SessionDep, errors
from matcher.api.schemas import KeyCreate, KeyList, KeyOut, NewKeyOut
from matcher.services import access

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.get("", response_model=KeyList, responses=errors(401, 403), summary="List keys")
def get_keys(session: SessionDep, principal: PrincipalDep) -> Any:
    """Ids, roles and scopes; never the secrets."""
    return {"items": [access.key_record(key) for key in access.list_keys(session, principal)]}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NewKeyOut,
    responses=errors(400, 401, 403, 413, 422),
    summary="Create a key",
)
def post_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    new = access.create_key(
        session,
        body.role,
        party=body.party,
        provider=body.provider,
        label=body.label,
        email=body.email,
        actor=principal,
    )
    session.commit()
    return {**access.key_record(access.get_key(session, new.key_id, principal)), "key": new.key}


@router.post(
    "/{key_id}/revoke", response_model=KeyOut, responses=errors(401, 403, 404), summary="Revoke a key"
)
def post_revoke(key_id: KeyId, session: SessionDep, principal: PrincipalDep) -> Any:
    key = access.revoke_key(session, key_id, actor=principal)
    session.commit()
    return access.key_record(key)
