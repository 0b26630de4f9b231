"""Workbench sessions live in the database: an opaque id (stored hashed) that expires, is
rotated at sign-in and ended at sign-out and when the key is revoked; a form token per
session; a token on the sign-in form."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from matcher.api.app import create_app
from tests.api.conftest import FORM_TOKEN, Api, fake_settings

SESSION_COOKIE = "mm_session"


def _session_cookie(api: Api) -> str:
    value = api.client.cookies.get(SESSION_COOKIE)
    assert value
    return str(value)


def _signed_in_as(client: TestClient, cookie: str) -> str | None:
    """Where ``/`` sends this session: its home page when signed in, else None."""
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, cookie)
    answer = client.get("/", follow_redirects=False)
    return answer.headers["location"] if answer.status_code == 303 else None


def _rows(api: Api, sql: str, **params: object) -> list[tuple[object, ...]]:
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        return [tuple(row) for row in session.execute(text(sql), params)]


def test_the_session_cookie_is_an_opaque_id_stored_hashed_never_the_key(api: Api) -> None:
    api.sign_in("party")
    cookie = _session_cookie(api)
    assert api.keys["party"] not in cookie and len(cookie) >= 40
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    assert _rows(api, "SELECT count(*) FROM web_sessions WHERE id = :digest", digest=digest) == [(1,)]
    assert _rows(api, "SELECT count(*) FROM web_sessions WHERE id = :cookie", cookie=cookie) == [(0,)]
    assert _signed_in_as(api.client, cookie) == "/requests"
    assert _signed_in_as(api.client, api.keys["party"]) is None  # the raw key is no session


def test_sign_in_cookie_flags_and_rotation(api: Api) -> None:
    api.client.cookies.clear()
    token = FORM_TOKEN.search(api.client.get("/").text)
    assert token, "the sign-in form carries a token"
    signed = api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": token.group(1)}, follow_redirects=False
    )
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    first = _session_cookie(api)
    # Signing in again (with the old session presented) starts a new session and ends the old one.
    again = FORM_TOKEN.search(api.client.get("/signin").text)
    assert again
    api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": again.group(1)}, follow_redirects=False
    )
    second = _session_cookie(api)
    assert second != first
    assert _signed_in_as(api.client, first) is None
    assert _signed_in_as(api.client, second) == "/requests"


def test_cookies_are_secure_behind_https(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = api.client.app.state.store.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings, "public_url", "https://match.example.org")
    api.client.cookies.clear()
    token = FORM_TOKEN.search(api.client.get("/").text)
    assert token
    signed = api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": token.group(1)}, follow_redirects=False
    )
    assert "secure" in signed.headers["set-cookie"].lower()
    assert "max-age=31536000" in api.client.get("/healthz").headers["strict-transport-security"]


def test_sign_in_refuses_a_post_without_the_form_token(api: Api) -> None:
    """Login CSRF: another site posting its own key to /signin has neither the cookie nor the token."""
    api.client.cookies.clear()
    forged = api.client.post("/signin", data={"api_key": api.keys["party"]}, follow_redirects=False)
    assert forged.status_code == 400 and SESSION_COOKIE not in forged.headers.get("set-cookie", "")
    api.client.cookies.clear()
    api.client.get("/")  # the pre-session cookie alone is not enough
    guessed = api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": "0" * 64}, follow_redirects=False
    )
    assert guessed.status_code == 400
    # A token from another browser (its cookie not sent) does not work either.
    api.client.cookies.clear()
    other = FORM_TOKEN.search(api.client.get("/").text)
    assert other
    api.client.cookies.clear()
    stolen = api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": other.group(1)}, follow_redirects=False
    )
    assert stolen.status_code == 400


def test_sign_out_ends_the_session_on_the_server(api: Api) -> None:
    token = api.sign_in("secretariat")
    cookie = _session_cookie(api)
    out = api.client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert out.status_code == 303
    assert _signed_in_as(api.client, cookie) is None  # a copy of the cookie is worth nothing now
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    assert _rows(api, "SELECT count(*) FROM web_sessions WHERE id = :digest", digest=digest) == [(0,)]


def test_revoking_the_key_ends_its_sessions(api: Api) -> None:
    created = api.call("POST", "/v1/keys", "admin", {"role": "party", "party": "KEN"}).json()
    api.keys["revocable"] = created["key"]
    api.sign_in("revocable")
    cookie = _session_cookie(api)
    assert _signed_in_as(api.client, cookie) == "/requests"
    assert api.call("POST", f"/v1/keys/{created['id']}/revoke", "admin").status_code == 200
    assert _signed_in_as(api.client, cookie) is None
    assert _rows(api, "SELECT count(*) FROM web_sessions WHERE key_id = :key", key=created["id"]) == [(0,)]


def test_sessions_expire(api: Api) -> None:
    api.sign_in("party")
    cookie = _session_cookie(api)
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        session.execute(
            text("UPDATE web_sessions SET expires_at = :past WHERE id = :id"), {"past": past, "id": digest}
        )
        session.commit()
    assert _signed_in_as(api.client, cookie) is None


def test_the_form_token_is_per_session(api: Api) -> None:
    first = api.sign_in("secretariat")
    first_cookie = _session_cookie(api)
    second = api.sign_in("secretariat")
    assert first != second
    api.client.cookies.clear()
    api.client.cookies.set(SESSION_COOKIE, first_cookie)
    assert api.client.post("/queue/run", data={"csrf": second}, follow_redirects=False).status_code == 400
    done = api.client.post("/queue/run", data={"csrf": first}, follow_redirects=False)
    assert done.status_code == 303


@pytest.fixture
def second_worker(api: Api) -> Iterator[TestClient]:
    """Another process over the same database (a second worker, or the first restarted)."""
    store = api.client.app.state.store  # type: ignore[attr-defined]
    app = create_app(fake_settings(store.settings.data_dir, store.settings.resolved_database_url))
    with TestClient(app) as client:
        yield client


def test_any_worker_accepts_a_session_and_a_form_rendered_by_another(
    api: Api, second_worker: TestClient
) -> None:
    token = api.sign_in("secretariat")
    cookie = _session_cookie(api)
    second_worker.cookies.set(SESSION_COOKIE, cookie)
    assert second_worker.get("/queue").status_code == 200
    done = second_worker.post("/queue/run", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303 and "notice=run" in done.headers["location"]
    # The sign-in form rendered by one worker is accepted by the other.
    api.client.cookies.clear()
    form = api.client.get("/")
    form_token = FORM_TOKEN.search(form.text)
    assert form_token
    second_worker.cookies.clear()
    for name, value in api.client.cookies.items():
        second_worker.cookies.set(name, value)
    signed = second_worker.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": form_token.group(1)}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/requests"
