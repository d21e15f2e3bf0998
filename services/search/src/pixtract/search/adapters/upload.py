"""The upload service's internal export: every live image record, a page at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
from pydantic import SecretStr

EXPORT_PATH = "/internal/v1/images"
TIMEOUT_S = 30.0


class UploadUnavailable(Exception):
    """The export could not be read: upload is down, refuses our token, or answered nonsense."""


class UploadExport:
    def __init__(self, http: httpx.AsyncClient, base_url: str, token: SecretStr, *, page_size: int = 500) -> None:
        self._http = http
        self._url = base_url.rstrip("/") + EXPORT_PATH
        self._token = token
        self._page_size = page_size

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Each page's items, until the last; a page is read only when the previous one was used."""
        cursor: str | None = None
        while True:
            body = await self._page(cursor)
            items = body.get("items")
            if not isinstance(items, list):
                raise UploadUnavailable("the export answered without items")
            yield [item for item in items if isinstance(item, dict)]
            cursor = body.get("next_cursor")
            if not cursor:
                return

    async def _page(self, cursor: str | None) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": self._page_size}
        if cursor:
            params["cursor"] = cursor
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        try:
            response = await self._http.get(self._url, params=params, headers=headers, timeout=TIMEOUT_S)
        except httpx.HTTPError as exc:
            raise UploadUnavailable(f"upload export unreachable at {self._url}: {exc!r}") from exc
        if response.status_code == 404:
            raise UploadUnavailable("upload answered 404: is its internal token configured?")
        if response.status_code == 401:
            raise UploadUnavailable("upload refused our internal token: the two services must share one")
        if response.status_code != 200:
            raise UploadUnavailable(f"upload export answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise UploadUnavailable("the export answered with something that is not JSON") from exc
        if not isinstance(body, dict):
            raise UploadUnavailable("the export answered with something that is not a page")
        return body
