"""Case work through the API: bulk rejection, undo within the window, assignment to an
officer and internal notes, and the case view's order and query count."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import event

from matcher.services import cases, review
from matcher.services.access import Conflict, Principal
from tests.api.conftest import Api


def _key_id(key: str) -> str:
    return key.split("_")[1]


def _proposals_of(api: Api, need: str, state: str = "proposed") -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = api.call("GET", f"/v1/proposals?state={state}&limit=200&offset={offset}", "secretariat").json()
        found += [item for item in page["items"] if item["need"]["id"] == need]
        offset = page["next_offset"]
    return found


def _audit(api: Api, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
    page = api.call(
        "GET", f"/v1/audit?entity_type={entity_type}&entity_id={entity_id}&limit=200", "secretariat"
    )
    return list(page.json()["items"])


def test_bulk_reject_is_all_or_nothing_with_one_audit_event_per_proposal(api: Api) -> None:
    need = api.new_need(title="Mercury waste from dental clinics")
    proposals = [item["id"] for item in _proposals_of(api, need)]
    assert len(proposals) >= 4
    first, *others = proposals
    assert (
        api.call("POST", f"/v1/proposals/{first}/reject", "secretariat", {"reason": "Closed"}).status_code
        == 200
    )

    mixed = api.call(
        "POST", "/v1/proposals/bulk-reject", "secretariat", {"proposals": proposals[:3], "reason": "x"}
    )
    assert mixed.status_code == 409 and str(first) in mixed.json()["error"]["message"]
    assert all(item["state"] == "proposed" for item in _proposals_of(api, need) if item["id"] in others[:2])

    assert (
        api.call(
            "POST", "/v1/proposals/bulk-reject", "secretariat", {"proposals": others[:3], "reason": " "}
        ).status_code
        == 422
    )
    assert (
        api.call(
            "POST", "/v1/proposals/bulk-reject", "party", {"proposals": others[:3], "reason": "no"}
        ).status_code
        == 403
    )

    chosen = sorted(others[:3], reverse=True)
    done = api.call(
        "POST",
        "/v1/proposals/bulk-reject",
        "secretariat",
        {"proposals": chosen, "reason": "Call closed for 2027"},
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"rejected": sorted(chosen), "count": 3}
    rejected = {item["id"]: item for item in _proposals_of(api, need, "rejected")}
    assert all(rejected[number]["reject_reason"] == "Call closed for 2027" for number in chosen)
    events = api.call("GET", "/v1/audit?action=match.reject&limit=200", "secretariat").json()["items"]
    audited = [int(event["entity_id"]) for event in events if int(event["entity_id"]) in chosen]
    assert audited == sorted(chosen)  # one event each, in order


def test_undo_restores_proposed_and_the_need_in_order_then_refuses_after_the_window(api: Api) -> None:
    need = api.new_need(title="Interim storage of mercury")
    first, second = (item["id"] for item in _proposals_of(api, need)[:2])
    assert api.call("POST", f"/v1/proposals/{first}/accept", "secretariat").json()["state"] == "accepted"
    assert api.call("GET", f"/v1/needs/{need}", "party").json()["status"] == "matched"

    undone = api.call("POST", f"/v1/proposals/{first}/undo", "secretariat")
    assert undone.status_code == 200, undone.text
    assert undone.json()["state"] == "proposed" and undone.json()["decided_at"] is None
    assert api.call("GET", f"/v1/needs/{need}", "party").json()["status"] == "in_review"
    assert (
        api.call("POST", f"/v1/proposals/{first}/undo", "secretariat").status_code == 409
    )  # nothing to undo
    assert api.call("POST", f"/v1/proposals/{first}/undo", "party").status_code == 403

    trail = [event["action"] for event in _audit(api, "match", str(first))]
    assert trail[-2:] == ["match.accept", "match.undo"]
    undo_event = _audit(api, "match", str(first))[-1]
    assert undo_event["before"]["state"] == "accepted" and undo_event["after"]["state"] == "proposed"
    need_trail = [event["action"] for event in _audit(api, "need", need)]
    assert need_trail[-2:] == ["need.matched", "need.unmatched"]

    api.call("POST", f"/v1/proposals/{second}/reject", "secretariat", {"reason": "Wrong region"})
    again = api.call("POST", f"/v1/proposals/{second}/undo", "secretariat").json()
    assert again["state"] == "proposed" and again["reject_reason"] is None

    api.call("POST", f"/v1/proposals/{second}/accept", "secretariat")
    staff = Principal(key_id=_key_id(api.keys["secretariat"]), role="secretariat")
    with api.client.app.state.store.sessions() as session:  # type: ignore[attr-defined]
        match = review.get_proposal(session, staff, second)
        later = match.decided_at + dt.timedelta(minutes=11)
        with pytest.raises(Conflict, match="within 10 minute"):
            review.undo_decision(
                session,
                staff,
                second,
                window=dt.timedelta(minutes=10),
                matching=api.client.app.state.matching,  # type: ignore[attr-defined]
                now=later,
            )


def test_assignment_and_notes_are_for_the_secretariat_and_audited(api: Api) -> None:
    need = api.new_need(title="Amalgam separators for clinics")
    officer = api.call(
        "POST", "/v1/keys", "admin", {"role": "secretariat", "label": "Ana Ruiz (Africa desk)"}
    ).json()
    assigned = api.call("POST", f"/v1/needs/{need}/assign", "secretariat", {"officer": officer["id"]})
    assert assigned.status_code == 200, assigned.text
    body = assigned.json()
    assert body["officer"]["label"] == "Ana Ruiz (Africa desk)" and body["officer"]["role"] == "secretariat"
    party_key = _key_id(api.keys["party"])
    refused = api.call("POST", f"/v1/needs/{need}/assign", "secretariat", {"officer": party_key})
    assert refused.status_code == 422

    note = api.call(
        "POST", f"/v1/needs/{need}/notes", "secretariat", {"text": "Focal point confirms the budget."}
    )
    assert note.status_code == 201
    assert (
        note.json()["author"]["role"] == "secretariat"
        and note.json()["text"] == "Focal point confirms the budget."
    )
    listed = api.call("GET", f"/v1/needs/{need}/notes", "secretariat").json()["items"]
    assert [item["text"] for item in listed] == ["Focal point confirms the budget."]
    assert api.call("GET", f"/v1/needs/{need}/notes", "party").status_code == 403
    assert api.call("GET", f"/v1/needs/{need}/notes", "other_party").status_code == 404
    assert api.call("POST", f"/v1/needs/{need}/notes", "secretariat", {"text": "  "}).status_code == 422

    actions = [event["action"] for event in _audit(api, "need", need)]
    assert "case.assign" in actions and "case.note" in actions
    assign_event = next(event for event in _audit(api, "need", need) if event["action"] == "case.assign")
    assert assign_event["before"] == {"officer": None} and assign_event["after"] == {"officer": officer["id"]}

    # The Party never reads the note, nor its audit event, on its page.
    api.web_session("party")
    page = api.client.get(f"/needs/{need}")
    assert page.status_code == 200 and "Focal point confirms" not in page.text and "Ana Ruiz" not in page.text
    api.web_session("secretariat")
    staff_page = api.client.get(f"/needs/{need}")
    assert (
        "Focal point confirms the budget." in staff_page.text and "Ana Ruiz (Africa desk)" in staff_page.text
    )
    api.client.cookies.clear()


def test_cases_come_in_priority_order_with_a_fixed_number_of_queries(api: Api) -> None:
    soon, later = (dt.date.today() + dt.timedelta(days=days) for days in (20, 90))
    filed = {
        "KEN": api.new_need("secretariat", party="KEN", title="Kenya, no deadline"),
        "BOL": api.new_need("secretariat", party="BOL", title="Bolivia, later", deadline=later.isoformat()),
        "PER": api.new_need("secretariat", party="PER", title="Peru, soon", deadline=soon.isoformat()),
        "FJI": api.new_need("secretariat", party="FJI", title="Fiji (SIDS)"),
        "SEN": api.new_need("secretariat", party="SEN", title="Senegal (LDC)", deadline=later.isoformat()),
    }
    staff = Principal(key_id=_key_id(api.keys["secretariat"]), role="secretariat")
    store = api.client.app.state.store  # type: ignore[attr-defined]
    with store.sessions() as session:
        page = cases.list_cases(session, staff, cases.CaseFilters(), limit=200, offset=0)
        order = [case.need.id for case in page.items]
        positions = {party: order.index(need) for party, need in filed.items()}
        assert positions["SEN"] < positions["FJI"] < positions["PER"] < positions["BOL"] < positions["KEN"]
        one = next(case for case in page.items if case.need.id == filed["PER"])
        assert one.proposals and all(match.need_id == filed["PER"] for match in one.proposals)
        assert [match.score for match in one.proposals] == sorted(
            (m.score for m in one.proposals), reverse=True
        )

        statements: list[str] = []
        this_thread = threading.get_ident()

        def count(*args: Any) -> None:
            # Only this test's statements: the service's background threads (the catalogue
            # follower's poll, the job runner) use the same engine.
            if threading.get_ident() == this_thread:
                statements.append(str(args[2]))

        event.listen(store.engine, "before_cursor_execute", count)
        try:
            for limit in (2, 8):
                statements.clear()
                session.expunge_all()
                shown = cases.list_cases(session, staff, cases.CaseFilters(), limit=limit, offset=0)
                for case in shown.items:  # what the page reads of each case
                    _ = [(match.offering.title, match.need.party.ldc) for match in case.proposals]
                if limit == 2:
                    few = len(statements)
            assert len(statements) == few <= 6
        finally:
            event.remove(store.engine, "before_cursor_execute", count)
