"""Who is asking (a ``Principal``), API keys, and the errors every service raises.

The HTTP API and the web pages share these: a rule about who may see or change what is
written once, in the services, never in a route.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from matcher.addresses import optional_email
from matcher.services.paging import Page, paginate
from matcher.store.models import ApiKey, AuditEvent, Party, WebSession, utcnow
from matcher.taxonomy import API_ROLES

KEY_PREFIX = "mm"
_KEY_PATTERN = re.compile(rf"^{KEY_PREFIX}_(?P<id>k[0-9a-f]{{12}})_(?P<secret>[A-Za-z0-9_-]{{20,}})$")
_PROVIDER_ID = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,99}$")


class ServiceError(Exception):
    """A refusal with an HTTP-like status, a short code and a message for people."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotAuthenticated(ServiceError):
    status, code = 401, "not_authenticated"


class Forbidden(ServiceError):
    status, code = 403, "forbidden"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Conflict(ServiceError):
    status, code = 409, "conflict"


class Invalid(ServiceError):
    status, code = 422, "invalid"


@dataclass(frozen=True)
class Principal:
    """The caller: a key's id, role and scope."""

    key_id: str
    role: str
    party: str | None = None
    provider: str | None = None

    @property
    def is_staff(self) -> bool:
        """Secretariat and admin see and may change everything (admin also manages keys)."""
        return self.role in ("secretariat", "admin")

    @property
    def actor(self) -> str:
        return f"key:{self.key_id}"


SYSTEM = Principal(key_id="system", role="admin")


def audit(
    session: Session,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: str | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one audit event in the caller's transaction."""
    session.add(
        AuditEvent(
            actor=principal.actor,
            actor_role=principal.role,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            before=before,
            after=after,
        )
    )


def require_staff(principal: Principal, what: str) -> None:
    if not principal.is_staff:
        raise Forbidden(f"only the secretariat can {what}")


def require_admin(principal: Principal) -> None:
    if principal.role != "admin":
        raise Forbidden("only admin keys manage keys")


@dataclass(frozen=True)
class AuditFilters:
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def list_audit(
    session: Session, principal: Principal, filters: AuditFilters, *, limit: int, offset: int
) -> Page[AuditEvent]:
    """Audit events in the order they happened (secretariat and admin only)."""
    if not principal.is_staff:
        raise Forbidden("only the secretariat reads the audit trail")
    query = select(AuditEvent)
    for column, value in (
        (AuditEvent.entity_type, filters.entity_type),
        (AuditEvent.entity_id, filters.entity_id),
        (AuditEvent.action, filters.action),
        (AuditEvent.actor, filters.actor),
    ):
        if value:
            query = query.where(column == value)
    if filters.since:
        query = query.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.occurred_at <= filters.until)
    return paginate(session, query.order_by(AuditEvent.id), limit, offset)


def audit_record(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "actor": event.actor,
        "actor_role": event.actor_role,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
    }


def plain(value: Any) -> Any:
    """A value as JSON holds it (dates and times as ISO text), for audit snapshots."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key_id: str
    key: str


def create_key(
    session: Session,
    role: str,
    *,
    party: str | None = None,
    provider: str | None = None,
    label: str | None = None,
    email: str | None = None,
    actor: Principal = SYSTEM,
) -> NewKey:
    """Create a key; the secret is returned once and only its digest is stored. Only an
    admin (the CLI acts as ``SYSTEM``, an admin) creates keys. ``email`` is the holder's
    address for notices (checked, stored lower-cased)."""
    require_admin(actor)
    email = _checked_email(email)
    if role not in API_ROLES:
        raise Invalid(f"unknown role {role!r}; allowed: {', '.join(API_ROLES)}")
    if (role == "party") != (party is not None):
        raise Invalid("a party key needs --party ISO3, and only a party key takes one")
    if (role == "provider") != (provider is not None):
        raise Invalid("a provider key needs --provider PROVIDER_ID, and only a provider key takes one")
    if party is not None:
        party = party.upper()
        if session.get(Party, party) is None:
            raise Invalid(f"unknown party {party!r}: it is not in the parties list")
    if provider is not None and not _PROVIDER_ID.match(provider):
        raise Invalid(f"provider id {provider!r} must be lower-case letters, digits and . _ : -")
    key_id = "k" + secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full = f"{KEY_PREFIX}_{key_id}_{secret}"
    session.add(
        ApiKey(
            id=key_id,
            role=role,
            party_iso3=party,
            provider_id=provider,
            secret_sha256=_digest(full),
            label=label,
            email=email,
        )
    )
    audit(
        session,
        actor,
        "key.create",
        "api_key",
        key_id,
        after={"role": role, "party": party, "provider": provider, "email": email},
    )
    return NewKey(key_id, full)


def _checked_email(text: str | None) -> str | None:
    try:
        return optional_email(text)
    except ValueError as problem:
        raise Invalid(str(problem), [{"loc": "body.email", "message": str(problem)}]) from None


def set_key_email(session: Session, principal: Principal, key_id: str, email: str | None) -> ApiKey:
    """Set (or, with None or blank text, clear) the notification address of key ``key_id``.
    A key holder changes its own key's address; an admin changes any. In the caller's
    transaction, audited."""
    if principal.key_id != key_id:
        require_admin(principal)
    key = session.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        raise NotFound(f"no active key {key_id!r}")
    address = _checked_email(email)
    if address != key.email:
        audit(
            session,
            principal,
            "key.email",
            "api_key",
            key_id,
            before={"email": key.email},
            after={"email": address},
        )
        key.email = address
    return key


def revoke_key(session: Session, key_id: str, actor: Principal = SYSTEM) -> ApiKey:
    """Revoke a key (in the caller's transaction): it gets 401 from then on, and every
    workbench session signed in with it ends."""
    require_admin(actor)
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no key {key_id!r}")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit(session, actor, "key.revoke", "api_key", key_id)
    session.execute(delete(WebSession).where(WebSession.key_id == key_id))
    return key


def get_key(session: Session, key_id: str, actor: Principal = SYSTEM) -> ApiKey:
    require_admin(actor)
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no key {key_id!r}")
    return key


def list_keys(session: Session, actor: Principal = SYSTEM) -> list[ApiKey]:
    require_admin(actor)
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)))


def key_record(key: ApiKey) -> dict[str, Any]:
    """A key as admins see it: id, role and scope, never the secret or its digest."""
    return {
        "id": key.id,
        "role": key.role,
        "party": key.party_iso3,
        "provider": key.provider_id,
        "label": key.label,
        "email": key.email,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def authenticate(session: Session, token: str | None) -> Principal:
    """The principal of a bearer token; ``NotAuthenticated`` for a missing, malformed,
    unknown or revoked key. The digest comparison takes constant time."""
    if not token:
        raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")
    match = _KEY_PATTERN.match(token.strip())
    key = session.get(ApiKey, match.group("id")) if match else None
    expected = key.secret_sha256 if key is not None else _digest("no such key")
    valid = hmac.compare_digest(_digest(token.strip()), expected) and key is not None
    if not valid or key is None:
        raise NotAuthenticated("the API key is not valid")
    if key.revoked_at is not None:
        raise NotAuthenticated("the API key has been revoked")
    return Principal(key_id=key.id, role=key.role, party=key.party_iso3, provider=key.provider_id)
