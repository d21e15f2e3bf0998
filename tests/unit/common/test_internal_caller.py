"""`InternalCaller`: only the shared internal token opens /internal/ endpoints (in process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError

from pixtract.common.auth import InternalCaller
from pixtract.common.config import Environment, S3Settings, ServiceSettings
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.common.http import create_service_app

TOKEN = "internal-token-for-tests-0123456789abcdef"


def _client(token: str | None) -> TestClient:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield

    router = APIRouter(prefix="/internal/v1", dependencies=[InternalCaller])

    @router.get("/things")
    async def things(limit: int = 1) -> dict[str, int]:
        return {"limit": limit}

    settings = ServiceSettings(internal_token=SecretStr(token) if token is not None else None)
    return TestClient(create_service_app(settings, title="t", lifespan=lifespan, routers=[router]))


def test_the_internal_token_opens_the_endpoint() -> None:
    with _client(TOKEN) as client:
        response = client.get("/internal/v1/things", params={"limit": 3}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (response.status_code, response.json()) == (200, {"limit": 3})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.a-user-token.sig"},
    ],
)
def test_anything_else_is_a_401(headers: dict[str, str]) -> None:
    with _client(TOKEN) as client:
        response = client.get("/internal/v1/things", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)


def test_the_token_is_checked_before_the_parameters() -> None:
    with _client(TOKEN) as client:
        response = client.get("/internal/v1/things", params={"limit": "many"})
    assert response.status_code == 401


def test_without_a_configured_token_the_endpoints_do_not_exist() -> None:
    with _client(None) as client:
        unknown = client.get("/internal/v1/nothing-here")
        guarded = client.get("/internal/v1/things", headers={"Authorization": f"Bearer {TOKEN}"})
    assert guarded.status_code == unknown.status_code == 404
    assert guarded.json() == unknown.json()


@pytest.mark.parametrize("token", ["", "changeme", "short-token", "x" * 31])
@pytest.mark.parametrize("environment", list(Environment))
def test_a_weak_internal_token_is_refused_everywhere(token: str, environment: Environment) -> None:
    with pytest.raises(ValidationError, match="internal_token"):
        ServiceSettings(
            environment=environment,
            s3=S3Settings(secret_access_key=SecretStr("a-real-s3-secret")),
            internal_token=SecretStr(token),
        )


def test_the_token_comes_from_the_services_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    from pixtract.search.config import Settings as SearchSettings
    from pixtract.upload.config import Settings as UploadSettings

    monkeypatch.setenv("PIXTRACT_UPLOAD_INTERNAL_TOKEN", TOKEN)
    monkeypatch.setenv("PIXTRACT_SEARCH_INTERNAL_TOKEN", TOKEN + "-search")
    upload, search = UploadSettings(), SearchSettings()
    assert upload.internal_token is not None
    assert search.internal_token is not None
    assert upload.internal_token.get_secret_value() == TOKEN
    assert search.internal_token.get_secret_value() == TOKEN + "-search"
    assert TOKEN not in repr(upload)
