"""The API's behaviour: leaks, validation, consistency, coaching, OpenAPI."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import time
from typing import Any

from sqlalchemy import select

from tests.api.conftest import Api

FRENCH_VAGUE = {
    "title": "Besoin d'appui",
    "description": "Nous manquons de ressources et de capacités pour mettre en œuvre la Convention.",
}


def _ids(response: object) -> set[str]:
    body = response.json()  # type: ignore[attr-defined]
    return {item["id"] for item in body["items"]}


def _all_need_ids(api: Api, role: str) -> set[str]:
    ids: set[str] = set()
    offset: int | None = 0
    while offset is not None:
        page = api.call("GET", f"/v1/needs?limit=200&offset={offset}", role).json()
        ids |= {item["id"] for item in page["items"]}
        offset = page["next_offset"]
    return ids


def test_a_party_never_sees_another_partys_need(api: Api) -> None:
    need = api.items["need"]
    assert need not in _all_need_ids(api, "other_party")
    assert api.call("GET", "/v1/needs?party=KEN", "other_party").json()["items"] == []
    for path in ("/v1/needs/{}", "/v1/needs/{}/matches"):
        hidden = api.call("GET", path.format(need), "other_party")
        missing = api.call("GET", path.format("need-000000000000"), "other_party")
        # Exactly the answer for a need that does not exist: existence does not leak.
        assert hidden.status_code == missing.status_code == 404
        assert hidden.text.replace(need, "need-000000000000") == missing.text
    assert api.call("PATCH", f"/v1/needs/{need}", "other_party", {"title": "x"}).status_code == 404
    assert api.call("POST", f"/v1/needs/{need}/withdraw", "other_party").status_code == 404


def test_confidential_need_never_reaches_a_provider(api: Api) -> None:
    secret = api.items["secret_need"]
    assert secret in _all_need_ids(api, "secretariat")
    assert secret in _all_need_ids(api, "party")
    for role in ("provider", "other_provider"):
        assert secret not in _all_need_ids(api, role)
        assert api.call("GET", f"/v1/needs/{secret}", role).status_code == 404
    donor = api.call("GET", f"/v1/offerings/{api.items['offering']}/matches?k=100", "provider")
    assert donor.status_code == 200
    assert secret not in {item["need_id"] for item in donor.json()["results"]}
    assert "Confidential" not in donor.text
    staff = api.call("GET", f"/v1/offerings/{api.items['offering']}/matches?k=100", "secretariat")
    assert secret in {item["need_id"] for item in staff.json()["results"]}


def test_french_need_gets_language_inferred_codes_coaching_and_ten_proposals(api: Api) -> None:
    created = api.call("POST", "/v1/needs", "party", FRENCH_VAGUE)
    assert created.status_code == 201
    need = created.json()
    # Filing matched it at once (automatic matching): it is in review with proposals.
    assert need["party"] == "KEN" and need["language"] == "fr" and need["status"] == "in_review"
    assert set(need["inferred"]) == {"sectors", "assistance_types"}
    coaching = need["coaching"]
    assert coaching["vague"] is True and coaching["language"] == "fr"
    assert "préciser" in coaching["message"]
    assert {item["field"] for item in coaching["missing"]} >= {"sectors", "details"}
    matches = api.call("GET", f"/v1/needs/{need['id']}/matches?k=10", "secretariat")
    assert matches.status_code == 200
    body = matches.json()
    assert body["vague"] is True and len(body["results"]) == 10
    for result in body["results"]:
        assert set(result) == {"offering_id", "score", "explanation", "offering"}
        assert result["explanation"]["notice"]
    # The owning Party sees no proposal until the secretariat accepts one.
    assert api.call("GET", f"/v1/needs/{need['id']}/matches", "party").json()["results"] == []


def test_validation_names_every_bad_field(api: Api) -> None:
    response = api.call(
        "POST",
        "/v1/needs",
        "party",
        {"title": "", "description": "ok", "sectors": ["waste", "mining"], "budget_usd": -1, "colour": "red"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    locations = {detail["loc"] for detail in error["details"]}
    assert locations == {"body.title", "body.sectors[1]", "body.budget_usd", "body.colour"}
    sector_message = next(d["message"] for d in error["details"] if d["loc"] == "body.sectors[1]")
    assert "'asgm'" in sector_message and "'waste'" in sector_message  # the allowed values are listed


def test_short_text_is_coached_not_rejected_but_size_limits_hold(api: Api) -> None:
    short = api.call("POST", "/v1/needs", "party", {"title": "Help", "description": "Help."})
    assert short.status_code == 201 and short.json()["coaching"]["vague"] is True
    too_long = api.call("POST", "/v1/needs", "party", {"title": "t", "description": "x" * 10_001})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"][0]["loc"] == "body.description"
    huge = json.dumps({"title": "t", "description": "d", "pad": "y" * 70_000})
    response = api.client.post(
        "/v1/needs", content=huge, headers={**api.headers("party"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_malformed_json_unknown_ids_and_conflicts(api: Api) -> None:
    response = api.client.post(
        "/v1/needs", content="{not json", headers={**api.headers("party"), "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"
    assert api.call("GET", "/v1/needs/need-000000000000", "secretariat").status_code == 404
    assert api.call("GET", "/v1/nothing-here", "secretariat").json()["error"]["code"] == "not_found"
    need = api.new_need()
    assert api.call("POST", f"/v1/needs/{need}/withdraw", "party").status_code == 200
    again = api.call("POST", f"/v1/needs/{need}/withdraw", "party")
    assert again.status_code == 409 and "withdrawn" in again.json()["error"]["message"]
    assert api.call("PATCH", f"/v1/needs/{need}", "party", {"title": "New"}).status_code == 409
    bad_range = api.call(
        "POST",
        "/v1/offerings",
        "provider",
        {
            "provider": "UNEP",
            "title": "t",
            "description": "d",
            "funding_min_usd": 10,
            "funding_max_usd": 1,
        },
    )
    assert bad_range.status_code == 422
    assert bad_range.json()["error"]["details"][0]["loc"] == "body.funding_min_usd"


def test_changes_show_in_the_next_match(api: Api) -> None:
    marker = "Zebrafish biomarker laboratory for mercury in fish"
    need = api.new_need(title=marker, description=f"{marker}: we need laboratory support.")
    offering = api.new_offering(
        title=marker, description=f"{marker}, open to all Parties.", sectors=["research-monitoring"]
    )
    ranked = api.call("GET", f"/v1/needs/{need}/matches?k=5", "secretariat").json()["results"]
    assert ranked[0]["offering_id"] == offering
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=5", "provider").json()["results"]
    assert donor[0]["need_id"] == need

    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"active": False}).status_code == 200
    ranked = api.call("GET", f"/v1/needs/{need}/matches?k=100", "secretariat").json()["results"]
    assert offering not in {item["offering_id"] for item in ranked}
    inactive = api.call("GET", f"/v1/offerings/{offering}/matches", "provider")
    assert inactive.status_code == 409 and "inactive" in inactive.json()["error"]["message"]
    assert offering not in _ids(api.call("GET", "/v1/offerings?limit=200", "party"))
    assert offering in _ids(api.call("GET", "/v1/offerings?limit=200&include_inactive=true", "party"))

    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"active": True}).status_code == 200
    assert api.call("POST", f"/v1/needs/{need}/withdraw", "party").status_code == 200
    donor = api.call("GET", f"/v1/offerings/{offering}/matches?k=100", "secretariat").json()["results"]
    assert need not in {item["need_id"] for item in donor}
    assert api.call("GET", f"/v1/needs/{need}/matches", "secretariat").status_code == 409


def test_offerings_from_providers_start_unverified_and_only_staff_verify(api: Api) -> None:
    created = api.call(
        "POST", "/v1/offerings", "provider", {"provider": "UNEP", "title": "t", "description": "d"}
    )
    assert created.json()["verified"] is False
    offering = created.json()["id"]
    claim = api.call(
        "POST",
        "/v1/offerings",
        "provider",
        {"provider": "UNEP", "title": "t", "description": "d", "verified": True},
    )
    assert claim.status_code == 403 and claim.json()["error"]["details"][0]["loc"] == "body.verified"
    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"verified": True}).status_code == 403
    assert (
        api.call("PATCH", f"/v1/offerings/{offering}", "secretariat", {"verified": True}).json()["verified"]
        is True
    )
    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"title": "t2"}).status_code == 200


def test_match_results_name_what_they_point_to(api: Api) -> None:
    results = api.call("GET", f"/v1/needs/{api.items['need']}/matches?k=3", "secretariat").json()["results"]
    assert all(item["offering"]["title"] and item["offering"]["provider"] for item in results)
    donor = api.call("GET", f"/v1/offerings/{api.items['offering']}/matches?k=3", "provider").json()[
        "results"
    ]
    assert donor and all(item["need"]["title"] and item["need"]["party"] for item in donor)


def test_plain_messages_for_common_mistakes(api: Api) -> None:
    no_type = api.client.post("/v1/needs", content=b'{"title": "t"}', headers=api.headers("party"))
    assert "Content-Type: application/json" in no_type.json()["error"]["details"][0]["message"]
    typo = api.call("POST", "/v1/needs", "party", {"title": "t", "description": "d", "sector": ["waste"]})
    assert "not a field" in typo.json()["error"]["details"][0]["message"]
    bad_code = api.call(
        "POST", "/v1/needs", "party", {"title": "t", "description": "d", "sectors": ["mining"]}
    )
    assert bad_code.json()["error"]["details"][0]["message"].startswith("'mining' is not allowed")


def test_chunked_bodies_over_the_limit_get_413(api: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"title": "t", "description": "'
        for _ in range(70):
            yield b"x" * 1024
        yield b'"}'

    response = api.client.post(
        "/v1/needs", content=chunks(), headers={**api.headers("party"), "Content-Type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"

    def small():  # type: ignore[no-untyped-def]
        yield b'{"title": "Mercury lamps", '
        yield b'"description": "We need collection of used lamps."}'

    ok = api.client.post(
        "/v1/needs", content=small(), headers={**api.headers("party"), "Content-Type": "application/json"}
    )
    assert ok.status_code == 201


def test_patch_recomputes_what_was_understood(api: Api) -> None:
    need = api.new_need(language="en")
    changed = api.call(
        "PATCH",
        f"/v1/needs/{need}",
        "party",
        {
            "title": "Orpaillage",
            "description": "Les orpailleurs utilisent du mercure pour l'amalgamation.",
            "language": None,
        },
    ).json()
    assert changed["language"] == "fr"
    assert "asgm" in changed["inferred"]["sectors"]


def test_lists_paginate_and_filter(api: Api) -> None:
    first = api.call("GET", "/v1/offerings?limit=5", "party").json()
    second = api.call("GET", "/v1/offerings?limit=5&offset=5", "party").json()
    assert len(first["items"]) == 5 and first["next_offset"] == 5 and first["total"] >= 76
    assert not _ids_of(first) & _ids_of(second)
    asgm = api.call("GET", "/v1/offerings?sector=asgm&limit=200", "party").json()["items"]
    assert asgm and all("asgm" in item["sectors"] for item in asgm)
    bad = api.call("GET", "/v1/offerings?sector=nothing", "party")
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["loc"] == "query.sector"
    africa = api.call("GET", "/v1/parties?region=africa&limit=200", None).json()["items"]
    assert africa and all(party["un_region"] == "africa" for party in africa)


def _ids_of(page: dict) -> set[str]:
    return {item["id"] for item in page["items"]}


def test_openapi_lists_every_route_with_its_errors(api: Api) -> None:
    assert api.client.get("/docs").status_code == 200
    spec = api.client.get("/openapi.json").json()
    expected = {
        ("post", "/v1/needs"),
        ("get", "/v1/needs"),
        ("get", "/v1/needs/{need_id}"),
        ("patch", "/v1/needs/{need_id}"),
        ("post", "/v1/needs/{need_id}/withdraw"),
        ("get", "/v1/needs/{need_id}/matches"),
        ("post", "/v1/offerings"),
        ("get", "/v1/offerings"),
        ("get", "/v1/offerings/{offering_id}"),
        ("patch", "/v1/offerings/{offering_id}"),
        ("get", "/v1/offerings/{offering_id}/matches"),
        ("get", "/v1/parties"),
        ("get", "/v1/taxonomy"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
    }
    present = {(method, path) for path, methods in spec["paths"].items() for method in methods}
    assert expected <= present
    for method, path in expected:
        if path.startswith("/v1/") and path not in ("/v1/parties", "/v1/taxonomy"):
            responses = spec["paths"][path][method]["responses"]
            assert "401" in responses, (method, path)
            assert responses["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "ErrorOut" in spec["components"]["schemas"]


def test_metrics_and_readiness(api: Api) -> None:
    api.call("GET", "/v1/offerings", "party")
    text = api.client.get("/metrics").text
    assert 'matcher_http_requests_total{method="GET",route="/v1/offerings",status="200"}' in text
    assert "matcher_indexed_offerings" in text
    ready = api.client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["database"] == "ok"


def test_the_offerings_gauge_follows_writes_without_per_request_counting(api: Api) -> None:
    def gauge() -> float:
        text = api.client.get("/metrics").text
        found = re.search(r"^matcher_indexed_offerings (\S+)$", text, re.MULTILINE)
        assert found, text
        return float(found.group(1))

    active = api.call("GET", "/v1/offerings?limit=1", "party").json()["total"]
    assert gauge() == active
    offering = api.new_offering("provider", title="Gauge check programme")
    assert gauge() == active + 1
    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"active": False}).status_code == 200
    assert gauge() == active
    # The gauge is read from the service's count when scraped, never recomputed per request.
    matching = api.client.app.state.matching  # type: ignore[attr-defined]
    serving = matching.state
    matching._state = dataclasses.replace(serving, active_offerings=12345)
    api.client.get("/healthz")
    assert gauge() == 12345
    matching._state = serving


def test_readiness_never_waits_for_the_matching_lock(api: Api) -> None:
    matching = api.client.app.state.matching  # type: ignore[attr-defined]
    answered: list[int] = []
    with matching.lock:
        worker = threading.Thread(target=lambda: answered.append(api.client.get("/readyz").status_code))
        worker.start()
        worker.join(timeout=10)
    assert answered == [200]


def test_a_catalogue_changed_behind_the_service_is_applied_before_readiness_answers(api: Api) -> None:
    from matcher.store.models import Offering, catalog_version

    matching = api.client.app.state.matching  # type: ignore[attr-defined]
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    with sessions() as session:
        offering = session.scalars(select(Offering).where(Offering.active.is_(True)).limit(1)).one()
        offering.title = offering.title + " (edited outside the service)"
        session.commit()
        current = catalog_version(session)
    time.sleep(matching.freshness_seconds)
    assert api.client.get("/readyz").status_code == 200
    assert matching.catalog_version == current
    row = matching.engine.catalogue.position[offering.id]
    assert matching.engine.offerings[row].title.endswith("(edited outside the service)")


def test_readiness_says_stale_while_another_thread_applies_changes(api: Api) -> None:
    from matcher.store.models import Offering

    matching = api.client.app.state.matching  # type: ignore[attr-defined]
    sessions = api.client.app.state.store.sessions  # type: ignore[attr-defined]
    answered: list[Any] = []
    with matching.lock:  # as if a sync were running in another thread (the follower waits too)
        with sessions() as session:
            offering = session.scalars(select(Offering).where(Offering.active.is_(True)).limit(1)).one()
            offering.title = offering.title + " (edited again)"
            session.commit()
        time.sleep(matching.freshness_seconds)
        worker = threading.Thread(target=lambda: answered.append(api.client.get("/readyz")))
        worker.start()
        worker.join(timeout=10)
    assert answered[0].status_code == 503
    assert answered[0].json()["checks"]["catalog"].startswith("stale")
    time.sleep(matching.freshness_seconds)
    assert api.client.get("/readyz").status_code == 200
