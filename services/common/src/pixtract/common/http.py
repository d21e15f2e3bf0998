"""The FastAPI app every service is built on: health, readiness, metrics, errors, request ids.

`create_service_app` gives each service the same outer shell; a service adds its routers
and a lifespan that opens its clients and registers their readiness checks in
`app.state.readiness`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixtract.common.config import ServiceSettings
from pixtract.common.errors import install_problem_handlers
from pixtract.common.logging import get_logger, request_id_var
from pixtract.common.metrics import HTTP_REQUEST_SECONDS
from pixtract.common.tracing import span_from_carrier

ReadinessCheck = Callable[[], Awaitable[object]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

READINESS_TIMEOUT_S = 2.0
SERVICE_ONLY_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# How much of an unread request body is read before an error answer goes out (see below).
DRAIN_LIMIT_BYTES = 128 * 1024 * 1024

log = get_logger(__name__)


class RequestContextMiddleware:
    """Request id, trace span and latency metric for every HTTP request (pure ASGI, streams untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        token = request_id_var.set(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            with span_from_carrier(f"{scope['method']} {scope['path']}", headers, SpanKind.SERVER) as span:
                await self.app(scope, receive, send_with_id)
                if status >= 500:
                    # Answered inside the app (an outage's 503, a handled 500): no exception
                    # reaches the span to mark it failed.
                    span.set_status(Status(StatusCode.ERROR, f"HTTP {status}"))
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            elapsed = time.perf_counter() - started
            HTTP_REQUEST_SECONDS.labels(scope["method"], template, str(status)).observe(elapsed)
            if scope["path"] not in SERVICE_ONLY_PATHS:
                log.info("request", method=scope["method"], route=template, status=status, ms=round(elapsed * 1000, 1))
            request_id_var.reset(token)


class DrainUnreadBodyMiddleware:
    """Reads the rest of a request body before an error answer to it is sent.

    A route may refuse a request before reading its body (a 401 from the token check on an
    upload, a 413 half-way through one). Behind a reverse proxy built on Go's net/http (Caddy,
    most ingress controllers) such an early answer races the proxy's forwarding of the body:
    once the proxy has passed the answer's headers on, it stops reading the body, its write to
    us fails, and it drops the upstream connection with the answer's body unread. The client
    then sees a broken connection instead of, say, the 401 that tells it to refresh its token.
    uvicorn reads and discards the rest of the body anyway to keep the connection alive; this
    only does it first, up to a limit. A client that asked `Expect: 100-continue` has sent no
    body yet and is answered at once.
    """

    def __init__(self, app: ASGIApp, limit_bytes: int = DRAIN_LIMIT_BYTES) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body_to_come(scope):
            await self.app(scope, receive, send)
            return
        body_done = False

        async def tracking_receive() -> Message:
            nonlocal body_done
            message = await receive()
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                body_done = True
            return message

        async def draining_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] >= 400:
                drained = 0
                while not body_done and drained <= self.limit_bytes:
                    drained += len((await tracking_receive()).get("body", b""))
            await send(message)

        await self.app(scope, tracking_receive, draining_send)


def _has_body_to_come(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    if headers.get(b"expect", b"").lower() == b"100-continue":
        return False
    length = headers.get(b"content-length", b"0")
    return b"transfer-encoding" in headers or (length.isdigit() and int(length) > 0)


async def _run_check(name: str, check: ReadinessCheck) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(check(), READINESS_TIMEOUT_S)
    except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
        return name, f"{type(exc).__name__}: {exc}"[:300]
    return name, None


def _health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness", {})
        results = await asyncio.gather(*(_run_check(n, c) for n, c in checks.items()))
        failures = {name: reason for name, reason in results if reason is not None}
        body: dict[str, Any] = {
            "status": "ready" if not failures else "not ready",
            "checks": {name: reason or "ok" for name, reason in results},
        }
        return JSONResponse(body, status_code=503 if failures else 200)

    @router.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    lifespan: Lifespan,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.readiness = {}
    install_problem_handlers(app)
    app.add_middleware(DrainUnreadBodyMiddleware)
    app.add_middleware(RequestContextMiddleware)
    app.include_router(_health_router())
    for router in routers:
        app.include_router(router)
    return app
