"""The shared service shell: problem+json errors, health, readiness, request ids (in-process, no sockets)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from pydantic import BaseModel
from pymongo.errors import ServerSelectionTimeoutError

from pixtract.common.config import ServiceSettings
from pixtract.common.errors import PROBLEM_CONTENT_TYPE, Problem
from pixtract.common.http import create_service_app
from pixtract.common.tracing import configure_tracing


class ItemIn(BaseModel):
    name: str
    count: int


def _app(checks: dict[str, object]) -> FastAPI:
    router = APIRouter()

    @router.get("/teapot")
    async def teapot() -> None:
        raise Problem(418, "Short and stout.", slug="teapot")

    @router.post("/items")
    async def create(item: ItemIn) -> ItemIn:
        return item

    @router.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @router.get("/outage")
    async def outage() -> None:
        raise ServerSelectionTimeoutError("no servers")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.readiness = checks
        yield

    return create_service_app(ServiceSettings(), title="test", lifespan=lifespan, routers=[router])


async def _ok() -> None:
    return None


async def _down() -> None:
    raise ConnectionError("mongo unreachable")


def test_problem_is_rendered_as_problem_json() -> None:
    with TestClient(_app({})) as client:
        response = client.get("/teapot")
    assert response.status_code == 418
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body == {
        "type": "https://pixtract.dev/problems/teapot",
        "title": "I'm a Teapot",
        "status": 418,
        "detail": "Short and stout.",
    }


def test_validation_errors_list_each_field() -> None:
    with TestClient(_app({})) as client:
        response = client.post("/items", json={"name": "x", "count": "many"})
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert [e["loc"] for e in body["errors"]] == [["body", "count"]]


def test_unknown_route_is_a_problem_404() -> None:
    with TestClient(_app({})) as client:
        response = client.get("/nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE


def test_unexpected_error_hides_internals() -> None:
    with TestClient(_app({}), raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text
    assert response.json()["status"] == 500


def test_readiness_reports_each_dependency() -> None:
    with TestClient(_app({"kafka": _ok, "mongo": _down})) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["checks"]["kafka"] == "ok"
    assert "mongo unreachable" in response.json()["checks"]["mongo"]


def test_ready_when_every_check_passes() -> None:
    with TestClient(_app({"kafka": _ok})) as client:
        assert client.get("/readyz").status_code == 200


def test_request_id_is_echoed_or_minted() -> None:
    with TestClient(_app({})) as client:
        echoed = client.get("/healthz", headers={"X-Request-ID": "abc123"})
        minted = client.get("/healthz")
    assert echoed.headers["x-request-id"] == "abc123"
    assert len(minted.headers["x-request-id"]) == 32


def test_metrics_are_exposed() -> None:
    with TestClient(_app({})) as client:
        client.get("/teapot")
        text = client.get("/metrics").text
    assert 'pixtract_http_request_seconds_count{method="GET",route="/teapot",status="418"}' in text


def test_an_outage_is_a_503_in_the_answer_its_request_id_and_the_metrics() -> None:
    # The client re-raises whatever escapes the app: an outage must be answered inside it, so
    # the request log and the latency metric see the 503 the client gets (not a 500).
    with TestClient(_app({})) as client:
        response = client.get("/outage", headers={"X-Request-ID": "outage1"})
        text = client.get("/metrics").text
    assert response.status_code == 503
    assert response.headers["x-request-id"] == "outage1"
    assert 'pixtract_http_request_seconds_count{method="GET",route="/outage",status="503"} 1.0' in text
    assert 'route="/outage",status="500"' not in text


def test_an_answer_of_500_or_more_marks_the_request_span_failed() -> None:
    configure_tracing("test")  # what every service's entry point does
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        with TestClient(_app({})) as client:
            client.get("/outage")
            client.get("/teapot")
        spans = {span.name: span for span in exporter.get_finished_spans()}
    finally:
        exporter.shutdown()  # later tests' spans are not kept
    assert spans["GET /outage"].status.status_code is StatusCode.ERROR
    assert spans["GET /teapot"].status.status_code is StatusCode.UNSET
