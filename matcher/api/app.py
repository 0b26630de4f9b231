"""The FastAPI application: lifespan, error shape, body-size limit, metrics and the
headers every answer carries.

``create_app()`` builds the app over the configured store. On start it migrates and (when
empty) seeds the database, then loads or rebuilds the vector indexes, so the first
request is served from a ready engine, and starts the background job runner and the
e-mail notification sender (when ``MATCHER_SMTP_URL`` is set), which it stops at shutdown.
``matcher serve`` runs it with uvicorn.

Every answer, an unexpected failure's included, goes through ``Guard``: it gives the
request an id (``X-Request-ID``), turns an unexpected exception into the one error shape
(or the HTML error page) with that id, logged with its traceback, counts every answer in
``/metrics`` and adds the security headers (a strict Content-Security-Policy, no framing,
no sniffing, no referrer, ``Cache-Control: no-store`` on everything but static files).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.api import web
from matcher.api.routes import assessment, cases, keys, needs, offerings, operations, reference, review
from matcher.api.schemas import ErrorOut
from matcher.services.access import ServiceError
from matcher.settings import Settings, get_settings
from matcher.store.db import session_scope

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """
Minamata Match pairs the assistance **needs** of Parties to the Minamata Convention with
the **offerings** of donors, agencies, regional centres and partnerships. Every proposal
is explained, and every proposal is a suggestion for secretariat review, not a decision.

Send an API key as `Authorization: Bearer <key>` (create one with `matcher keys create`).
`/v1/parties`, `/v1/taxonomy`, `/healthz`, `/readyz` and `/metrics` need no key.
Every error has the same body: `{"error": {"status", "code", "message", "details": [{"loc", "message"}]}}`;
an unexpected failure (500) adds the `request_id` it was logged under (also in the `X-Request-ID` header).
Request bodies take strict JSON types. `POST /v1/needs`, `/v1/offerings` and `/v1/matching/runs`
accept an `Idempotency-Key` header: a retry with the same key returns the first result.
"""

# The workbench has no script of its own and no inline style: everything else is refused.
PAGE_POLICY = (
    "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and ReDoc come from assets installed with the package (ReDoc runs its search in
# a blob: worker and injects styles); their inline scripts run by hash. Only the docs pages
# get this policy, and it names no other host.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; worker-src 'self' blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# An incoming X-Request-ID is kept when it is short and plain (a proxy's id); else a new one.
_FORWARDED_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    offerings: Gauge


def _metrics() -> Metrics:
    registry = CollectorRegistry()
    return Metrics(
        registry=registry,
        requests=Counter(
            "matcher_http_requests",
            "HTTP requests by route and status.",
            ["method", "route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "matcher_http_request_seconds",
            "HTTP request duration by route.",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        ),
        offerings=Gauge(
            "matcher_indexed_offerings", "Active offerings in the vector index.", registry=registry
        ),
    )


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = {"error": {"status": status, "code": code, "message": message, "details": details or []}}
    return JSONResponse(body, status_code=status)


def _json_path(location: tuple[Any, ...]) -> str:
    """("body", "sectors", 0) → "body.sectors[0]"."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path or "body"


def _explain(error: dict[str, Any]) -> str:
    """Pydantic's message, made plainer where it is terse."""
    kind, message = error.get("type"), str(error["msg"])
    if kind == "extra_forbidden":
        return "not a field of this request (check the spelling; some fields cannot be changed here)"
    if kind == "literal_error":
        return f"{error.get('input')!r} is not allowed: {message[0].lower()}{message[1:]}"
    if kind in ("model_attributes_type", "dict_type") and tuple(error["loc"]) == ("body",):
        return "the body must be a JSON object, sent with 'Content-Type: application/json'"
    if error.get("input") is None and str(kind).endswith("_type") and error["loc"][0] == "body":
        return "may not be null (leave the field out instead)"
    return message


class BodySizeLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not they declare a length."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)
            return
        # No declared length (chunked): read the body first, up to the limit, then replay it.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "too_large", f"the request body is over {self.limit // 1024} KB")
        await response(scope, receive, send)


def is_page(path: str) -> bool:
    """Workbench pages answer errors as HTML; the API, operations and docs as JSON."""
    return not (
        path.startswith(("/v1", "/docs"))
        or path in ("/healthz", "/readyz", "/metrics", "/redoc", "/openapi.json")
    )


def _script_hashes(html: str) -> str:
    """CSP hash sources for the inline scripts of ``html``."""
    scripts = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    return " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()}'" for code in scripts
    )


class Guard:
    """Request id, security headers, metrics and the last word on unexpected failures.

    Outermost of the app's own middleware, so every answer passes here: a 413 from the
    body limit, a 404, a page, a 500. An exception no handler took becomes a 500 in the
    one error shape (an HTML page for the workbench), logged with the request id and its
    traceback and counted like any other answer.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings, docs_policies: dict[str, str]) -> None:
        self.app = app
        self.settings = settings
        self.docs_policies = docs_policies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        forwarded = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = forwarded if _FORWARDED_REQUEST_ID.match(forwarded) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope.get("path", "")
        started = time.perf_counter()
        status: int | None = None

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self._add_headers(MutableHeaders(scope=message), path, request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unexpected failure, request %s: %s %s", request_id, scope.get("method"), path)
            if status is not None:  # the answer had begun: nothing else can be sent
                raise
            await self._failure(scope, request_id)(scope, receive, send_with_headers)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics: Metrics = scope["app"].state.metrics
            method = scope.get("method", "")
            metrics.requests.labels(method, route, str(status or 500)).inc()
            metrics.latency.labels(method, route).observe(time.perf_counter() - started)

    def _add_headers(self, headers: MutableHeaders, path: str, request_id: str) -> None:
        headers["X-Request-ID"] = request_id
        headers["Content-Security-Policy"] = self.docs_policies.get(path, PAGE_POLICY)
        for name, value in SECURITY_HEADERS.items():
            headers[name] = value
        if self.settings.behind_https:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if not path.startswith("/static/"):
            # Pages and answers carry needs, some confidential: no cache keeps them.
            headers["Cache-Control"] = "no-store"

    @staticmethod
    def _failure(scope: Scope, request_id: str) -> Response:
        message = f"an unexpected error occurred; it was logged under request id {request_id}"
        if is_page(scope.get("path", "")):
            try:
                return web.error_page(Request(scope), 500, message, look_up_principal=False)
            except Exception:
                logger.exception("the error page failed too, request %s", request_id)
                return HTMLResponse(f"<!doctype html><title>500</title><p>{message}</p>", status_code=500)
        body = {
            "error": {
                "status": 500,
                "code": "internal",
                "message": message,
                "details": [],
                "request_id": request_id,
            }
        }
        return JSONResponse(body, status_code=500)


# Swagger UI and ReDoc ship inside the fastapi-offline package (its licence: MIT; Swagger
# UI's: Apache 2.0; ReDoc's: MIT), so the API docs need no internet access.
DOCS_ASSETS = Path(str(resources.files("fastapi_offline") / "static"))


# ReDoc's sidebar ends with a link to its makers whose logo loads from their CDN; the
# served copy leaves that element out, so the page names no other host (a test checks).
_REDOC_BRANDING = re.compile(
    r'\w+\.createElement\("a",\{target:"_blank",rel:"noopener noreferrer",'
    r'href:"https://redocly\.com/redoc/"\},\w+\.createElement\(\w+,null\),"API docs by Redocly"\)'
)


@lru_cache(maxsize=1)
def redoc_script() -> bytes:
    """ReDoc's standalone bundle without the link to redocly.com and its remote logo."""
    script = (DOCS_ASSETS / "redoc.standalone.js").read_text(encoding="utf-8")
    return _REDOC_BRANDING.sub("null", script).encode("utf-8")


def _offline_docs(app: FastAPI) -> dict[str, str]:
    """``/docs`` (Swagger UI) and ``/redoc`` from local assets: no ``src`` or ``href`` on
    either page points to another host, the favicon included. Returns each page's
    Content-Security-Policy (its inline scripts allowed by hash, nothing from elsewhere)."""

    @app.get("/docs-assets/redoc.standalone.js", include_in_schema=False)
    async def redoc_bundle() -> Response:
        return Response(redoc_script(), media_type="text/javascript; charset=utf-8")

    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    favicon = "/static/favicon.svg"
    oauth2_redirect = "/docs/oauth2-redirect"

    swagger = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} · API",
        oauth2_redirect_url=oauth2_redirect,
        swagger_js_url="/docs-assets/swagger-ui-bundle.js",
        swagger_css_url="/docs-assets/swagger-ui.css",
        swagger_favicon_url=favicon,
        # No badge from the public validator service.
        swagger_ui_parameters={"validatorUrl": None},
    )
    redirect = get_swagger_ui_oauth2_redirect_html()
    redoc = get_redoc_html(
        openapi_url=app.openapi_url or "/openapi.json",
        title=f"{app.title} · API",
        redoc_js_url="/docs-assets/redoc.standalone.js",
        redoc_favicon_url=favicon,
        with_google_fonts=False,
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return swagger

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return redirect

    @app.get("/redoc", include_in_schema=False)
    async def redoc_page() -> HTMLResponse:
        return redoc

    return {
        path: DOCS_POLICY.format(hashes=_script_hashes(bytes(page.body).decode()))
        for path, page in (("/docs", swagger), (oauth2_redirect, redirect), ("/redoc", redoc))
    }


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from catalog.loaders import seed_store
        from matcher.services.automatic import JobRunner
        from matcher.services.freshness import CatalogFollower
        from matcher.services.lifecycle import daily_pass
        from matcher.services.matching import MatchingService, build_encoders
        from matcher.services.notifications import NotificationSender
        from matcher.services.reference import party_names
        from matcher.store.db import open_store

        store = open_store(settings)
        seed_store(store.sessions)
        matching = MatchingService(
            encoders=build_encoders(
                settings.multilingual_encoder,
                settings.english_encoder,
                threads=settings.resolved_encoder_threads,
            ),
            index_dir=settings.index_dir,
            weights=settings.ranking,
            proposals_per_need=settings.proposals_per_need,
            fit_threshold=settings.donor_min_score,
            freshness_seconds=settings.freshness_ms / 1000,
            checkpoint_seconds=settings.checkpoint_seconds,
        )
        with session_scope(store.sessions) as session:
            matching.load(session)
            app.state.party_names = party_names(session)
        matching.warm_up()
        # Other workers' writes (and `matcher catalog load`) reach this process through the
        # database: notified on PostgreSQL, polled on SQLite (and before every read).
        follower = CatalogFollower(
            store.sessions, matching, store.engine, poll_seconds=settings.catalog_poll_seconds
        )
        follower.start()
        runner = JobRunner(
            store.sessions,
            matching,
            poll_seconds=settings.job_poll_seconds,
            daily=lambda session, day: daily_pass(
                session,
                day,
                reconfirm_after_days=settings.reconfirm_after_days,
                grace_days=settings.reconfirm_grace_days,
            ),
        )
        runner.start()
        app.state.store = store
        app.state.matching = matching
        app.state.jobs = runner
        app.state.follower = follower
        # Read at scrape time from a count kept when offerings change: no per-request work.
        app.state.metrics.offerings.set_function(lambda: matching.active_offerings)
        logger.info("serving %d offerings from %s", len(matching.offerings), settings.display_database_url)
        # The e-mail sender: one thread per process, and one process sending at a time across
        # workers (it holds the database lease "notifications").
        sender = None
        if settings.smtp_url is None:
            logger.info("MATCHER_SMTP_URL is not set: e-mail notices wait in the outbox")
        elif settings.notify_in_serve:
            sender = NotificationSender(store.sessions, settings)
            sender.start()
        app.state.notifications = sender
        try:
            yield
        finally:
            runner.stop()
            follower.stop()
            if sender is not None:
                sender.stop()
            matching.checkpoint(force=True)  # the next start begins from what this one served
            store.engine.dispose()

    app = FastAPI(
        title="Minamata Match",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={
            500: {
                "model": ErrorOut,
                "description": "Unexpected failure, logged under the `request_id` given.",
            }
        },
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = _metrics()

    app.mount("/static", StaticFiles(directory=web.HERE / "static"), name="static")
    app.include_router(web.router)
    docs_policies = _offline_docs(app)
    for router in (
        cases.router,
        needs.router,
        offerings.router,
        review.router,
        reference.router,
        keys.router,
        operations.router,
        assessment.router,
    ):
        app.include_router(router)

    @app.exception_handler(web.SignInRequired)
    async def sign_in_first(request: Request, problem: web.SignInRequired) -> Response:
        return RedirectResponse("/", status_code=303)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, problem: ServiceError) -> Response:
        if is_page(request.url.path):
            return web.error_page(request, problem.status, problem.message)
        return error_response(problem.status, problem.code, problem.message, problem.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, problem: RequestValidationError) -> Response:
        errors = problem.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        details = [{"loc": _json_path(tuple(error["loc"])), "message": _explain(error)} for error in errors]
        fields = ", ".join(detail["loc"] for detail in details)
        if is_page(request.url.path):
            explained = "; ".join(f"{detail['loc']}: {detail['message']}" for detail in details)
            return web.error_page(request, 422, f"invalid {fields} ({explained})")
        return error_response(422, "invalid", f"invalid fields: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, problem: StarletteHTTPException) -> Response:
        if is_page(request.url.path) and problem.status_code == 404:
            return web.error_page(request, 404, f"no page {request.url.path}")
        codes = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        message = problem.detail if isinstance(problem.detail, str) else "request refused"
        if problem.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        return error_response(problem.status_code, codes.get(problem.status_code, "error"), message)

    app.add_middleware(BodySizeLimit)
    app.add_middleware(Guard, settings=settings, docs_policies=docs_policies)  # added last: outermost
    return app
