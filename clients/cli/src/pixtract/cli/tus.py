"""A tus 1.0 client (core + creation, checksum when offered) for large files over bad networks.

The server is asked once with `OPTIONS`; a creation `POST` announces the length and the
file name, then `PATCH` requests send the file in chunks from the offset the server
confirmed. After a network error (or a 409 offset mismatch, or a 5xx) the client asks with
`HEAD` where the server really is and goes on from there, with a capped backoff. The upload
URL is kept in a `ResumeStore`, so a later run of the command resumes instead of starting over.
Pixtract answers the PATCH that completes an upload (and a HEAD of a completed one) with
`Pixtract-Image-Id`, plus `Pixtract-Duplicate: true` for bytes the caller already had.

Only the `Requester` protocol is needed to talk HTTP, so the client runs against an
`httpx.MockTransport` in tests as well as against the API session with its token refresh.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import httpx

from pixtract.cli.config import write_private_json
from pixtract.cli.problems import api_error

TUS_VERSION = "1.0.0"
TUS_CONTENT_TYPE = "application/offset+octet-stream"
UPLOADS_ENDPOINT = "/api/v1/uploads"
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024
# The checksum extension's algorithms we can compute, best first (names as tus spells them).
CHECKSUMS: dict[str, Callable[[bytes], Any]] = {"sha256": hashlib.sha256, "sha1": hashlib.sha1, "md5": hashlib.md5}
# 460 Checksum Mismatch (tus checksum extension): the chunk was damaged on the way; send it again.
RETRYABLE_STATUSES = frozenset({409, 423, 460, 500, 502, 503, 504})
IMAGE_ID_HEADER = "Pixtract-Image-Id"
DUPLICATE_HEADER = "Pixtract-Duplicate"


class Requester(Protocol):
    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, content: bytes | None = None
    ) -> httpx.Response: ...


class TusError(Exception):
    """The tus upload cannot go on (the server's answers make no sense, or retries ran out)."""


class UploadGone(TusError):
    """The server no longer knows this upload (404/410): it has to start over."""


@dataclass(frozen=True)
class TusServer:
    max_size: int | None
    extensions: frozenset[str]
    checksum_algorithm: str | None


@dataclass(frozen=True)
class TusResult:
    url: str
    # The answer that showed the upload complete: the PATCH that delivered the last byte or,
    # when that answer was lost to a network error, the HEAD that found every byte stored.
    final: httpx.Response | None
    resumed_from: int

    @property
    def image_id(self) -> str | None:
        return self.final.headers.get(IMAGE_ID_HEADER) if self.final is not None else None

    @property
    def duplicate(self) -> bool:
        return self.final is not None and self.final.headers.get(DUPLICATE_HEADER, "").lower() == "true"


def _header_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """`Upload-Metadata`: comma-separated `key base64(value)` pairs."""
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode('ascii')}" for key, value in metadata.items())


class ResumeStore:
    """Unfinished uploads' URLs in a small JSON file (0600), keyed by server and file content.

    Keyed by the SHA-256 (and size), not the path: a moved or renamed file still resumes.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def key(base_url: str, sha256: str, size: int) -> str:
        return f"{base_url} {sha256} {size}"

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def get(self, key: str) -> str | None:
        url = self._load().get(key, {}).get("url")
        return url if isinstance(url, str) else None

    def put(self, key: str, url: str, filename: str) -> None:
        entries = self._load()
        entries[key] = {"url": url, "filename": filename, "updated_at": int(time.time())}
        write_private_json(self.path, entries)

    def remove(self, key: str) -> None:
        entries = self._load()
        if entries.pop(key, None) is not None:
            write_private_json(self.path, entries)


class ResumeSlot(Protocol):
    """Where one file's upload URL is kept between runs."""

    def get(self) -> str | None: ...
    def put(self, url: str) -> None: ...
    def remove(self) -> None: ...


@dataclass
class StoredSlot:
    store: ResumeStore
    key: str
    filename: str

    def get(self) -> str | None:
        return self.store.get(self.key)

    def put(self, url: str) -> None:
        self.store.put(self.key, url, self.filename)

    def remove(self) -> None:
        self.store.remove(self.key)


class TusClient:
    def __init__(
        self,
        api: Requester,
        endpoint: str = UPLOADS_ENDPOINT,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_retries: int = 6,
        retry_delay_s: float = 0.5,
        max_retry_delay_s: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._api = api
        self._endpoint = endpoint
        self._chunk_bytes = chunk_bytes
        self._max_retries = max_retries
        self._retry_delay_s = retry_delay_s
        self._max_retry_delay_s = max_retry_delay_s
        self._sleep = sleep
        self._server: TusServer | None = None

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Tus-Resumable": TUS_VERSION, **extra}

    async def discover(self) -> TusServer | None:
        """What the server offers, or None if it does not speak tus 1.0 at this endpoint."""
        try:
            response = await self._api.request("OPTIONS", self._endpoint, headers=self._headers())
        except httpx.TransportError:
            return None
        versions = _header_list(response.headers.get("Tus-Version"))
        if response.status_code not in (200, 204) or (
            response.headers.get("Tus-Resumable") != TUS_VERSION and TUS_VERSION not in versions
        ):
            return None
        extensions = frozenset(_header_list(response.headers.get("Tus-Extension")))
        offered = set(_header_list(response.headers.get("Tus-Checksum-Algorithm")))
        checksum = next((name for name in CHECKSUMS if name in offered), None) if "checksum" in extensions else None
        max_size = response.headers.get("Tus-Max-Size")
        self._server = TusServer(
            max_size=int(max_size) if max_size and max_size.isdigit() else None,
            extensions=extensions,
            checksum_algorithm=checksum,
        )
        return self._server

    async def upload(
        self, path: Path, size: int, *, filename: str, slot: ResumeSlot, on_offset: Callable[[int], None]
    ) -> TusResult:
        """Send the file, resuming the upload in `slot` if the server still has it.

        `on_offset` is told every offset the server confirmed (it may go back after a failure).
        Raises ApiError for a refusal (4xx), TusError when retries ran out; the slot keeps
        the URL in that case, so the next run resumes.
        """
        url = slot.get()
        status: httpx.Response | None = None
        if url is not None:
            try:
                status = await self._status_with_retries(url)
            except UploadGone:
                slot.remove()
                url = None
        if url is None:
            url = await self._create(size, filename)
            slot.put(url)
        offset = self._confirmed_offset(status) if status is not None else 0
        resumed_from = offset
        on_offset(offset)
        with path.open("rb") as source:
            try:
                final = await self._send_from(url, source, offset, size, on_offset, last=status)
            except UploadGone:
                # Expired or cleaned up on the server while we sent it: once more, from the start.
                slot.remove()
                url, resumed_from = await self._create(size, filename), 0
                slot.put(url)
                on_offset(0)
                final = await self._send_from(url, source, 0, size, on_offset, last=None)
        slot.remove()
        return TusResult(url=url, final=final, resumed_from=resumed_from)

    async def _create(self, size: int, filename: str) -> str:
        headers = self._headers(
            **{"Upload-Length": str(size), "Upload-Metadata": encode_metadata({"filename": filename})}
        )
        response = await self._api.request("POST", self._endpoint, headers=headers)
        if response.status_code != 201:
            raise await api_error(response)
        location = response.headers.get("Location")
        if not location:
            raise TusError("the server created the upload but named no Location")
        return str(response.request.url.join(location))

    async def status(self, url: str) -> httpx.Response:
        """HEAD: where the server's copy of the upload ends (`Upload-Offset`)."""
        response = await self._api.request("HEAD", url, headers=self._headers())
        if response.status_code in (403, 404, 410):
            raise UploadGone(f"the server no longer has {url} ({response.status_code})")
        if response.status_code not in (200, 204):
            raise await api_error(response)
        self._confirmed_offset(response)
        return response

    @staticmethod
    def _confirmed_offset(response: httpx.Response) -> int:
        value = response.headers.get("Upload-Offset", "")
        if not value.isdigit():
            raise TusError(f"the server answered {response.status_code} without a valid Upload-Offset")
        return int(value)

    async def _backoff(self, attempt: int, cause: Exception | str) -> None:
        if attempt > self._max_retries:
            raise TusError(f"gave up after {self._max_retries} retries: {cause}")
        await self._sleep(min(self._retry_delay_s * 2 ** (attempt - 1), self._max_retry_delay_s))

    async def _status_with_retries(self, url: str) -> httpx.Response:
        attempt = 0
        while True:
            try:
                return await self.status(url)
            except httpx.TransportError as exc:
                attempt += 1
                await self._backoff(attempt, exc)

    def _chunk_headers(self, offset: int, chunk: bytes) -> dict[str, str]:
        headers = self._headers(**{"Upload-Offset": str(offset), "Content-Type": TUS_CONTENT_TYPE})
        algorithm = self._server.checksum_algorithm if self._server is not None else None
        if algorithm is not None:
            digest = base64.b64encode(CHECKSUMS[algorithm](chunk).digest()).decode("ascii")
            headers["Upload-Checksum"] = f"{algorithm} {digest}"
        return headers

    async def _send_from(
        self,
        url: str,
        source: IO[bytes],
        offset: int,
        size: int,
        on_offset: Callable[[int], None],
        *,
        last: httpx.Response | None,
    ) -> httpx.Response | None:
        final = last
        known: int | None = offset
        attempt = 0
        while True:
            if known is None:
                try:
                    final = await self.status(url)
                except httpx.TransportError as exc:
                    attempt += 1
                    await self._backoff(attempt, exc)
                    continue
                known = self._confirmed_offset(final)
                on_offset(known)
            if known >= size:
                return final
            source.seek(known)
            chunk = await asyncio.to_thread(source.read, min(self._chunk_bytes, size - known))
            if not chunk:
                raise TusError(f"{source.name} is shorter than when the upload began")
            try:
                response = await self._api.request(
                    "PATCH", url, headers=self._chunk_headers(known, chunk), content=chunk
                )
            except httpx.TransportError as exc:
                attempt += 1
                await self._backoff(attempt, exc)
                known = None
                continue
            if response.status_code in RETRYABLE_STATUSES:
                attempt += 1
                await self._backoff(attempt, f"the server answered {response.status_code}")
                known = None
                continue
            if response.status_code in (404, 410):
                raise UploadGone(f"the server no longer has {url} ({response.status_code})")
            if response.status_code not in (200, 204):
                raise await api_error(response)
            confirmed = self._confirmed_offset(response)
            if confirmed <= known:
                raise TusError(f"the server did not move the offset past {known}")
            known, final, attempt = confirmed, response, 0
            on_offset(known)
