"""From request to result through HTTP: automatic matching, closing, verification,
interest, outcomes and the lifecycle, on both engines."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy import update

from tests.api.conftest import Api

LAMPS = {
    "title": "Collecte des lampes fluorescentes usagées",
    "description": "Nos communes veulent collecter les lampes fluorescentes usagées contenant du mercure "
    "et les stocker de façon sûre avant leur traitement.",
}


def _proposals(api: Api, need_id: str, state: str | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    query = f"&state={state}" if state else ""
    while offset is not None:
        page = api.call("GET", f"/v1/proposals?limit=200&offset={offset}{query}", "secretariat").json()
        found += [item for item in page["items"] if item["need"]["id"] == need_id]
        offset = page["next_offset"]
    return found


def test_a_filed_need_gets_proposals_without_a_run_and_loses_them_when_withdrawn(api: Api) -> None:
    need = api.call("POST", "/v1/needs", "party", LAMPS).json()
    deadline = time.monotonic() + 5
    while not _proposals(api, need["id"], "proposed") and time.monotonic() < deadline:
        time.sleep(0.2)
    proposed = _proposals(api, need["id"], "proposed")
    assert len(proposed) == 10  # MATCHER_PROPOSALS_PER_NEED, with no run triggered
    live = api.call("GET", f"/v1/needs/{need['id']}/matches", "secretariat").json()["results"]
    assert {item["offering"]["id"] for item in proposed} == {item["offering_id"] for item in live}

    withdrawn = api.call(
        "POST", f"/v1/needs/{need['id']}/withdraw", "party", {"reason": "Funded nationally."}
    )
    assert withdrawn.status_code == 200
    assert (
        withdrawn.json()["status"] == "withdrawn"
        and withdrawn.json()["withdraw_reason"] == "Funded nationally."
    )
    assert _proposals(api, need["id"], "proposed") == []
    closed = _proposals(api, need["id"], "closed")
    assert len(closed) == 10 and {item["close_reason"] for item in closed} == {"need_withdrawn"}
    events = api.call("GET", "/v1/audit?action=match.close&limit=200", "secretariat").json()["items"]
    assert {str(item["id"]) for item in closed} <= {event["entity_id"] for event in events}


def test_a_new_programme_enters_the_proposals_of_the_need_it_was_written_for(api: Api) -> None:
    need = api.new_need(
        "party",
        title="Amalgam separators for dental clinics in Mombasa",
        description="Forty public dental clinics in Mombasa need amalgam separators and training "
        "to phase down dental amalgam under the Minamata Convention.",
    )
    before = {item["offering"]["id"] for item in _proposals(api, need, "proposed")}
    offering = api.new_offering(
        "secretariat",
        provider_id="dental-fund",
        provider="Dental Fund",
        title="Amalgam separators for dental clinics",
        description="Amalgam separators and training for public dental clinics phasing down dental "
        "amalgam under the Minamata Convention, in Kenya and Mombasa.",
        sectors=["dental-amalgam"],
        verified=True,
    )
    after = {item["offering"]["id"]: item for item in _proposals(api, need, "proposed")}
    assert offering not in before and offering in after  # no run: the write re-matched the need
    assert len(after) == 10

    # Deactivated: its undecided proposal closes and the slot is filled again.
    assert api.call("PATCH", f"/v1/offerings/{offering}", "secretariat", {"active": False}).status_code == 200
    refilled = {item["offering"]["id"] for item in _proposals(api, need, "proposed")}
    assert offering not in refilled and len(refilled) == 10
    closed = [item for item in _proposals(api, need, "closed") if item["offering"]["id"] == offering]
    assert closed and closed[0]["close_reason"] == "offering_inactive"

    # Reactivated: the closed pairing is proposed again (reopened, not duplicated).
    assert api.call("PATCH", f"/v1/offerings/{offering}", "secretariat", {"active": True}).status_code == 200
    reopened = [item for item in _proposals(api, need) if item["offering"]["id"] == offering]
    assert len(reopened) == 1 and reopened[0]["state"] == "proposed"


def test_decisions_survive_changes_and_a_matched_need_closes_its_remaining_proposals(api: Api) -> None:
    need = api.new_need("party", **LAMPS)
    first, second = _proposals(api, need, "proposed")[:2]
    assert api.call("POST", f"/v1/proposals/{first['id']}/accept", "secretariat").status_code == 200
    rejected = api.call(
        "POST", f"/v1/proposals/{second['id']}/reject", "secretariat", {"reason": "Closed call."}
    )
    assert rejected.status_code == 200
    # The Party edits its (now matched) need: decisions stay as they were.
    changed = api.call("PATCH", f"/v1/needs/{need}", "party", {"budget_usd": 40000})
    assert changed.status_code == 200
    states = {item["id"]: item["state"] for item in _proposals(api, need)}
    assert states[first["id"]] == "accepted" and states[second["id"]] == "rejected"

    remaining = [item for item in _proposals(api, need, "proposed")]
    assert remaining
    result = api.call("POST", f"/v1/needs/{need}/close-remaining", "secretariat")
    assert result.status_code == 200 and result.json()["closed"] == len(remaining)
    assert _proposals(api, need, "proposed") == []
    assert {item["close_reason"] for item in _proposals(api, need, "closed")} == {"need_matched"}
    again = api.call("POST", f"/v1/needs/{need}/close-remaining", "secretariat")
    assert again.status_code == 200 and again.json()["closed"] == 0


def test_the_party_sees_what_to_act_on_and_no_engine_internals(api: Api) -> None:
    need = api.new_need("party", **LAMPS)
    proposal = _proposals(api, need, "proposed")[0]
    offering = proposal["offering"]["id"]
    api.call(
        "PATCH",
        f"/v1/offerings/{offering}",
        "secretariat",
        {
            "contact": "mercury@example.org",
            "how_to_apply": "Send a two-page concept note.",
            "url": "https://example.org/p",
        },
    )
    assert api.call("POST", f"/v1/proposals/{proposal['id']}/accept", "secretariat").status_code == 200
    seen = api.call("GET", f"/v1/proposals/{proposal['id']}", "party").json()
    assert seen["score"] is None and seen["explanation"] is None and seen["rank"] is None
    programme = seen["programme"]
    assert programme["contact"] == "mercury@example.org" and programme["url"] == "https://example.org/p"
    assert programme["how_to_apply"] == "Send a two-page concept note." and programme["description"]
    assert seen["next_step"]["code"] == "await_introduction"
    staff = api.call("GET", f"/v1/proposals/{proposal['id']}", "secretariat").json()
    assert staff["score"] is not None and staff["explanation"]["components"]
    assert staff.get("programme") is None


def test_outcomes_are_recorded_after_introduction_and_audited(api: Api) -> None:
    need = api.new_need("party", **LAMPS)
    proposal = _proposals(api, need, "proposed")[0]["id"]
    early = api.call("POST", f"/v1/proposals/{proposal}/outcome", "secretariat", {"outcome": "agreed"})
    assert early.status_code == 409
    api.call("POST", f"/v1/proposals/{proposal}/accept", "secretariat")
    api.call("POST", f"/v1/proposals/{proposal}/introduce", "secretariat")
    no_reason = api.call("POST", f"/v1/proposals/{proposal}/outcome", "secretariat", {"outcome": "declined"})
    assert no_reason.status_code == 422 and "body.note" in no_reason.text
    half = api.call(
        "POST", f"/v1/proposals/{proposal}/outcome", "secretariat", {"outcome": "funded", "amount": 5000}
    )
    assert half.status_code == 422 and "body.currency" in half.text
    funded = api.call(
        "POST",
        f"/v1/proposals/{proposal}/outcome",
        "secretariat",
        {"outcome": "funded", "amount": 250000, "currency": "usd"},
    )
    assert funded.status_code == 200
    assert funded.json()["outcome"] == {
        **funded.json()["outcome"],
        "outcome": "funded",
        "amount": 250000,
        "currency": "USD",
    }
    party = api.call("GET", f"/v1/proposals/{proposal}", "party").json()
    assert party["outcome"]["outcome"] == "funded"
    events = api.call("GET", f"/v1/audit?entity_id={proposal}&action=match.outcome", "secretariat").json()
    assert len(events["items"]) == 1 and events["items"][0]["after"]["outcome"] == "funded"


def test_verification_queue_and_reset_on_a_providers_change(api: Api) -> None:
    offering = api.new_offering("provider", title="Lamp recycling support")
    assert api.call("GET", f"/v1/offerings/{offering}", "party").json()["verified"] is False
    unverified = api.call("GET", "/v1/offerings?verified=false&limit=200", "secretariat").json()["items"]
    assert offering in {item["id"] for item in unverified}
    verified = api.call("POST", f"/v1/offerings/{offering}/verify", "secretariat")
    assert verified.status_code == 200 and verified.json()["verified"] is True
    # A provider's new description sets it back to unverified (audited); a new capacity does not.
    api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"capacity": 4})
    assert api.call("GET", f"/v1/offerings/{offering}", "party").json()["verified"] is True
    api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"description": "Now also batteries."})
    assert api.call("GET", f"/v1/offerings/{offering}", "party").json()["verified"] is False
    audit = api.call("GET", f"/v1/audit?entity_id={offering}&action=offering.update", "secretariat").json()[
        "items"
    ]
    assert audit[-1]["after"]["verified"] is False and audit[-1]["before"]["verified"] is True
    # Staff may still set the flag through a change.
    assert (
        api.call("PATCH", f"/v1/offerings/{offering}", "secretariat", {"verified": True}).json()["verified"]
        is True
    )

    doubtful = api.new_offering("provider", title="Doubtful programme")
    refused = api.call("POST", f"/v1/offerings/{doubtful}/reject", "secretariat", {"reason": "No source."})
    assert refused.status_code == 200 and refused.json()["active"] is False
    assert (
        api.call("POST", f"/v1/offerings/{offering}/reject", "secretariat", {"reason": "x"}).status_code
        == 409
    )


def test_interest_is_for_the_providers_own_programme_and_visible_needs(api: Api) -> None:
    need = api.new_need("party", **LAMPS)
    offering = api.items["offering"]  # unep's
    first = api.call(
        "POST", f"/v1/offerings/{offering}/interest", "provider", {"need_id": need, "note": "We can help."}
    )
    assert first.status_code == 201 and first.json()["note"] == "We can help."
    again = api.call(
        "POST", f"/v1/offerings/{offering}/interest", "provider", {"need_id": need, "note": "Updated."}
    )
    assert again.status_code == 201
    listed = api.call("GET", f"/v1/needs/{need}/interests", "secretariat").json()["items"]
    assert [(item["offering_id"], item["note"]) for item in listed] == [(offering, "Updated.")]
    assert (
        api.call(
            "POST", f"/v1/offerings/{offering}/interest", "other_provider", {"need_id": need}
        ).status_code
        == 403
    )
    secret = api.items["secret_need"]
    assert (
        api.call("POST", f"/v1/offerings/{offering}/interest", "provider", {"need_id": secret}).status_code
        == 404
    )
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=100", "provider").json()["results"]
    flagged = [item for item in donor if item["need_id"] == need]
    assert flagged and flagged[0]["need"]["interest"] is True
    assert flagged[0]["need"]["gloss"]  # a French need gets an English gloss
    assert "reason" in flagged[0] and isinstance(flagged[0]["reason"]["sectors"], list)


def test_the_donor_cut_off_leaves_out_needs_that_do_not_fit(api: Api) -> None:
    offering = api.items["offering"]
    everything = api.call(
        "GET", f"/v1/offerings/{offering}/matches?k=100&min_score=-10", "secretariat"
    ).json()
    scores = sorted(item["score"] for item in everything["results"])
    assert len(scores) >= 2
    middle = scores[len(scores) // 2]
    cut = api.call("GET", f"/v1/offerings/{offering}/matches?k=100&min_score={middle}", "secretariat").json()
    assert cut["min_score"] == middle
    assert [item["score"] for item in cut["results"]] == [
        s for s in sorted(scores, reverse=True) if s >= middle
    ]


def test_the_lifecycle_asks_idle_needs_to_reconfirm_then_closes_them(api: Api) -> None:
    from matcher.services.lifecycle import run_lifecycle
    from matcher.store.models import Need

    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    idle = api.new_need("party", **LAMPS)
    kept = api.new_need("party", **LAMPS)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    with sessions() as session:
        session.execute(update(Need).where(Need.id.in_([idle, kept])).values(updated_at=long_ago))
        session.commit()
        report = run_lifecycle(session, reconfirm_after_days=180, grace_days=30)
        session.commit()
    assert report.asked_to_reconfirm >= 2
    assert api.call("POST", f"/v1/needs/{kept}/reconfirm", "party").status_code == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    with sessions() as session:
        report = run_lifecycle(session, reconfirm_after_days=180, grace_days=30, now=later)
        session.commit()
    assert api.call("GET", f"/v1/needs/{idle}", "party").json()["status"] == "closed"
    assert api.call("GET", f"/v1/needs/{kept}", "party").json()["status"] == "in_review"
    assert _proposals(api, idle, "proposed") == []
    assert {item["close_reason"] for item in _proposals(api, idle, "closed")} == {"need_closed"}
    assert api.call("POST", f"/v1/needs/{idle}/reconfirm", "party").status_code == 409


def test_proposals_of_a_programme_past_its_closing_date_are_closed(api: Api) -> None:
    from matcher.services.lifecycle import run_lifecycle
    from matcher.store.models import Offering

    need = api.new_need("party", **LAMPS)
    proposal = _proposals(api, need, "proposed")[0]
    offering = proposal["offering"]["id"]
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    with sessions() as session:  # time passes: the call closed yesterday
        yesterday = dt.date.today() - dt.timedelta(days=1)
        session.execute(update(Offering).where(Offering.id == offering).values(closes=yesterday))
        session.commit()
        report = run_lifecycle(session, reconfirm_after_days=10_000, grace_days=30)
        session.commit()
    assert report.proposals_closed >= 1
    closed = [item for item in _proposals(api, need, "closed") if item["offering"]["id"] == offering]
    assert closed and closed[0]["close_reason"] == "offering_closed"
    with sessions() as session:
        session.execute(update(Offering).where(Offering.id == offering).values(closes=None))
        session.commit()
