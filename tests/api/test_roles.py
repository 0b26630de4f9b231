"""Every route × every role, with the expected status written out (the same table is in
the README). Not derived from the code's own permission rules.

Placeholders: {need} is an open need of Kenya filed by the Kenya party key; {secret_need}
a confidential one; {offering} an offering of provider "unep"; {fresh_need} and
{fresh_offering} are created anew for the row (for rows that change state);
{fresh_proposal} is an undecided proposal for a new need, from a new matching run;
{accepted_proposal} an accepted one, for a new need of Kenya and a new offering of "unep".
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api

NEED_BODY = {"title": "Dental amalgam", "description": "Our clinics need amalgam separators."}
STAFF_NEED_BODY = {**NEED_BODY, "party": "KEN"}
OFFERING_BODY = {"provider": "UNEP", "title": "Lamps", "description": "Collection of mercury lamps."}
STAFF_OFFERING_BODY = {**OFFERING_BODY, "provider_id": "unep"}
KEY_BODY = {"role": "secretariat"}

N, A, S, P, OP, V, OV = None, "admin", "secretariat", "party", "other_party", "provider", "other_provider"

# (method, path, body, {role: expected status})
MATRIX: list[tuple[str, str, Any, dict[str | None, int]]] = [
    ("GET", "/healthz", None, {N: 200, P: 200}),
    ("GET", "/readyz", None, {N: 200}),
    ("GET", "/metrics", None, {N: 200}),
    ("GET", "/v1/parties", None, {N: 200, P: 200, V: 200}),
    ("GET", "/v1/taxonomy", None, {N: 200, P: 200}),
    ("GET", "/v1/offerings", None, {N: 401, A: 200, S: 200, P: 200, OP: 200, V: 200, OV: 200}),
    ("GET", "/v1/offerings/{offering}", None, {N: 401, A: 200, S: 200, P: 200, V: 200, OV: 200}),
    ("GET", "/v1/offerings/no-such-offering", None, {N: 401, S: 404, P: 404}),
    ("POST", "/v1/offerings", OFFERING_BODY, {N: 401, P: 403, OP: 403, V: 201, OV: 201}),
    ("POST", "/v1/offerings", STAFF_OFFERING_BODY, {A: 201, S: 201, OV: 403}),
    (
        "PATCH",
        "/v1/offerings/{fresh_offering}",
        {"capacity": 3},
        {N: 401, A: 200, S: 200, P: 403, V: 200, OV: 403},
    ),
    ("PATCH", "/v1/offerings/{fresh_offering}", {"active": False}, {OP: 403, OV: 403, V: 200}),
    (
        "GET",
        "/v1/offerings/{offering}/matches",
        None,
        {N: 401, A: 200, S: 200, P: 403, OP: 403, V: 200, OV: 403},
    ),
    (
        "GET",
        "/v1/offerings/{offering}/track-record",
        None,
        {N: 401, A: 200, S: 200, P: 403, OP: 403, V: 200, OV: 403},
    ),
    ("GET", "/v1/offerings/no-such-offering/track-record", None, {S: 404}),
    ("POST", "/v1/needs", NEED_BODY, {N: 401, P: 201, OP: 201, V: 403, OV: 403}),
    ("POST", "/v1/needs", STAFF_NEED_BODY, {A: 201, S: 201, P: 201, OP: 403, V: 403}),
    ("POST", "/v1/needs", NEED_BODY | {"party": None}, {S: 422}),
    ("GET", "/v1/needs", None, {N: 401, A: 200, S: 200, P: 200, OP: 200, V: 200, OV: 200}),
    ("GET", "/v1/needs/{need}", None, {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 200, OV: 200}),
    ("GET", "/v1/needs/{secret_need}", None, {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 404, OV: 404}),
    (
        "PATCH",
        "/v1/needs/{fresh_need}",
        {"budget_usd": 5000},
        {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 403},
    ),
    ("PATCH", "/v1/needs/{secret_need}", {"budget_usd": 5000}, {V: 404, OP: 404, P: 200}),
    (
        "POST",
        "/v1/needs/{fresh_need}/withdraw",
        None,
        {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 403, OV: 403},
    ),
    ("GET", "/v1/needs/{need}/matches", None, {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 403, OV: 403}),
    ("GET", "/v1/needs/{secret_need}/matches", None, {P: 200, OP: 404, V: 404}),
    ("POST", "/v1/matching/runs", {"party": "KEN", "k": 3}, {N: 401, A: 201, S: 201, P: 403, V: 403}),
    ("GET", "/v1/proposals", None, {N: 401, A: 200, S: 200, P: 200, OP: 200, V: 200, OV: 200}),
    (
        "GET",
        "/v1/proposals/{fresh_proposal}",
        None,
        {N: 401, A: 200, S: 200, P: 404, OP: 404, V: 404, OV: 404},
    ),
    (
        "GET",
        "/v1/proposals/{accepted_proposal}",
        None,
        {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 200, OV: 404},
    ),
    ("GET", "/v1/proposals/999999", None, {S: 404, P: 404}),
    ("POST", "/v1/proposals/{fresh_proposal}/accept", None, {N: 401, P: 403, OP: 403, V: 403, OV: 403}),
    ("POST", "/v1/proposals/{fresh_proposal}/reject", {"reason": "no"}, {N: 401, P: 403, V: 403}),
    ("POST", "/v1/proposals/{fresh_proposal}/introduce", None, {N: 401, P: 403, V: 403, S: 409}),
    (
        "POST",
        "/v1/proposals/{fresh_proposal}/outcome",
        {"outcome": "agreed"},
        {N: 401, P: 403, V: 403, S: 409},
    ),
    (
        "POST",
        "/v1/proposals/bulk-reject",
        {"proposals": [999999], "reason": "no"},
        {N: 401, A: 404, S: 404, P: 403, OP: 403, V: 403, OV: 403},
    ),
    ("POST", "/v1/proposals/bulk-reject", {"proposals": [], "reason": "no"}, {S: 422}),
    ("POST", "/v1/proposals/{fresh_proposal}/undo", None, {N: 401, A: 409, S: 409, P: 403, V: 403, OV: 403}),
    (
        "POST",
        "/v1/needs/{need}/assign",
        {"officer": None},
        {N: 401, A: 200, S: 200, P: 403, OP: 404, V: 403, OV: 403},
    ),
    ("POST", "/v1/needs/{secret_need}/assign", {"officer": None}, {V: 404, OP: 404, S: 200}),
    ("GET", "/v1/needs/{need}/notes", None, {N: 401, A: 200, S: 200, P: 403, OP: 404, V: 403, OV: 403}),
    ("GET", "/v1/needs/{secret_need}/notes", None, {V: 404, OP: 404, P: 403, S: 200}),
    (
        "POST",
        "/v1/needs/{need}/notes",
        {"text": "Called the focal point."},
        {N: 401, A: 201, S: 201, P: 403, OP: 404, V: 403, OV: 403},
    ),
    ("POST", "/v1/needs/{fresh_need}/reconfirm", None, {N: 401, A: 200, S: 200, P: 200, OP: 404, V: 403}),
    ("POST", "/v1/needs/{need}/close-remaining", None, {N: 401, P: 403, V: 403, S: 409}),
    ("GET", "/v1/needs/{need}/interests", None, {N: 401, A: 200, S: 200, P: 403, OP: 404, V: 403}),
    ("POST", "/v1/offerings/{fresh_offering}/verify", None, {N: 401, A: 200, S: 200, P: 403, V: 403}),
    (
        "POST",
        "/v1/offerings/{fresh_offering}/reject",
        {"reason": "no trace"},
        {N: 401, S: 200, P: 403, V: 403},
    ),
    ("GET", "/v1/audit", None, {N: 401, A: 200, S: 200, P: 403, OP: 403, V: 403, OV: 403}),
    ("GET", "/v1/keys", None, {N: 401, A: 200, S: 403, P: 403, V: 403}),
    ("POST", "/v1/keys", KEY_BODY, {N: 401, A: 201, S: 403, P: 403, V: 403}),
]

CASES = [
    pytest.param(method, path, body, role, status, id=f"{method} {path} as {role or 'anonymous'}")
    for method, path, body, expected in MATRIX
    for role, status in expected.items()
]


def _fill(api: Api, path: str) -> str:
    if "{fresh_need}" in path:
        path = path.replace("{fresh_need}", api.new_need())
    if "{fresh_proposal}" in path:
        need = api.new_need(
            title="Mercury in skin-lightening creams", description="Creams with mercury are sold."
        )
        assert (
            api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 2}).status_code == 201
        )
        queue = api.call("GET", "/v1/proposals?state=proposed&limit=200", "secretariat").json()["items"]
        path = path.replace("{fresh_proposal}", str(next(p["id"] for p in queue if p["need"]["id"] == need)))
    if "{accepted_proposal}" in path:
        word = "".join(chr(97 + int(digit, 16)) for digit in uuid.uuid4().hex[:10])  # only this pair has it
        need = api.new_need(title=f"{word} lamps", description=f"Households need {word} lamp collection.")
        offering = api.new_offering(
            title=f"{word} lamps", description=f"{word} lamp collection for households."
        )
        assert (
            api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 5}).status_code == 201
        )
        proposal = next(
            p
            for p in _all_proposals(api, "state=proposed&provider_id=unep")
            if p["need"]["id"] == need and p["offering"]["id"] == offering
        )
        assert api.call("POST", f"/v1/proposals/{proposal['id']}/accept", "secretariat").status_code == 200
        path = path.replace("{accepted_proposal}", str(proposal["id"]))
    if "{fresh_offering}" in path:
        path = path.replace("{fresh_offering}", api.new_offering())
    return path.format(**api.items)


def _all_proposals(api: Api, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = api.call("GET", f"/v1/proposals?{query}&limit=200&offset={offset}", "secretariat").json()
        items += page["items"]
        offset = page["next_offset"]
    return items


@pytest.mark.parametrize(("method", "path", "body", "role", "status"), CASES)
def test_role_matrix(api: Api, method: str, path: str, body: Any, role: str | None, status: int) -> None:
    response = api.call(method, _fill(api, path), role, body)
    assert response.status_code == status, response.text
    if status >= 400:
        error = response.json()["error"]
        assert error["status"] == status and error["code"] and error["message"]


def test_revoked_and_unknown_keys_get_401(api: Api) -> None:
    created = api.call("POST", "/v1/keys", "admin", {"role": "party", "party": "KEN"})
    key = created.json()["key"]
    assert api.client.get("/v1/offerings", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert api.call("POST", f"/v1/keys/{created.json()['id']}/revoke", "admin").status_code == 200
    revoked = api.client.get("/v1/offerings", headers={"Authorization": f"Bearer {key}"})
    assert revoked.status_code == 401 and "revoked" in revoked.json()["error"]["message"]
    forged = key[:-4] + "AAAA"
    assert api.client.get("/v1/offerings", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert api.client.get("/v1/offerings", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    listing = api.call("GET", "/v1/keys", "admin").json()["items"]
    assert all("key" not in item and "secret_sha256" not in item for item in listing)
