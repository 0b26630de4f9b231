"""A retried POST with the same ``Idempotency-Key`` returns the first result instead of
filing twice (needs, offerings, matching runs); the stored result expires."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import pytest
from sqlalchemy import text

from tests.api.conftest import Api

CREATES = [
    ("/v1/needs", "party", {"title": "Retried request", "description": "Lamps need collecting, sent twice."}),
    (
        "/v1/offerings",
        "provider",
        {"provider": "UNEP", "title": "Retried programme", "description": "Lamps."},
    ),
    ("/v1/matching/runs", "secretariat", {"party": "PER", "k": 2}),
]


def _post(api: Api, path: str, role: str, body: Any, key: str | None) -> Any:
    headers = {**api.headers(role), **({"Idempotency-Key": key} if key else {})}
    return api.client.post(path, json=body, headers=headers)


def _audit_count(api: Api, action: str) -> int:
    return int(api.call("GET", f"/v1/audit?action={action}&limit=1", "secretariat").json()["total"])


@pytest.mark.parametrize(("path", "role", "body"), CREATES, ids=[path for path, _, _ in CREATES])
def test_a_retry_with_the_same_key_returns_the_first_result(
    api: Api, path: str, role: str, body: Any
) -> None:
    action = {"/v1/needs": "need.create", "/v1/offerings": "offering.create"}.get(path, "matching.run")
    before = _audit_count(api, action)
    key = secrets.token_hex(16)
    first = _post(api, path, role, body, key)
    assert first.status_code == 201, first.text
    retry = _post(api, path, role, body, key)
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"
    assert _audit_count(api, action) == before + 1  # done once
    # Without a key, or with another key, a POST is a new request.
    assert _post(api, path, role, body, secrets.token_hex(16)).status_code == 201
    assert _audit_count(api, action) == before + 2


def test_the_same_key_with_another_body_is_refused(api: Api) -> None:
    key = secrets.token_hex(16)
    path, role, body = CREATES[0]
    assert _post(api, path, role, body, key).status_code == 201
    changed = _post(api, path, role, {**body, "title": "Another request"}, key)
    assert changed.status_code == 422
    error = changed.json()["error"]
    assert error["code"] == "idempotency_key_reused" and "Idempotency-Key" in error["message"]


def test_keys_belong_to_their_caller(api: Api) -> None:
    key = secrets.token_hex(16)
    path, _, body = CREATES[0]
    mine = _post(api, path, "party", body, key).json()
    theirs = _post(api, path, "other_party", body, key).json()
    assert mine["id"] != theirs["id"] and theirs["party"] == "PER"


def test_stored_results_expire(api: Api) -> None:
    key = secrets.token_hex(16)
    path, role, body = CREATES[0]
    first = _post(api, path, role, body, key).json()
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        session.execute(
            text("UPDATE idempotency_keys SET expires_at = :past WHERE idempotency_key = :key"),
            {"past": past, "key": key},
        )
        session.commit()
    later = _post(api, path, role, body, key)
    assert later.status_code == 201 and later.json()["id"] != first["id"]


def test_a_failed_request_stores_nothing(api: Api) -> None:
    key = secrets.token_hex(16)
    refused = _post(api, "/v1/needs", "secretariat", {"title": "t", "description": "d"}, key)  # no party
    assert refused.status_code == 422
    fixed = _post(api, "/v1/needs", "secretariat", {"title": "t", "description": "d", "party": "KEN"}, key)
    assert fixed.status_code == 201


@pytest.mark.parametrize("key", ["", "x" * 256, "bad\x01key", "ключ"])
def test_malformed_keys_are_422(api: Api, key: str) -> None:
    headers: dict[str, Any] = {**api.headers("party"), "Idempotency-Key": key.encode("utf-8")}
    response = api.client.post("/v1/needs", json=CREATES[0][2], headers=headers)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == "header.Idempotency-Key"


def test_openapi_documents_the_header(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in ("/v1/needs", "/v1/offerings", "/v1/matching/runs"):
        operation = spec["paths"][path]["post"]
        names = {(parameter["in"], parameter["name"]) for parameter in operation["parameters"]}
        assert ("header", "Idempotency-Key") in names, path
        assert "409" in operation["responses"], path
