"""Confidential means confidential: walk every response a provider can get that could
mention a confidential need, and find nothing of the need beyond what the role table
allows (README, "Who may do what"): its id, Party, title, language and the confidential
flag, in an accepted or introduced proposal for one of the provider's own offerings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import Api

# Distinctive values, so any trace of them in a response is a leak.
TITLE = "Stock confidentiel de mercure élémentaire"
DESCRIPTION = (
    "Un stock confidentiel de mercure élémentaire doit être stocké de manière sûre près de Quelimane. "
    "Le Zanzibarite de cinabre provient d'une ancienne mine."
)
BUDGET = 987_654.5
DEADLINE = "2031-07-19"
SECRET_WORDS = ("Quelimane", "Zanzibarite", "cinabre", "987654", "2031-07-19")

ALLOWED_NEED_FIELDS = {"id", "party", "title", "language", "confidential", "description"}


@pytest.fixture(scope="module")
def secret(api: Api) -> dict[str, str]:
    """A confidential need with a budget and a deadline, matched to the provider's offering,
    accepted by the secretariat."""
    need = api.new_need(
        title=TITLE,
        description=DESCRIPTION,
        confidential=True,
        budget_usd=BUDGET,
        deadline=DEADLINE,
        sectors=["storage"],
    )
    offering = api.new_offering(
        title=TITLE,
        description="Un stock de mercure élémentaire doit être stocké de manière sûre. Pour tous.",
        sectors=["storage"],
        funding_max_usd=1000,
    )
    assert api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 5}).status_code == 201
    queue = api.call("GET", "/v1/proposals?state=proposed&party=KEN&limit=200", "secretariat").json()["items"]
    proposal = next(p for p in queue if p["need"]["id"] == need and p["offering"]["id"] == offering)
    # The staff view has everything the provider must not see: the test can tell a leak.
    assert proposal["explanation"]["budget"]["need_budget_usd"] == BUDGET
    assert proposal["explanation"]["sentence_pair"] and proposal["explanation"]["matched_terms"]
    accepted = api.call("POST", f"/v1/proposals/{proposal['id']}/accept", "secretariat")
    assert accepted.status_code == 200
    return {"need": need, "offering": offering, "proposal": str(proposal["id"])}


def _every_page(api: Api, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        response = api.call(
            "GET", f"{path}{'&' if '?' in path else '?'}limit=200&offset={offset}", "provider"
        )
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        offset = response.json()["next_offset"]
    return items


def _no_secret_text(text: str) -> None:
    for word in SECRET_WORDS:
        assert word not in text, word


def _check_proposal(item: dict[str, Any]) -> None:
    assert set(item["need"]) <= ALLOWED_NEED_FIELDS, set(item["need"])
    assert item["need"]["description"] is None
    # No engine internals at all for a provider (nor a Party): the explanation is staff-only.
    assert not item.get("explanation") and item.get("score") is None
    assert item.get("reject_reason") is None and item.get("reviewer") is None
    _no_secret_text(json.dumps(item, ensure_ascii=False))


def test_provider_api_responses_carry_nothing_of_a_confidential_need(
    api: Api, secret: dict[str, str]
) -> None:
    need, offering, proposal = secret["need"], secret["offering"], secret["proposal"]
    # Needs: neither listed nor readable, nor their matches.
    assert need not in {item["id"] for item in _every_page(api, "/v1/needs")}
    for path in (f"/v1/needs/{need}", f"/v1/needs/{need}/matches"):
        hidden = api.call("GET", path, "provider")
        assert hidden.status_code in (403, 404)
        _no_secret_text(hidden.text)
        assert TITLE not in hidden.text
    # Proposals: the accepted one is listed and readable, with only the allowed fields.
    listed = [item for item in _every_page(api, "/v1/proposals") if item["need"]["id"] == need]
    assert [item["id"] for item in listed] == [int(proposal)]
    _check_proposal(listed[0])
    single = api.call("GET", f"/v1/proposals/{proposal}", "provider")
    assert single.status_code == 200
    _check_proposal(single.json())
    assert single.json()["need"]["title"] == TITLE  # what the role table allows is still there
    # The donor view leaves confidential needs out altogether.
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=100", "provider")
    assert donor.status_code == 200
    assert need not in {item["need_id"] for item in donor.json()["results"]}
    _no_secret_text(donor.text)
    assert TITLE not in donor.text


def test_provider_pages_carry_nothing_of_a_confidential_need(api: Api, secret: dict[str, str]) -> None:
    api.sign_in("provider")
    programmes = api.client.get("/programmes")
    assert programmes.status_code == 200 and TITLE in programmes.text  # the accepted proposal is listed
    _no_secret_text(programmes.text)
    need_page = api.client.get(f"/needs/{secret['need']}")
    assert need_page.status_code == 404
    _no_secret_text(need_page.text)
    assert TITLE not in need_page.text
    edit = api.client.get(f"/programmes/{secret['offering']}")
    assert edit.status_code == 200
    _no_secret_text(edit.text)


def test_the_owning_party_and_the_secretariat_still_see_everything(api: Api, secret: dict[str, str]) -> None:
    for role in ("party", "secretariat"):
        proposal = api.call("GET", f"/v1/proposals/{secret['proposal']}", role).json()
        assert proposal["need"]["description"] == DESCRIPTION
    staff = api.call("GET", f"/v1/proposals/{secret['proposal']}", "secretariat").json()
    assert staff["explanation"]["budget"]["need_budget_usd"] == BUDGET
    need = api.call("GET", f"/v1/needs/{secret['need']}", "party").json()
    assert need["budget_usd"] == BUDGET and need["deadline"] == DEADLINE
