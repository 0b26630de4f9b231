"""Every input is answered in the one error shape, the same on SQLite and PostgreSQL.

Each case here was a server error (or a silently stored value) found by an outside probe:
integers out of range, overflowing age filters, explicit nulls for fields that cannot be
null, NUL and other control characters, non-finite money, loose coercion, past
deadlines and non-web URLs.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.api.conftest import Api

HUGE = 2**63
PG_INT_OVERFLOW = 2**31


def _refused(response: Any, location: str, status: int = 422) -> dict[str, Any]:
    """The response is a refusal in the one error shape naming ``location``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["status"] == status and error["code"] and error["message"]
    locations = [detail["loc"] for detail in error["details"]]
    assert location in locations, locations
    return dict(error)


LIST_ROUTES = [
    ("/v1/parties", None),
    ("/v1/needs", "secretariat"),
    ("/v1/offerings", "party"),
    ("/v1/proposals", "secretariat"),
    ("/v1/audit", "secretariat"),
]


@pytest.mark.parametrize(("path", "role"), LIST_ROUTES, ids=[path for path, _ in LIST_ROUTES])
def test_offsets_and_limits_out_of_range_are_422_on_every_list_route(
    api: Api, path: str, role: str | None
) -> None:
    for name, value in (("offset", HUGE), ("offset", PG_INT_OVERFLOW), ("offset", -1), ("limit", HUGE)):
        _refused(api.call("GET", f"{path}?{name}={value}", role), f"query.{name}")
    last = api.call("GET", f"{path}?offset={PG_INT_OVERFLOW - 1}", role)
    assert last.status_code == 200 and last.json()["items"] == []


def test_proposal_ids_out_of_range_are_422(api: Api) -> None:
    for proposal in (PG_INT_OVERFLOW, HUGE, 0, -5):
        _refused(api.call("GET", f"/v1/proposals/{proposal}", "secretariat"), "path.proposal_id")
        _refused(api.call("POST", f"/v1/proposals/{proposal}/accept", "secretariat"), "path.proposal_id")
    assert api.call("GET", f"/v1/proposals/{PG_INT_OVERFLOW - 1}", "secretariat").status_code == 404


def test_capacity_beyond_a_database_integer_is_422(api: Api) -> None:
    offering = api.items["offering"]
    _refused(
        api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"capacity": PG_INT_OVERFLOW}),
        "body.capacity",
    )
    body = {"provider": "UNEP", "title": "t", "description": "d", "capacity": HUGE}
    _refused(api.call("POST", "/v1/offerings", "provider", body), "body.capacity")
    fits = api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"capacity": PG_INT_OVERFLOW - 1})
    assert fits.status_code == 200 and fits.json()["capacity"] == PG_INT_OVERFLOW - 1
    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"capacity": None}).status_code == 200


def test_age_filters_that_overflow_dates_are_422_in_the_api_and_the_queue(api: Api) -> None:
    for name in ("min_age_days", "max_age_days"):
        _refused(api.call("GET", f"/v1/proposals?{name}=740000", "secretariat"), f"query.{name}")
        assert api.call("GET", f"/v1/proposals?{name}=36500", "secretariat").status_code == 200
    api.sign_in("secretariat")
    for value in ("740000", "99999999999999999999", "²", "-1", "1.5"):
        page = api.client.get(f"/queue?min_age_days={value}", follow_redirects=False)
        assert page.status_code == 422, (value, page.text[:300])
        assert page.headers["content-type"].startswith("text/html")
        assert "min_age_days" in page.text
    assert api.client.get("/queue?min_age_days=30").status_code == 200
    assert api.client.get("/queue?min_age_days=").status_code == 200  # the empty filter field
    assert api.client.get(f"/queue?offset={HUGE}", follow_redirects=False).status_code == 422


@pytest.mark.parametrize("field", ["title", "description", "confidential", "sectors", "assistance_types"])
def test_explicit_null_for_a_need_field_that_cannot_be_null_is_422(api: Api, field: str) -> None:
    error = _refused(
        api.call("PATCH", f"/v1/needs/{api.items['need']}", "party", {field: None}), f"body.{field}"
    )
    assert "null" in error["details"][0]["message"]


@pytest.mark.parametrize("field", ["provider", "title", "description", "verified", "active", "regions"])
def test_explicit_null_for_an_offering_field_that_cannot_be_null_is_422(api: Api, field: str) -> None:
    response = api.call("PATCH", f"/v1/offerings/{api.items['offering']}", "secretariat", {field: None})
    _refused(response, f"body.{field}")


def test_nullable_fields_still_take_null(api: Api) -> None:
    need = api.new_need(budget_usd=1000, deadline=(dt.date.today() + dt.timedelta(days=30)).isoformat())
    cleared = api.call(
        "PATCH", f"/v1/needs/{need}", "party", {"budget_usd": None, "deadline": None, "language": None}
    )
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["budget_usd"] is None and cleared.json()["deadline"] is None


def test_openapi_says_which_fields_may_be_null(api: Api) -> None:
    schemas = api.client.get("/openapi.json").json()["components"]["schemas"]

    def nullable(model: str, field: str) -> bool:
        schema = schemas[model]["properties"][field]
        return any(option.get("type") == "null" for option in schema.get("anyOf", []))

    for field in ("title", "description", "confidential", "sectors", "assistance_types"):
        assert not nullable("NeedPatch", field), field
    for field in ("budget_usd", "deadline", "language"):
        assert nullable("NeedPatch", field), field
    for field in ("title", "provider", "active", "verified"):
        assert not nullable("OfferingPatch", field), field
    assert nullable("OfferingPatch", "capacity") and nullable("OfferingPatch", "url")


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x1b", "\x0b", "\x1f"])
def test_control_characters_in_text_are_422(api: Api, character: str) -> None:
    body = {"title": f"Mercury{character}waste", "description": "Hospitals need storage."}
    _refused(api.call("POST", "/v1/needs", "party", body), "body.title")
    body = {"title": "Mercury waste", "description": f"Hospitals{character}need storage."}
    _refused(api.call("POST", "/v1/needs", "party", body), "body.description")
    offering = {"provider": f"UN{character}EP", "title": "t", "description": "d"}
    _refused(api.call("POST", "/v1/offerings", "provider", offering), "body.provider")
    _refused(
        api.call("PATCH", f"/v1/needs/{api.items['need']}", "party", {"title": f"x{character}y"}),
        "body.title",
    )


def test_tab_line_feed_and_carriage_return_are_kept(api: Api) -> None:
    text = "Line one\r\nline\ttwo\nline three"
    created = api.call("POST", "/v1/needs", "party", {"title": "Lamps", "description": text})
    assert created.status_code == 201 and created.json()["description"] == text


def test_nul_in_path_ids_and_filters_is_422(api: Api) -> None:
    _refused(api.call("GET", "/v1/needs/need-%00", "secretariat"), "path.need_id")
    _refused(api.call("GET", "/v1/offerings/off%00x", "secretariat"), "path.offering_id")
    _refused(api.call("POST", "/v1/keys/k%00/revoke", "admin"), "path.key_id")
    _refused(api.call("GET", "/v1/needs?party=K%00N", "secretariat"), "query.party")
    _refused(api.call("GET", "/v1/offerings?provider_id=un%00ep", "party"), "query.provider_id")
    _refused(api.call("GET", "/v1/proposals?party=%00", "secretariat"), "query.party")
    for name in ("entity_type", "entity_id", "action", "actor"):
        _refused(api.call("GET", f"/v1/audit?{name}=a%00b", "secretariat"), f"query.{name}")
    api.sign_in("secretariat")
    page = api.client.get("/needs/need-%00", follow_redirects=False)
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert api.client.get("/queue?party=%00", follow_redirects=False).status_code == 422


def test_audit_times_without_a_zone_are_utc_and_out_of_range_ones_are_422(api: Api) -> None:
    assert api.call("GET", "/v1/audit?since=2020-01-01T00:00:00", "secretariat").status_code == 200
    assert api.call("GET", "/v1/audit?until=2999-01-01T00:00:00Z", "secretariat").status_code == 200
    _refused(api.call("GET", "/v1/audit?since=0001-01-01T00:00:00%2B05:00", "secretariat"), "query.since")


@pytest.mark.parametrize("number", ["Infinity", "-Infinity", "NaN", "1e999"])
def test_non_finite_money_is_422(api: Api, number: str) -> None:
    def raw(method: str, path: str, role: str, text: str) -> Any:
        headers = {**api.headers(role), "Content-Type": "application/json"}
        return api.client.request(method, path, content=text, headers=headers)

    need = '{"title": "Lamps", "description": "Collection of lamps.", "budget_usd": NUMBER}'.replace(
        "NUMBER", number
    )
    _refused(raw("POST", "/v1/needs", "party", need), "body.budget_usd")
    _refused(
        raw(
            "PATCH",
            f"/v1/needs/{api.items['need']}",
            "party",
            '{"budget_usd": NUMBER}'.replace("NUMBER", number),
        ),
        "body.budget_usd",
    )
    offering = '{"provider": "UNEP", "title": "t", "description": "d", "funding_max_usd": NUMBER}'.replace(
        "NUMBER", number
    )
    _refused(raw("POST", "/v1/offerings", "provider", offering), "body.funding_max_usd")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("confidential", "yes"),
        ("confidential", 1),
        ("budget_usd", "100"),
        ("budget_usd", True),
        ("deadline", 0),
        ("deadline", 1893456000),
        ("sectors", "waste"),
    ],
)
def test_need_bodies_take_strict_json_types(api: Api, field: str, value: Any) -> None:
    body = {"title": "Lamps", "description": "Collection of lamps.", field: value}
    _refused(api.call("POST", "/v1/needs", "party", body), f"body.{field}")


@pytest.mark.parametrize(
    ("field", "value"),
    [("active", "false"), ("verified", 0), ("capacity", "5"), ("capacity", 2.0), ("funding_min_usd", "10")],
)
def test_offering_bodies_take_strict_json_types(api: Api, field: str, value: Any) -> None:
    response = api.call("PATCH", f"/v1/offerings/{api.items['offering']}", "secretariat", {field: value})
    _refused(response, f"body.{field}")


def test_numbers_and_dates_in_their_json_form_still_work(api: Api) -> None:
    later = (dt.date.today() + dt.timedelta(days=90)).isoformat()
    body = {
        "title": "Lamps",
        "description": "Lamps.",
        "budget_usd": 2500,
        "deadline": later,
        "confidential": False,
    }
    created = api.call("POST", "/v1/needs", "party", body)
    assert created.status_code == 201, created.text
    assert created.json()["budget_usd"] == 2500 and created.json()["deadline"] == later
    _refused(api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": "3"}), "body.k")


def test_past_deadlines_are_refused_when_a_need_is_filed_or_changed(api: Api) -> None:
    body = {"title": "Lamps", "description": "Lamps.", "deadline": "2001-01-01"}
    error = _refused(api.call("POST", "/v1/needs", "party", body), "body.deadline")
    assert "past" in error["details"][0]["message"]
    _refused(api.call("POST", "/v1/needs", "party", {**body, "deadline": "1970-01-01"}), "body.deadline")
    need = api.items["need"]
    _refused(api.call("PATCH", f"/v1/needs/{need}", "party", {"deadline": "2001-01-01"}), "body.deadline")
    today = dt.date.today().isoformat()
    assert api.call("POST", "/v1/needs", "party", {**body, "deadline": today}).status_code == 201


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<b>x</b>",
        "ftp://example.org/x",
        "//example.org",
        "https://",
        "http:example.org",
        "https://exa mple.org/",
    ],
)
def test_offering_urls_must_be_http_or_https(api: Api, url: str) -> None:
    body = {"provider": "UNEP", "title": "t", "description": "d", "url": url}
    _refused(api.call("POST", "/v1/offerings", "provider", body), "body.url")
    response = api.call("PATCH", f"/v1/offerings/{api.items['offering']}", "provider", {"url": url})
    _refused(response, "body.url")


def test_web_urls_are_accepted(api: Api) -> None:
    for url in ("https://example.org/programme?id=3#apply", "http://example.org"):
        response = api.call("PATCH", f"/v1/offerings/{api.items['offering']}", "provider", {"url": url})
        assert response.status_code == 200 and response.json()["url"] == url


def test_forms_refuse_what_the_api_refuses(api: Api) -> None:
    token = api.sign_in("party")
    base = {"csrf": token, "action": "submit", "title": "Lamps", "description": "Collection of lamps."}
    for field, value in (
        ("title", "Lamps\x00"),
        ("description", "x\x1b"),
        ("budget_usd", "inf"),
        ("budget_usd", "nan"),
        ("budget_usd", "1e999"),
    ):
        response = api.client.post("/requests/new", data={**base, field: value}, follow_redirects=False)
        assert response.status_code == 422, (field, value)
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"', response.text), (field, value)
    token = api.sign_in("provider")
    form = {"csrf": token, "provider": "UNEP", "title": "Lamps", "description": "Lamps."}
    for field, value in (("url", "javascript:alert(1)"), ("funding_max_usd", "Infinity"), ("title", "a\x00")):
        response = api.client.post("/programmes/save", data={**form, field: value}, follow_redirects=False)
        assert response.status_code == 422, (field, value, response.text[:300])
    bad_id = api.client.post(
        "/programmes/save", data={**form, "offering_id": "x\x00"}, follow_redirects=False
    )
    assert bad_id.status_code == 422


def test_text_longer_than_its_column_is_422(api: Api) -> None:
    """PostgreSQL refuses a value longer than its column (SQLite stores it): the API checks
    the column's length first."""
    body = {"provider": "P" * 301, "title": "t", "description": "d"}
    _refused(api.call("POST", "/v1/offerings", "provider", body), "body.provider")
    offering = api.items["offering"]
    _refused(
        api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"provider": "P" * 301}), "body.provider"
    )
    fits = api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"provider": "P" * 300})
    assert fits.status_code == 200
    assert api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"provider": "UNEP"}).status_code == 200


def test_return_addresses_stay_on_this_site(api: Api) -> None:
    for target in ("//evil.example/x", "/\\evil.example", "https://evil.example", "/queue\x00"):
        response = api.client.get("/language/fr", params={"next": target}, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/", target
    kept = api.client.get("/language/fr", params={"next": "/queue?party=KEN"}, follow_redirects=False)
    assert kept.headers["location"] == "/queue?party=KEN"
