"""Security headers on every answer: a strict Content-Security-Policy (the API docs get
their own, no wider than they need), no framing, no sniffing, no referrer, and no cache
keeping pages or answers that carry needs."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from tests.api.conftest import Api

STRICT_CSP = ("default-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'")


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/signin",
        "/queue",
        "/needs/{need}",
        "/v1/needs",
        "/v1/parties",
        "/healthz",
        "/metrics",
        "/static/style.css",
        "/no-such-page",
        "/v1/no-such-route",
        "/openapi.json",
    ],
)
def test_security_headers_on_every_answer(api: Api, path: str) -> None:
    api.sign_in("secretariat")
    response = api.client.get(path.format(**api.items), follow_redirects=False)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    for directive in STRICT_CSP:
        assert directive in policy, (path, policy)
    assert "unsafe-inline" not in policy and "cdn.jsdelivr.net" not in policy


@pytest.mark.parametrize(
    "path",
    [
        "/queue",
        "/needs/{need}",
        "/requests",
        "/report",
        "/report.csv",
        "/v1/needs",
        "/v1/needs/{need}",
        "/v1/proposals",
    ],
)
def test_pages_and_answers_with_need_data_are_never_stored_by_caches(api: Api, path: str) -> None:
    role = "party" if path == "/requests" else "secretariat"
    if path.startswith("/v1/"):
        response = api.call("GET", path.format(**api.items), role)
    else:
        api.sign_in(role)
        response = api.client.get(path.format(**api.items), follow_redirects=False)
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]


def test_api_docs_get_a_policy_that_lets_them_load_and_nothing_more(api: Api) -> None:
    for path, script in (("/docs", "swagger-ui"), ("/redoc", "redoc")):
        page = api.client.get(path)
        assert page.status_code == 200 and script in page.text
        policy = page.headers["content-security-policy"]
        # The docs' assets are installed with the package: the policy names no other host.
        assert "frame-ancestors 'none'" in policy and "https://" not in policy and "http://" not in policy
        inline = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
        for code in inline:  # inline code runs by its hash, not by 'unsafe-inline' scripts
            digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        script_policy = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
        assert "unsafe-inline" not in script_policy and "unsafe-eval" not in script_policy
