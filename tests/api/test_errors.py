"""An unexpected failure is answered in the one error shape (or the HTML error page), with
a request id that is also in the log, and counted in /metrics like any other answer."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient

from matcher.services import cases, reference
from tests.api.conftest import Api


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("simulated failure deep in a service")


@pytest.fixture
def client(api: Api) -> TestClient:
    """A client that gets the app's answer to a failure instead of the exception."""
    return TestClient(api.client.app, raise_server_exceptions=False)


def test_an_unexpected_failure_is_a_json_500_with_a_request_id_in_the_body_and_the_log(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(reference, "list_parties", _explode)
    with caplog.at_level(logging.ERROR):
        response = client.get("/v1/parties")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == 500 and error["code"] == "internal"
    assert "simulated" not in error["message"]  # the cause is logged, never shown
    request_id = error["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert response.headers["x-request-id"] == request_id
    logged = [record for record in caplog.records if request_id in record.getMessage()]
    assert logged and logged[0].exc_info is not None  # with the traceback
    metrics = client.get("/metrics").text
    assert 'matcher_http_requests_total{method="GET",route="/v1/parties",status="500"} 1.0' in metrics


def test_a_page_that_fails_answers_the_html_error_page_with_the_request_id(
    api: Api, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.sign_in("secretariat")
    client.cookies.update(api.client.cookies)
    monkeypatch.setattr(cases, "list_cases", _explode)
    page = client.get("/queue")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    request_id = page.headers["x-request-id"]
    assert request_id in page.text and "simulated" not in page.text
    assert 'route="/queue",status="500"' in client.get("/metrics").text


def test_every_answer_carries_a_request_id(api: Api) -> None:
    ids = {
        api.client.get(path).headers["x-request-id"] for path in ("/healthz", "/v1/parties", "/nothing", "/")
    }
    assert len(ids) == 4
    forwarded = api.client.get("/healthz", headers={"X-Request-ID": "probe-42.a_b"})
    assert forwarded.headers["x-request-id"] == "probe-42.a_b"
    crafted = api.client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert re.fullmatch(r"[0-9a-f]{32}", crafted.headers["x-request-id"])


def test_openapi_declares_the_500_shape_and_the_409_of_both_match_routes(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    for path in ("/v1/needs/{need_id}/matches", "/v1/offerings/{offering_id}/matches"):
        assert "409" in spec["paths"][path]["get"]["responses"], path
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "500" in responses, (method, path)
            schema = responses["500"]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/ErrorOut"), (method, path)
            assert "422" in responses or (not operation.get("parameters") and "requestBody" not in operation)
    error_body = spec["components"]["schemas"]["ErrorBody"]["properties"]
    assert "request_id" in error_body
