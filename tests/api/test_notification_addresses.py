"""Notification addresses over HTTP: ``provider_email`` on offerings (API and programme
form) and ``email`` on keys."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def test_offerings_carry_the_providers_address(api: Api) -> None:
    first = api.new_offering(provider_email="Mercury.Desk@UNEP.org")
    created = api.call("GET", f"/v1/offerings/{first}", "party").json()
    assert created["provider_email"] == "mercury.desk@unep.org"
    # Kept on the provider: its other offerings show it too, and a change shows everywhere.
    second = api.new_offering(title="Second programme")
    assert (
        api.call("GET", f"/v1/offerings/{second}", "party").json()["provider_email"]
        == "mercury.desk@unep.org"
    )
    changed = api.call(
        "PATCH", f"/v1/offerings/{second}", "provider", {"provider_email": "chemicals@unep.org"}
    )
    assert changed.status_code == 200 and changed.json()["provider_email"] == "chemicals@unep.org"
    assert api.call("GET", f"/v1/offerings/{first}", "party").json()["provider_email"] == "chemicals@unep.org"
    listed = api.call("GET", "/v1/offerings?provider_id=unep&limit=200", "secretariat").json()["items"]
    assert {item["provider_email"] for item in listed} == {"chemicals@unep.org"}
    audit = api.call("GET", f"/v1/audit?entity_id={second}&action=offering.update", "secretariat").json()
    assert audit["items"][-1]["after"] == {"provider_email": "chemicals@unep.org"}


def test_a_bad_provider_address_is_refused_and_only_the_owner_changes_it(api: Api) -> None:
    offering = api.new_offering()
    bad = api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"provider_email": "desk at unep"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == "body.provider_email"
    other = api.call("PATCH", f"/v1/offerings/{offering}", "other_provider", {"provider_email": "x@undp.org"})
    assert other.status_code == 403
    cleared = api.call("PATCH", f"/v1/offerings/{offering}", "provider", {"provider_email": None})
    assert cleared.status_code == 200 and cleared.json()["provider_email"] is None


def test_keys_take_an_email(api: Api) -> None:
    created = api.call(
        "POST", "/v1/keys", "admin", {"role": "party", "party": "SEN", "email": "Focal@Environnement.gouv.sn"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "focal@environnement.gouv.sn"
    listed = {item["id"]: item for item in api.call("GET", "/v1/keys", "admin").json()["items"]}
    assert listed[created.json()["id"]]["email"] == "focal@environnement.gouv.sn"
    refused = api.call("POST", "/v1/keys", "admin", {"role": "secretariat", "email": "not-an-address"})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["loc"] == "body.email"


def _form_token(api: Api, role: str, path: str) -> str:
    api.web_session(role)  # signed in through the form, as a browser is
    page = api.client.get(path)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_the_programme_form_saves_the_providers_address(api: Api) -> None:
    offering = api.new_offering(provider="UNEP")
    token = _form_token(api, "provider", f"/programmes/{offering}")
    form = {
        "csrf": token,
        "offering_id": offering,
        "provider": "UNEP",
        "title": "Mercury waste management support",
        "description": "Interim storage and environmentally sound disposal of mercury waste.",
        "active": "on",
    }
    wrong = api.client.post(
        "/programmes/save", data={**form, "provider_email": "desk@"}, follow_redirects=False
    )
    assert wrong.status_code == 422
    assert re.search(r'id="provider_email"[^>]*aria-invalid="true"', wrong.text)
    saved = api.client.post(
        "/programmes/save", data={**form, "provider_email": "Forms@UNEP.org"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert api.call("GET", f"/v1/offerings/{offering}", "party").json()["provider_email"] == "forms@unep.org"
    page = api.client.get(f"/programmes/{offering}")
    assert 'value="forms@unep.org"' in page.text
