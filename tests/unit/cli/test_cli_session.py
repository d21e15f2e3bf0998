"""Token refresh: once per expiry however many requests got the 401, and saved for the next run."""

from __future__ import annotations

import asyncio

import pytest

from pixtract.cli.config import Credentials
from pixtract.cli.session import ApiSession, NotLoggedIn
from tests.unit.cli.fakes import FakePixtract

BASE = "http://pixtract.test"


def _logged_in(server: FakePixtract) -> Credentials:
    return Credentials(BASE, access_token=server.access_token, refresh_token=server.refresh_token)


async def test_a_401_refreshes_once_for_all_concurrent_requests_and_saves_the_new_pair() -> None:
    server = FakePixtract()
    saved: list[Credentials] = []
    async with ApiSession(BASE, _logged_in(server), on_refreshed=saved.append, transport=server.transport()) as api:
        server.expire_access_token()
        answers = await asyncio.gather(*(api.request("GET", "/api/v1/auth/me") for _ in range(5)))
    assert [answer.status_code for answer in answers] == [200] * 5
    assert server.refreshes == 1, "a rotated refresh token presented twice would end the session"
    assert saved == [Credentials(BASE, access_token="access-2", refresh_token="refresh-2")]


async def test_an_ended_session_asks_for_a_login() -> None:
    server = FakePixtract()
    credentials = Credentials(BASE, access_token="access-1", refresh_token="refresh-old")
    async with ApiSession(BASE, credentials, transport=server.transport()) as api:
        server.expire_access_token()
        with pytest.raises(NotLoggedIn, match=r"pixtract login --url http://pixtract\.test"):
            await api.request("GET", "/api/v1/auth/me")


async def test_api_keys_are_sent_as_bearer_and_never_refreshed() -> None:
    server = FakePixtract()
    async with ApiSession(BASE, Credentials(BASE, api_key="pxk_test"), transport=server.transport()) as api:
        assert (await api.request("GET", "/api/v1/auth/me")).status_code == 200
    async with ApiSession(BASE, Credentials(BASE, api_key="pxk_revoked"), transport=server.transport()) as api:
        assert (await api.request("GET", "/api/v1/auth/me")).status_code == 401
    assert server.refreshes == 0
    assert ("POST", "/api/v1/auth/refresh") not in server.requests
