"""Workbench sign-in sessions and the sign-in form's token, kept in the database so any
worker (or a restarted one) accepts what another issued.

* A session is a random token in an HttpOnly cookie; the database keeps its SHA-256
  digest, the API key it stands for, a form token of its own and an expiry. Signing in
  always starts a new session (and ends the one the browser presented); signing out
  ends it; revoking the key ends all of its sessions (``access.revoke_key``).
* The sign-in form has no session yet, so its token is bound to a random value in a
  cookie of its own: the token is an HMAC of that value under a secret created once in
  the database. A cross-site POST carries neither (the cookie is SameSite=Strict), so
  another site cannot sign a browser in with its own key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matcher.services.access import Principal, authenticate
from matcher.store.models import ApiKey, AppSecret, WebSession, utcnow

SESSION_LIFETIME = dt.timedelta(hours=12)
_SIGN_IN_SECRET = "sign_in_form"
# Tokens are 32 random bytes in URL-safe base64 (43 characters); anything else is no token.
_TOKEN_LENGTH = 43


@dataclass(frozen=True)
class WebSignIn:
    """A live session: who it is, and the token its forms must carry."""

    principal: Principal
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    token: str  # for the cookie; never stored
    csrf_token: str
    principal: Principal
    expires_at: dt.datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str | None) -> bool:
    """Shaped like a token this module issues (anything else never reaches a query)."""
    return bool(token) and len(token or "") == _TOKEN_LENGTH and (token or "").isascii()


def start_session(db: Session, api_key: str, *, replacing: str | None = None) -> NewSession:
    """Authenticate ``api_key`` (``NotAuthenticated`` if it is not valid) and start a new
    session, ending ``replacing`` (the session the browser presented, if any) and any
    expired sessions. Commits."""
    principal = authenticate(db, api_key)
    now = utcnow()
    db.execute(delete(WebSession).where(WebSession.expires_at <= now))
    if looks_like_token(replacing):
        db.execute(delete(WebSession).where(WebSession.id == _digest(replacing or "")))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_hex(32)
    expires = now + SESSION_LIFETIME
    db.add(
        WebSession(
            id=_digest(token), key_id=principal.key_id, csrf_token=csrf, created_at=now, expires_at=expires
        )
    )
    db.commit()
    return NewSession(token, csrf, principal, expires)


def resolve_session(db: Session, token: str | None) -> WebSignIn | None:
    """The live session of a cookie's token: None when missing, unknown, expired or its key
    revoked (the key's checks are the API's own)."""
    if not looks_like_token(token):
        return None
    row = db.execute(
        select(WebSession, ApiKey)
        .join(ApiKey, ApiKey.id == WebSession.key_id)
        .where(WebSession.id == _digest(token or ""), WebSession.expires_at > utcnow())
    ).first()
    if row is None:
        return None
    web, key = row
    if key.revoked_at is not None:
        return None
    principal = Principal(key_id=key.id, role=key.role, party=key.party_iso3, provider=key.provider_id)
    return WebSignIn(principal, web.csrf_token)


def end_session(db: Session, token: str | None) -> None:
    """Sign out: the session is deleted, so a copy of the cookie opens nothing. Commits."""
    if looks_like_token(token):
        db.execute(delete(WebSession).where(WebSession.id == _digest(token or "")))
        db.commit()


# ---------------------------------------------------------------------------- sign-in form


def _sign_in_secret(db: Session) -> bytes:
    """The secret that signs sign-in form tokens, created by the first worker that needs it."""
    stored = db.get(AppSecret, _SIGN_IN_SECRET)
    if stored is None:
        db.add(AppSecret(name=_SIGN_IN_SECRET, value=secrets.token_hex(32)))
        try:
            db.commit()
        except IntegrityError:  # another worker created it first: use theirs
            db.rollback()
        stored = db.get(AppSecret, _SIGN_IN_SECRET)
        assert stored is not None
    return bytes.fromhex(stored.value)


def new_sign_in_nonce() -> str:
    """A random value for the sign-in form's cookie."""
    return secrets.token_urlsafe(32)


def sign_in_token(db: Session, nonce: str) -> str:
    """The sign-in form's token for the cookie value ``nonce``."""
    return hmac.new(_sign_in_secret(db), nonce.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_in_token_matches(db: Session, nonce: str | None, token: str | None) -> bool:
    if not looks_like_token(nonce) or not token:
        return False
    return hmac.compare_digest(sign_in_token(db, nonce or ""), token)
