"""The FastAPI application: lifespan, error shape, body-size limit and metrics.

``create_app()`` builds the app over the configured store. On start it migrates and (when
empty) seeds the database, then loads or rebuilds the vector indexes, so the first
request is served from a ready engine, and starts the e-mail notification sender (when
``MATCHER_SMTP_URL`` is set), which it stops at shutdown. ``matcher serve`` runs it with
uvicorn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from matcher.api import web
from matcher.api.routes import keys, needs, offerings, operations, reference, review
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
Every error has the same body: `{"error": {"status", "code", "message", "details": [{"loc", "message"}]}}`.
"""


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
            encoders=build_encoders(settings.multilingual_encoder, settings.english_encoder),
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
        logger.info("serving %d offerings from %s", len(matching.offerings), settings.resolved_database_url)
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
        responses={500: {"description": "Unexpected failure (logged)."}},
    )
    app.state.metrics = _metrics()
    app.state.web_secret = web.new_web_secret()
    app.mount("/static", StaticFiles(directory=web.HERE / "static"), name="static")
    app.include_router(web.router)
    for router in (
        needs.router,
        offerings.router,
        review.router,
        reference.router,
        keys.router,
        operations.router,
    ):
        app.include_router(router)

    def is_page(request: Request) -> bool:
        path = request.url.path
        return not (
            path.startswith("/v1") or path in ("/healthz", "/readyz", "/metrics", "/docs", "/openapi.json")
        )

    @app.exception_handler(web.SignInRequired)
    async def sign_in_first(request: Request, problem: web.SignInRequired) -> Response:
        return RedirectResponse("/", status_code=303)

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, problem: ServiceError) -> Response:
        if is_page(request):
            return web.error_page(request, problem.status, problem.message)
        return error_response(problem.status, problem.code, problem.message, problem.details)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, problem: RequestValidationError) -> JSONResponse:
        errors = problem.errors()
        if any(error.get("type") == "json_invalid" for error in errors):
            return error_response(400, "malformed_json", "the request body is not valid JSON")
        details = [{"loc": _json_path(tuple(error["loc"])), "message": _explain(error)} for error in errors]
        fields = ", ".join(detail["loc"] for detail in details)
        return error_response(422, "invalid", f"invalid fields: {fields}", details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, problem: StarletteHTTPException) -> Response:
        if is_page(request) and problem.status_code == 404:
            return web.error_page(request, 404, f"no page {request.url.path}")
        codes = {401: "not_authenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        message = problem.detail if isinstance(problem.detail, str) else "request refused"
        if problem.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        return error_response(problem.status_code, codes.get(problem.status_code, "error"), message)

    @app.middleware("http")
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        metrics = request.app.state.metrics
        metrics.requests.labels(request.method, template, str(response.status_code)).inc()
        metrics.latency.labels(request.method, template).observe(time.perf_counter() - started)
        return response

    app.add_middleware(BodySizeLimit)
    return app
