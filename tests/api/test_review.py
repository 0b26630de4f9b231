"""Matching runs, the review workflow and the audit trail, through HTTP on both engines."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

GOLD = "Orpaillage sans mercure à Kédougou"
GOLD_TEXT = (
    "Les orpailleurs de Kédougou amalgament l'or avec du mercure. Nous demandons une formation "
    "aux méthodes sans mercure et des équipements de concentration gravimétrique."
)


def _queue(api: Api, role: str, **filters: Any) -> list[dict[str, Any]]:
    query = "&".join(f"{key}={value}" for key, value in {"limit": 200, **filters}.items())
    response = api.call("GET", f"/v1/proposals?{query}", role)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _for(items: list[dict[str, Any]], need_id: str) -> list[dict[str, Any]]:
    return [item for item in items if item["need"]["id"] == need_id]


def test_full_lifecycle(api: Api) -> None:
    # A provider's programme that speaks to the need, so the provider's view can be checked.
    unep = api.new_offering(
        title=GOLD, description=GOLD_TEXT + " Offert aux pays d'Afrique.", sectors=["asgm"]
    )
    created = api.call("POST", "/v1/needs", "party", {"title": GOLD, "description": GOLD_TEXT})
    need = created.json()
    assert need["language"] == "fr"

    # Filing matched it already (automatic matching, ten proposals); a run to five trims the rest.
    assert need["status"] == "in_review"
    assert len(_for(_queue(api, "secretariat", state="proposed", party="KEN"), need["id"])) == 10
    run = api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 5})
    assert run.status_code == 201
    assert run.json()["dropped"] >= 5 and run.json()["summary"].startswith("proposals: ")
    proposed = _for(_queue(api, "secretariat", state="proposed", party="KEN"), need["id"])
    assert len(proposed) == 5
    assert api.call("GET", f"/v1/needs/{need['id']}", "party").json()["status"] == "in_review"
    created_times = [item["created_at"] for item in _queue(api, "secretariat")]
    assert created_times == sorted(created_times)  # oldest first

    # Nobody but the secretariat sees undecided proposals.
    assert _for(_queue(api, "party"), need["id"]) == []
    assert _for(_queue(api, "provider"), need["id"]) == []
    assert api.call("GET", f"/v1/needs/{need['id']}/matches", "party").json()["results"] == []

    chosen = next(item for item in proposed if item["offering"]["id"] == unep)
    other = next(item for item in proposed if item["offering"]["id"] != unep)
    accepted = api.call("POST", f"/v1/proposals/{chosen['id']}/accept", "secretariat")
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    rejected = api.call(
        "POST", f"/v1/proposals/{other['id']}/reject", "secretariat", {"reason": "Call closed."}
    )
    assert rejected.json()["state"] == "rejected" and rejected.json()["reject_reason"] == "Call closed."

    party_view = _for(_queue(api, "party"), need["id"])
    assert [item["id"] for item in party_view] == [chosen["id"]]
    assert "reject_reason" not in party_view[0] or party_view[0]["reject_reason"] is None
    matches = api.call("GET", f"/v1/needs/{need['id']}/matches", "party").json()["results"]
    assert [item["offering_id"] for item in matches] == [unep] and matches[0]["state"] == "accepted"
    provider_view = _for(_queue(api, "provider"), need["id"])
    assert [item["id"] for item in provider_view] == [chosen["id"]]
    assert provider_view[0]["need"]["description"] == GOLD_TEXT  # not confidential
    assert _for(_queue(api, "other_provider"), need["id"]) == []
    assert _for(_queue(api, "other_party"), need["id"]) == []
    assert api.call("GET", f"/v1/needs/{need['id']}", "party").json()["status"] == "matched"

    introduced = api.call("POST", f"/v1/proposals/{chosen['id']}/introduce", "secretariat")
    assert introduced.json()["state"] == "introduced" and introduced.json()["introduced_at"]

    # The audit trail shows each step, in order, with the right actor.
    events = _all_audit(api)
    start = next(
        i for i, e in enumerate(events) if e["action"] == "need.create" and e["entity_id"] == need["id"]
    )
    mine = {need["id"], str(chosen["id"]), str(other["id"])}
    steps = [
        (event["action"], event["actor_role"])
        for event in events[start:]
        if event["entity_id"] in mine or event["action"] == "matching.run"
    ]
    assert steps[:7] == [
        ("need.create", "party"),
        ("matching.auto", "admin"),  # the system, acting on the filing
        ("matching.run", "secretariat"),
        ("need.matched", "secretariat"),
        ("match.accept", "secretariat"),
        ("match.reject", "secretariat"),
        ("match.introduce", "secretariat"),
    ]
    assert events[start]["actor"] != events[start + 1]["actor"]  # a party key, then a secretariat key


def _all_audit(api: Api) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = api.call("GET", f"/v1/audit?limit=200&offset={offset}", "secretariat").json()
        events.extend(page["items"])
        offset = page["next_offset"]
    return events


def test_rerun_keeps_decisions_and_never_reproposes_a_rejection(api: Api) -> None:
    need = api.new_need(
        title="Déchets de mercure des hôpitaux",
        description="Nos hôpitaux ont besoin d'un stockage sûr des déchets de thermomètres au mercure.",
    )
    api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 4})
    first = _for(_queue(api, "secretariat", state="proposed"), need)
    assert len(first) == 4
    refused = first[0]
    assert (
        api.call(
            "POST", f"/v1/proposals/{refused['id']}/reject", "secretariat", {"reason": "Not eligible"}
        ).status_code
        == 200
    )
    report = api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 4}).json()
    assert report["kept"] >= 4
    again = _for(_queue(api, "secretariat"), need)
    states = {item["offering"]["id"]: item["state"] for item in again}
    assert states[refused["offering"]["id"]] == "rejected"  # still rejected, not proposed again
    assert sum(1 for state in states.values() if state == "proposed") == 4  # the slot was refilled
    # A smaller k drops undecided proposals but never the decision.
    smaller = api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 2}).json()
    assert smaller["dropped"] >= 2
    after = _for(_queue(api, "secretariat"), need)
    assert sum(1 for item in after if item["state"] == "proposed") == 2
    assert any(item["state"] == "rejected" for item in after)


def test_every_invalid_transition_is_409_with_the_allowed_ones(api: Api) -> None:
    need = api.new_need(
        title="Amalgame dentaire", description="Nos dentistes ont besoin de séparateurs d'amalgame."
    )
    api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 3})
    a, b, c = (item["id"] for item in _for(_queue(api, "secretariat", state="proposed"), need)[:3])
    assert (
        api.call("POST", f"/v1/proposals/{a}/introduce", "secretariat").status_code == 409
    )  # proposed → introduced
    missing_reason = api.call("POST", f"/v1/proposals/{a}/reject", "secretariat", {"reason": "  "})
    assert missing_reason.status_code == 422
    api.call("POST", f"/v1/proposals/{a}/accept", "secretariat")
    api.call("POST", f"/v1/proposals/{b}/reject", "secretariat", {"reason": "Duplicate"})
    expectations = [
        (a, "accept", "allowed from accepted: introduced"),
        (a, "reject", "allowed from accepted: introduced"),
        (b, "accept", "allowed from rejected: none"),
        (b, "introduce", "allowed from rejected: none"),
        (b, "reject", "allowed from rejected: none"),
    ]
    for proposal, action, allowed in expectations:
        body = {"reason": "x"} if action == "reject" else None
        response = api.call("POST", f"/v1/proposals/{proposal}/{action}", "secretariat", body)
        assert response.status_code == 409, (proposal, action)
        assert allowed in response.json()["error"]["message"]
    api.call("POST", f"/v1/proposals/{a}/introduce", "secretariat")
    for action in ("accept", "introduce"):
        response = api.call("POST", f"/v1/proposals/{a}/{action}", "secretariat")
        assert (
            response.status_code == 409
            and "allowed from introduced: none" in response.json()["error"]["message"]
        )
    assert api.call("POST", f"/v1/proposals/{c}/accept", "admin").status_code == 200


def test_confidential_need_in_an_accepted_proposal_shows_the_provider_no_text(api: Api) -> None:
    title = "Stock confidentiel de mercure"
    text = "Un stock confidentiel de mercure élémentaire doit être stocké de manière sûre."
    secret = api.new_need(title=title, description=text, confidential=True)
    offering = api.new_offering(title=title, description=text + " Pour tous.", sectors=["storage"])
    api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 5})
    proposal = next(
        p
        for p in _for(_queue(api, "secretariat", state="proposed"), secret)
        if p["offering"]["id"] == offering
    )
    assert _for(_queue(api, "provider"), secret) == []  # not before acceptance
    api.call("POST", f"/v1/proposals/{proposal['id']}/accept", "secretariat")
    seen = _for(_queue(api, "provider"), secret)
    assert len(seen) == 1 and seen[0]["need"]["title"] == title
    assert seen[0]["need"]["description"] is None
    assert seen[0]["explanation"] is None and seen[0]["score"] is None  # no engine internals for providers
    # (the programme's own description repeats the text here, by construction; the need's parts do not)
    assert text not in str({key: value for key, value in seen[0].items() if key != "programme"})
    assert (
        seen[0]["programme"]["description"] and seen[0]["next_step"]["code"] == "await_introduction_provider"
    )


def test_audit_is_read_only_and_filtered(api: Api) -> None:
    events = api.call("GET", "/v1/audit?action=need.create&limit=5", "secretariat").json()
    assert events["items"] and all(event["action"] == "need.create" for event in events["items"])
    first = events["items"][0]["id"]
    for method in ("PATCH", "PUT", "DELETE", "POST"):
        assert api.call(method, f"/v1/audit/{first}", "admin").status_code in (404, 405)
        assert api.call(method, "/v1/audit", "admin").status_code == 405


def test_runs_and_decisions_keep_the_service_ready_and_the_donor_view_current(api: Api) -> None:
    """A run moves needs to in_review and an acceptance moves one to matched: the service
    follows both, so /readyz stays 200 and a matched need leaves the donor view."""
    title = "Recyclage des lampes fluorescentes compactes"
    text = "Nous devons collecter et recycler les lampes fluorescentes au mercure des ménages."
    need = api.new_need(title=title, description=text)
    offering = api.new_offering(title=title, description=text + " Ouvert à tous.", sectors=["products"])
    assert api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 3}).status_code == 201
    assert api.client.get("/readyz").status_code == 200, api.client.get("/readyz").text
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=100", "secretariat").json()["results"]
    assert need in {item["need_id"] for item in donor}
    proposal = next(
        item
        for item in _for(_queue(api, "secretariat", state="proposed"), need)
        if item["offering"]["id"] == offering
    )
    assert api.call("POST", f"/v1/proposals/{proposal['id']}/accept", "secretariat").status_code == 200
    assert api.client.get("/readyz").status_code == 200, api.client.get("/readyz").text
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=100", "secretariat").json()["results"]
    assert need not in {item["need_id"] for item in donor}


def test_a_decision_through_the_api_reaches_the_next_ranking_of_a_similar_need(api: Api) -> None:
    text = "Artisanal gold miners in our river basins burn mercury amalgam in the open and need retorts."
    first = api.new_need("secretariat", party="GHA", title="Gold miners burn amalgam", description=text)
    second = api.new_need("secretariat", party="GHA", title="Gold miners burn amalgam", description=text)
    proposals = _for(_queue(api, "secretariat", state="proposed"), first)
    chosen = sorted(proposals, key=lambda item: item["rank"])[2]
    accepted = api.call("POST", f"/v1/proposals/{chosen['id']}/accept", "secretariat")
    assert accepted.status_code == 200 and accepted.json()["model_version"] == "hand-set"
    ranking = api.call("GET", f"/v1/needs/{second}/matches?k=20", "secretariat").json()
    assert ranking["model_version"] == "hand-set"
    result = next(item for item in ranking["results"] if item["offering_id"] == chosen["offering"]["id"])
    record = result["explanation"]["track_record"]
    assert first in [example["need_id"] for example in record["examples"]]
    assert result["explanation"]["components"]["history_served"] > 0
    track = api.call("GET", f"/v1/offerings/{chosen['offering']['id']}/track-record", "secretariat").json()
    assert first in [need["need_id"] for need in track["needs"]]
