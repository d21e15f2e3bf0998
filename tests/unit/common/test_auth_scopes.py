"""Scopes in pixtract.common.auth: `require_scope` and the ImagesReader / ImagesWriter aliases (in process)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from pixtract.common.auth import (
    USER_SCOPES,
    AuthenticationError,
    ImagesReader,
    ImagesWriter,
    Principal,
    Scope,
    require_scope,
)
from pixtract.common.config import ServiceSettings
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.common.http import create_service_app

# Bearer credential -> the scopes the stand-in verifier gives it.
CREDENTIALS: dict[str, frozenset[str]] = {
    "login-token": USER_SCOPES,
    "read-only-key": frozenset({Scope.IMAGES_READ}),
    "write-only-key": frozenset({Scope.IMAGES_WRITE}),
    "no-scope-key": frozenset(),
    "unknown-scope-key": frozenset({"images:admin"}),
}


class StandInVerifier:
    async def verify(self, credential: str) -> Principal:
        if credential not in CREDENTIALS:
            raise AuthenticationError("invalid token")
        return Principal(user_id="alice", scopes=CREDENTIALS[credential], via="api_key")


@pytest.fixture
def client() -> Iterator[TestClient]:
    router = APIRouter()

    @router.get("/things")
    async def read(principal: ImagesReader) -> dict[str, str]:
        return {"user": principal.user_id}

    @router.post("/things")
    async def write(principal: ImagesWriter) -> dict[str, str]:
        return {"user": principal.user_id}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.token_verifier = StandInVerifier()
        yield

    app = create_service_app(ServiceSettings(), title="test", lifespan=lifespan, routers=[router])
    with TestClient(app) as test_client:
        yield test_client


def _as(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_the_scope_vocabulary_is_the_wire_values() -> None:
    assert [scope.value for scope in Scope] == ["images:read", "images:write"]
    assert {"images:read", "images:write"} == USER_SCOPES
    assert Scope("images:read") is Scope.IMAGES_READ


def test_a_login_token_reads_and_writes(client: TestClient) -> None:
    assert client.get("/things", headers=_as("login-token")).json() == {"user": "alice"}
    assert client.post("/things", headers=_as("login-token")).json() == {"user": "alice"}


@pytest.mark.parametrize(
    ("credential", "method", "missing"),
    [
        ("read-only-key", "POST", "images:write"),
        ("write-only-key", "GET", "images:read"),
        ("no-scope-key", "GET", "images:read"),
        ("no-scope-key", "POST", "images:write"),
        ("unknown-scope-key", "GET", "images:read"),
    ],
)
def test_a_missing_scope_is_a_403_problem_naming_it(
    client: TestClient, credential: str, method: str, missing: str
) -> None:
    response = client.request(method, "/things", headers=_as(credential))
    assert response.status_code == 403
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body = response.json()
    assert body["type"] == "https://pixtract.dev/problems/insufficient-scope"
    assert body["status"] == 403
    assert missing in body["detail"]
    assert f'scope="{missing}"' in response.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_a_scope_is_enough_for_its_own_routes(client: TestClient) -> None:
    assert client.get("/things", headers=_as("read-only-key")).status_code == 200
    assert client.post("/things", headers=_as("write-only-key")).status_code == 200


@pytest.mark.parametrize("headers", [{}, _as("forged"), {"Authorization": "Basic YWxpY2U6c2VjcmV0"}])
def test_no_valid_credential_is_still_a_401_not_a_403(client: TestClient, headers: dict[str, str]) -> None:
    for method in ("GET", "POST"):
        response = client.request(method, "/things", headers=headers)
        assert response.status_code == 401
        assert response.json()["type"] == "https://pixtract.dev/problems/unauthorized"


async def test_require_scope_returns_the_principal_it_was_given() -> None:
    check = require_scope(Scope.IMAGES_WRITE)
    principal = Principal(user_id="bob", scopes=frozenset({Scope.IMAGES_WRITE}))
    assert await check(principal) is principal
    assert check.__name__ == "require_images_write"
