"""An early error answer waits until the request body has been read (DrainUnreadBodyMiddleware), in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request

from pixtract.common.config import ServiceSettings
from pixtract.common.errors import Problem
from pixtract.common.http import DrainUnreadBodyMiddleware, create_service_app

CHUNKS = [b"a" * 1000, b"b" * 1000, b"c" * 1000]


def _refuse() -> None:
    raise Problem(401, "No.", slug="unauthorized")


def _app() -> FastAPI:
    router = APIRouter()

    @router.post("/refused", dependencies=[Depends(_refuse)])
    async def refused() -> None:
        return None

    @router.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @router.get("/plain")
    async def plain() -> dict[str, str]:
        return {"ok": "yes"}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    return create_service_app(ServiceSettings(), title="test", lifespan=lifespan, routers=[router])


async def _call(
    app: Any, method: str, path: str, chunks: list[bytes], headers: dict[str, str] | None = None
) -> list[str]:
    """Runs one request through the ASGI app; the events in order: body chunks taken, answer sent."""
    events: list[str] = []
    pending: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": n < len(chunks) - 1} for n, chunk in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    length = sum(len(chunk) for chunk in chunks)
    sent_headers = {"content-length": str(length)} if length else {}
    sent_headers.update(headers or {})

    async def receive() -> dict[str, Any]:
        if pending:
            message = pending.pop(0)
            events.append(f"took {len(message['body'])}")
            return message
        await asyncio.sleep(3600)  # a real server would wait for the client: must never happen here
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            events.append(f"answered {message['status']}")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in sent_headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=5)
    return events


async def test_an_early_refusal_is_sent_after_the_whole_body_was_read() -> None:
    events = await _call(_app(), "POST", "/refused", CHUNKS)
    assert events == ["took 1000", "took 1000", "took 1000", "answered 401"]


async def test_a_route_that_reads_the_body_is_unaffected() -> None:
    assert await _call(_app(), "POST", "/echo", CHUNKS) == ["took 1000", "took 1000", "took 1000", "answered 200"]


async def test_a_request_without_a_body_is_answered_without_waiting() -> None:
    assert await _call(_app(), "GET", "/plain", []) == ["answered 200"]
    assert await _call(_app(), "POST", "/refused", []) == ["answered 401"]


async def test_a_client_waiting_for_100_continue_is_refused_at_once() -> None:
    events = await _call(_app(), "POST", "/refused", CHUNKS, {"expect": "100-continue"})
    assert events == ["answered 401"]


async def test_draining_stops_at_the_limit() -> None:
    async def refuse(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    events = await _call(DrainUnreadBodyMiddleware(refuse, limit_bytes=1500), "POST", "/x", CHUNKS)
    assert events == ["took 1000", "took 1000", "answered 413"]
