"""One HTTP client for the Pixtract API, with the stored credentials.

An access token lives 15 minutes, so a long upload outlives it: a 401 is answered by
trading the refresh token for a new pair and sending the request once more. Refresh tokens
rotate and the auth service revokes the whole session when a rotated one is presented
again, so concurrent requests that all got a 401 must not all refresh: the first refreshes
under a lock, the others see the token changed and simply retry with it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import httpx

from pixtract.cli.config import Credentials
from pixtract.cli.problems import ApiError, CliError, api_error

USER_AGENT = "pixtract-cli/0.1.0"
# Uploads of large files: the answer comes after the server checked and stored the whole file.
TIMEOUT = httpx.Timeout(30.0, read=600.0, write=120.0)
REFRESH_PATH = "/api/v1/auth/refresh"


class NotLoggedIn(CliError):
    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"{reason} Run `pixtract login --url {base_url}`.")


class ApiSession:
    def __init__(
        self,
        base_url: str,
        credentials: Credentials | None,
        *,
        on_refreshed: Callable[[Credentials], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 10,
    ) -> None:
        self.base_url = base_url
        self.credentials = credentials
        self._on_refreshed = on_refreshed
        self._refresh_lock = asyncio.Lock()
        self.http = httpx.AsyncClient(
            base_url=base_url,
            timeout=TIMEOUT,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def __aenter__(self) -> ApiSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    @property
    def _bearer(self) -> str | None:
        return self.credentials.bearer if self.credentials is not None else None

    def _can_refresh(self) -> bool:
        return (
            self.credentials is not None and self.credentials.api_key is None and bool(self.credentials.refresh_token)
        )

    async def send(
        self, build: Callable[[], httpx.Request], *, stream: bool = False, follow_redirects: bool = False
    ) -> httpx.Response:
        """Send the request `build` makes, authenticated; after a 401, refresh once and send a fresh copy."""
        bearer = self._bearer
        response = await self._send_as(bearer, build, stream=stream, follow_redirects=follow_redirects)
        if response.status_code != 401 or not self._can_refresh():
            return response
        await response.aclose()
        await self._refresh(bearer)
        return await self._send_as(self._bearer, build, stream=stream, follow_redirects=follow_redirects)

    async def _send_as(
        self, bearer: str | None, build: Callable[[], httpx.Request], *, stream: bool, follow_redirects: bool
    ) -> httpx.Response:
        request = build()
        if bearer is not None:
            request.headers["Authorization"] = f"Bearer {bearer}"
        return await self.http.send(request, stream=stream, follow_redirects=follow_redirects)

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Like httpx's `request` (json=, params=, files=, ...), authenticated, with one refresh on a 401."""
        return await self.send(lambda: self.http.build_request(method, url, headers=headers, content=content, **kwargs))

    async def _refresh(self, rejected_bearer: str | None) -> None:
        async with self._refresh_lock:
            if self._bearer != rejected_bearer:
                return  # another request refreshed while this one waited
            assert self.credentials is not None
            assert self.credentials.refresh_token is not None
            response = await self.http.post(REFRESH_PATH, json={"refresh_token": self.credentials.refresh_token})
            if response.status_code != 200:
                error = await api_error(response)
                if response.status_code in (400, 401, 422):
                    raise NotLoggedIn(self.base_url, f"The session has ended ({error.detail or error.title}).")
                raise error
            tokens = response.json()
            self.credentials = dataclasses.replace(
                self.credentials, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"]
            )
            if self._on_refreshed is not None:
                self._on_refreshed(self.credentials)


async def expect(response: httpx.Response, *statuses: int) -> httpx.Response:
    """The response if its status is one of `statuses`; otherwise its problem as an ApiError."""
    if response.status_code in statuses:
        return response
    error = await api_error(response)
    await response.aclose()
    raise error


def raise_if_unauthorized(error: ApiError, base_url: str, credentials: Credentials | None) -> None:
    """A 401 means the stored credentials are missing or no longer valid: say how to fix it."""
    if error.status != 401:
        return
    if credentials is None:
        raise NotLoggedIn(base_url, f"Not logged in to {base_url}.")
    raise NotLoggedIn(base_url, f"The server refused the stored credentials ({error.detail or error.title}).")
