"""The workbench's pages obey the API's rules (they call the same services)."""

from __future__ import annotations

import re

from tests.api.conftest import Api


def _as(api: Api, role: str | None, **extra: str) -> None:
    """The client as a browser signed in as ``role`` (through the sign-in form), or signed out."""
    if role is None:
        api.client.cookies.clear()
    else:
        api.web_session(role)
    for name, value in extra.items():
        api.client.cookies.set(name, value)


def _get(api: Api, role: str | None, path: str):  # type: ignore[no-untyped-def]
    _as(api, role)
    return api.client.get(path, follow_redirects=False)


def _post(api: Api, role: str, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    _as(api, role)
    return api.client.post(path, data=data, follow_redirects=False)


def _csrf(api: Api, role: str, path: str) -> str:
    page = _get(api, role, path)
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def test_sign_in_sets_a_strict_http_only_cookie_and_refuses_bad_keys(api: Api) -> None:
    _as(api, None)
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', api.client.get("/").text)
    assert token
    refused = api.client.post(
        "/signin",
        data={"api_key": "mm_knothing_nothingnothingnothing", "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert refused.status_code == 401 and "not valid" in refused.text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', refused.text)
    assert token
    signed = api.client.post(
        "/signin", data={"api_key": api.keys["party"], "csrf": token.group(1)}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/requests"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_pages_follow_the_roles(api: Api) -> None:
    assert _get(api, None, "/queue").headers["location"] == "/"
    assert _get(api, "provider", "/queue").headers["location"] == "/programmes"
    assert _get(api, "party", "/report").status_code == 403
    assert _get(api, "secretariat", "/report").status_code == 200
    hidden = _get(api, "other_party", f"/needs/{api.items['need']}")
    assert hidden.status_code == 404 and "Mercury waste from hospitals" not in hidden.text
    secret = _get(api, "provider", f"/needs/{api.items['secret_need']}")
    assert secret.status_code == 404
    assert _get(api, "party", f"/needs/{api.items['need']}").status_code == 200


def test_changes_need_the_form_token(api: Api) -> None:
    no_token = _post(api, "secretariat", "/queue/run", {})
    assert no_token.status_code == 400 and "reload the page" in no_token.text
    wrong = _post(api, "secretariat", "/queue/run", {"csrf": "0" * 40})
    assert wrong.status_code == 400
    token = _csrf(api, "secretariat", "/queue")
    done = _post(api, "secretariat", "/queue/run", {"csrf": token})
    assert done.status_code == 303 and "notice=run%3A" in done.headers["location"]
    # A token is bound to its session: another key's token does not work.
    assert _post(api, "party", "/signout", {"csrf": token}).status_code == 400


def test_interface_language_and_right_to_left_needs(api: Api) -> None:
    arabic = api.new_need(
        title="نفايات الزئبق", description="نحتاج إلى دعم لإدارة نفايات الزئبق في المستشفيات."
    )
    _as(api, "party", mm_lang="es")
    page = api.client.get(f"/needs/{arabic}")
    assert '<html lang="es" dir="ltr">' in page.text
    assert 'lang="ar" dir="rtl"' in page.text
    assert "Sectores" in page.text  # the interface language


def test_taxonomy_labels_in_all_six_languages(api: Api) -> None:
    from matcher.taxonomy import load_taxonomy

    waste = load_taxonomy().sectors["waste"].label
    need = api.new_need(sectors=["waste"])
    for language in ("ar", "zh", "ru", "fr"):
        _as(api, "secretariat", mm_lang=language)
        page = api.client.get(f"/needs/{need}")
        assert waste[language] in page.text, language
        assert f'lang="{language}"' in page.text


def test_need_page_lists_its_own_proposals_and_notices_cannot_be_forged(api: Api) -> None:
    need = api.new_need(title="Amalgam separators", description="Our clinics need amalgam separators.")
    assert api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 4}).status_code == 201
    page = _get(api, "secretariat", f"/needs/{need}")
    assert page.text.count('class="proposal"') == 4
    forged = _get(api, "secretariat", "/queue?notice=Send+your+password+to+evil.example")
    assert "evil.example" not in forged.text
    real = _get(api, "secretariat", "/queue?notice=accept:12")
    assert "Proposal 12 accepted." in real.text


def test_decisions_return_to_the_same_filtered_view(api: Api) -> None:
    api.call("POST", "/v1/matching/runs", "secretariat", {"party": "KEN", "k": 3})
    page = _get(api, "secretariat", "/queue?party=KEN&state=proposed")
    proposal = re.search(r"/proposals/(\d+)/reject", page.text).group(1)  # type: ignore[union-attr]
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)  # type: ignore[union-attr]
    back = re.search(r'name="next" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert "party=KEN" in back.replace("&amp;", "&")
    blank = _post(
        api,
        "secretariat",
        f"/proposals/{proposal}/reject",
        {"csrf": token, "reason": "   ", "next": back.replace("&amp;", "&")},
    )
    assert (
        blank.status_code == 303
        and "party=KEN" in blank.headers["location"]
        and "error%3Areason" in blank.headers["location"]
    )
    done = _post(
        api,
        "secretariat",
        f"/proposals/{proposal}/reject",
        {"csrf": token, "reason": "Closed", "next": back.replace("&amp;", "&")},
    )
    assert "party=KEN" in done.headers["location"]


def test_programme_form_keeps_what_was_typed_and_shows_amounts_back_before_saving(api: Api) -> None:
    token = _csrf(api, "provider", "/programmes/new")
    form = {
        "csrf": token,
        "provider": "UNEP",
        "title": "Lamp recycling",
        "description": "",
        "funding_min_usd": "10 000",
    }
    kept = _post(api, "provider", "/programmes/save", form)
    assert kept.status_code == 422 and 'value="Lamp recycling"' in kept.text and 'value="10 000"' in kept.text
    # A first submission with amounts saves nothing: it shows them back, read in English.
    shown = _post(
        api, "provider", "/programmes/save", {**form, "description": "Lamps.", "funding_max_usd": "50,000"}
    )
    assert (
        shown.status_code == 200 and "Read as 50,000 USD" in shown.text and "Read as 10,000 USD" in shown.text
    )
    echoed = dict(re.findall(r'name="(funding_m.._usd_shown)" value="([^"]*)"', shown.text))
    assert echoed == {"funding_min_usd_shown": "10000", "funding_max_usd_shown": "50000"}
    bad_range = _post(
        api,
        "provider",
        "/programmes/save",
        {
            **form,
            **echoed,
            "description": "Lamps.",
            "funding_max_usd": "5,000",
            "funding_max_usd_shown": "5000",
        },
    )
    assert bad_range.status_code == 422 and "funding_min_usd is greater" in bad_range.text
    assert 'value="Lamp recycling"' in bad_range.text
    saved = _post(
        api,
        "provider",
        "/programmes/save",
        {**form, **echoed, "description": "Lamps.", "funding_max_usd": "50,000"},
    )
    assert saved.status_code == 303
    other = _get(api, "party", "/programmes/new")
    assert other.status_code == 403


def test_a_provider_sees_the_open_requests_that_fit_and_can_express_interest(api: Api) -> None:
    need = api.new_need(
        "party",
        title="Collecte des lampes usagées",
        description="Les communes veulent collecter les lampes fluorescentes usagées contenant du mercure.",
    )
    path = f"/programmes/{api.items['offering']}/needs"
    page = _get(api, "provider", path)
    assert page.status_code == 200
    assert (
        "Collecte des lampes usagées" in page.text and "In English" in page.text
    )  # a gloss of the French need
    assert "Confidential: mercury stockpile" not in page.text  # hidden from providers
    token = _csrf(api, "provider", path)
    sent = _post(
        api,
        "provider",
        f"/programmes/{api.items['offering']}/interest",
        {"csrf": token, "need_id": need, "note": "Ready"},
    )
    assert sent.status_code == 303
    interests = api.call("GET", f"/v1/needs/{need}/interests", "secretariat").json()["items"]
    assert [item["note"] for item in interests] == ["Ready"]
    assert _get(api, "other_provider", path).status_code == 403
