"""/v1/keys: API keys over HTTP, for admin keys only (the CLI does the same)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from matcher.api.deps import PrincipalDep, SessionDep, errors
from matcher.api.schemas import KeyCreate, KeyList, KeyOut, NewKeyOut
from matcher.services.access import Forbidden, Principal, create_key, list_keys, revoke_key
from matcher.store.models import ApiKey

router = APIRouter(prefix="/v1/keys", tags=["keys"])


def _admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("only admin keys manage keys")


def key_record(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "role": key.role,
        "party": key.party_iso3,
        "provider": key.provider_id,
        "label": key.label,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


@router.get("", response_model=KeyList, responses=errors(401, 403), summary="List keys")
def get_keys(session: SessionDep, principal: PrincipalDep) -> Any:
    """Ids, roles and scopes; never the secrets."""
    _admin(principal)
    return {"items": [key_record(key) for key in list_keys(session)]}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NewKeyOut,
    responses=errors(400, 401, 403, 422),
    summary="Create a key",
)
def post_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> Any:
    _admin(principal)
    new = create_key(
        session, body.role, party=body.party, provider=body.provider, label=body.label, actor=principal
    )
    session.commit()
    key = session.get(ApiKey, new.key_id)
    assert key is not None
    return {**key_record(key), "key": new.key}


@router.post(
    "/{key_id}/revoke", response_model=KeyOut, responses=errors(401, 403, 404), summary="Revoke a key"
)
def post_revoke(key_id: str, session: SessionDep, principal: PrincipalDep) -> Any:
    _admin(principal)
    key = revoke_key(session, key_id, actor=principal)
    session.commit()
    return key_record(key)
