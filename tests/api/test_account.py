"""The recipient's page (/account) through HTTP: a key's own address, its organisation's
address, the daily digest choice (with the form token, and never for someone else's
address) and the latest notices."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from matcher.services.notifications import queue_notice
from matcher.store.db import session_scope
from matcher.store.models import ApiKey, Need, NotificationPreference
from tests.api.conftest import Api


def _as(api: Api, role: str | None, **cookies: str) -> None:
    if role is None:
        api.client.cookies.clear()
    else:
        api.web_session(role)  # signed in through the form, as a browser is
    for name, value in cookies.items():
        api.client.cookies.set(name, value)


def _token(api: Api, role: str, path: str = "/account") -> str:
    _as(api, role)
    page = api.client.get(path)
    assert page.status_code == 200, page.text[:500]
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found
    return found.group(1)


def _post(api: Api, role: str, path: str, data: dict[str, str]) -> Any:
    token = _token(api, role)
    return api.client.post(path, data={"csrf": token, **data}, follow_redirects=False)


def _sessions(api: Api) -> sessionmaker[Session]:
    sessions: sessionmaker[Session] = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    return sessions


def _key_id(api: Api, role: str) -> str:
    return api.keys[role].split("_")[1]


def _preference(api: Api, email: str) -> bool | None:
    with _sessions(api)() as session:
        found = session.get(NotificationPreference, email)
        return None if found is None else found.digest


def test_the_page_needs_a_key_and_is_linked_from_every_page(api: Api) -> None:
    _as(api, None)
    assert api.client.get("/account", follow_redirects=False).headers["location"] == "/"
    for role in ("party", "provider", "secretariat"):
        _as(api, role)
        assert 'href="/account"' in api.client.get("/account").text


def test_a_key_holder_sets_its_own_address(api: Api) -> None:
    saved = _post(api, "provider", "/account/email", {"email": "Officer@UNEP.org"})
    assert saved.status_code == 303 and saved.headers["location"] == "/account?notice=saved"
    with _sessions(api)() as session:
        key = session.get(ApiKey, _key_id(api, "provider"))
        assert key is not None and key.email == "officer@unep.org"
    page = api.client.get("/account?notice=saved")
    assert 'value="officer@unep.org"' in page.text and "Saved." in page.text
    wrong = _post(api, "provider", "/account/email", {"email": "officer at unep"})
    assert wrong.status_code == 422
    assert re.search(r'id="email"[^>]*aria-invalid="true"', wrong.text)
    assert "is not an e-mail address" in wrong.text
    assert _post(api, "provider", "/account/email", {"email": "officer@unep.org"}).status_code == 303


def test_changes_need_the_form_token(api: Api) -> None:
    _as(api, "party")
    refused = api.client.post("/account/digest", data={"address": "x@y.org", "digest": "on"})
    assert refused.status_code == 400 and "reload the page" in refused.text
    other_token = _token(api, "secretariat")
    _as(api, "party")
    stolen = api.client.post("/account/email", data={"csrf": other_token, "email": "a@b.org"})
    assert stolen.status_code == 400


def test_the_digest_choice_is_saved_and_only_by_its_owner(api: Api) -> None:
    assert _post(api, "party", "/account/email", {"email": "focal@environment.go.ke"}).status_code == 303
    saved = _post(api, "party", "/account/digest", {"address": "focal@environment.go.ke", "digest": "on"})
    assert saved.status_code == 303
    assert _preference(api, "focal@environment.go.ke") is True
    _as(api, "party")
    assert re.search(r'name="digest" checked', api.client.get("/account").text)
    # Another key, even with a valid form token of its own, cannot change it.
    for role in ("other_party", "provider"):
        refused = _post(api, role, "/account/digest", {"address": "focal@environment.go.ke"})
        assert refused.status_code == 403, role
    assert _preference(api, "focal@environment.go.ke") is True
    # Unticking the box turns the digest off.
    assert _post(api, "party", "/account/digest", {"address": "focal@environment.go.ke"}).status_code == 303
    assert _preference(api, "focal@environment.go.ke") is False


def test_the_organisation_address_is_read_only_except_for_the_secretariat(api: Api) -> None:
    _as(api, "party")
    page = api.client.get("/account")
    assert "Notification address of Kenya" in page.text and 'action="/account/organisation"' not in page.text
    refused = _post(api, "party", "/account/organisation", {"party": "KEN", "email": "me@example.org"})
    assert refused.status_code == 403
    assert api.client.get("/account?party=PER").status_code == 403  # another recipient's page: staff only
    token = _token(api, "secretariat", "/account?party=KEN")
    staff_page = api.client.get("/account?party=KEN")
    assert 'action="/account/organisation"' in staff_page.text
    saved = api.client.post(
        "/account/organisation",
        data={"csrf": token, "party": "KEN", "email": "Mercury@Environment.go.ke"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/account?party=KEN&notice=saved"
    _as(api, "party")
    assert "mercury@environment.go.ke" in api.client.get("/account").text
    # The Party's key holders may choose the digest for their Party's address.
    digest = _post(api, "party", "/account/digest", {"address": "mercury@environment.go.ke", "digest": "on"})
    assert digest.status_code == 303 and _preference(api, "mercury@environment.go.ke") is True
    audit = api.call("GET", "/v1/audit?action=party.email", "secretariat").json()["items"]
    assert audit[-1]["after"] == {"email": "mercury@environment.go.ke"}


def test_the_page_lists_the_notices_sent_or_waiting_for_the_key_and_its_party(api: Api) -> None:
    assert _post(api, "party", "/account/email", {"email": "focal@environment.go.ke"}).status_code == 303
    with session_scope(_sessions(api)) as session:
        need = session.get(Need, api.items["need"])
        assert need is not None
        rows = queue_notice(session, "need.received", need=need)
        assert rows
    _as(api, "party", mm_lang="fr")
    page = api.client.get("/account").text
    assert "Request received: Mercury waste from hospitals" in page
    assert "en attente" in page and "Un récapitulatif quotidien plutôt que chaque avis" in page
    _as(api, "other_party")
    assert "Request received: Mercury waste from hospitals" not in api.client.get("/account").text
