"""One `pixtract upload` run: hash, ask what the server has, send the rest, say what happened to each file.

1. Hash every file (SHA-256, streamed, in threads).
2. Files with the same bytes are sent once; the others wait for that one's answer.
3. Ask `POST /api/v1/images/known-hashes` in batches: what the server has is not sent.
4. Send the rest, `jobs` at a time, each file as its own request streamed from disk (one
   bad file never sinks the others). Above `resumable_above` bytes, files go through tus
   when the server offers it; otherwise, and for every other file, a plain multipart upload.

A 401 or 403 stops the run (no credential will work for the next file either); every
other failure is that file's outcome. The caller renders progress and results through a
`Reporter`; nothing here prints.
"""

from __future__ import annotations

import asyncio
import io
import mimetypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any, Protocol, cast

import httpx

from pixtract.cli.discovery import LocalFile
from pixtract.cli.hashing import KNOWN_HASHES_BATCH, batched, sha256_file
from pixtract.cli.problems import ApiError, CliError, api_error, describe_problem, describe_transport_error
from pixtract.cli.session import ApiSession
from pixtract.cli.tus import ResumeStore, StoredSlot, TusClient, TusError, TusResult, TusServer

IMAGES_PATH = "/api/v1/images"
KNOWN_HASHES_PATH = "/api/v1/images/known-hashes"
DEFAULT_RESUMABLE_ABOVE = 32 * 1024 * 1024
PLAIN_ATTEMPTS = 3
RETRY_STATUSES = frozenset({502, 503, 504})
MAX_RETRY_AFTER_S = 10.0


class Outcome(StrEnum):
    UPLOADED = "uploaded"
    DUPLICATE = "duplicate"  # the server (or an identical file of this run) already had these bytes
    KNOWN = "skipped-known"  # the server had them before the run: nothing sent
    SKIPPED = "skipped"  # not an image by its name: nothing sent
    REJECTED = "rejected"  # the server refused the file (its problem detail is the message)
    FAILED = "failed"  # it could not be read or sent

    @property
    def is_error(self) -> bool:
        return self in (Outcome.REJECTED, Outcome.FAILED)


@dataclass(frozen=True)
class FileResult:
    file: LocalFile
    outcome: Outcome
    image_id: str | None = None
    message: str = ""
    resumable: bool = False


class Reporter(Protocol):
    """Progress of a run; every call happens on the event loop's thread."""

    def phase(self, name: str, files: int, total_bytes: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finished(self, result: FileResult) -> None: ...


class SilentReporter:
    def phase(self, name: str, files: int, total_bytes: int) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finished(self, result: FileResult) -> None:
        pass


@dataclass
class UploadOptions:
    jobs: int = 4
    resumable_above: int = DEFAULT_RESUMABLE_ABOVE
    resume_store: ResumeStore | None = None
    tus_client: Callable[[ApiSession], TusClient] = TusClient
    retry_delay_s: float = 1.0


class HighWater:
    """Turns positions that may go back (a retry, a resumed upload) into forward-only progress."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        self._advance = advance
        self.position = 0

    def at(self, position: int) -> None:
        if position > self.position:
            self._advance(position - self.position)
            self.position = position


class ProgressReader(io.RawIOBase):
    """A file as httpx's multipart encoder reads it, telling how far the send got.

    httpx rewinds the file when a request is sent again (after a token refresh or a retry);
    the HighWater counts those bytes once.
    """

    def __init__(self, raw: IO[bytes], progress: HighWater) -> None:
        self._raw = raw
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self._progress.at(self._raw.tell())
        return count


class Unauthorized(CliError):
    """The server refused the credential for an upload: no other file would get through either."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(describe_problem(error))
        self.error = error


@dataclass
class _Group:
    """Files with the same bytes: the first is sent, the others share its answer."""

    sha256: str
    files: list[LocalFile] = field(default_factory=list)


def content_type_of(path: Path) -> str:
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


class UploadRun:
    def __init__(self, api: ApiSession, reporter: Reporter, options: UploadOptions) -> None:
        self._api = api
        self._reporter = reporter
        self._options = options
        self._results: dict[Path, FileResult] = {}
        self._tus = options.tus_client(api)
        self._tus_server: TusServer | None = None
        self._tus_probed = False
        self._tus_lock = asyncio.Lock()

    def _finish(self, result: FileResult) -> None:
        self._results[result.file.path] = result
        self._reporter.finished(result)

    async def run(self, files: Sequence[LocalFile], not_images: Sequence[LocalFile] = ()) -> list[FileResult]:
        """Every file's result, in the order given (files not sent included)."""
        for file in not_images:
            self._finish(FileResult(file, Outcome.SKIPPED, message="not an image (by its name); --all sends it"))
        hashes = await self._hash_all(files)
        groups: dict[str, _Group] = {}
        for file in files:
            sha256 = hashes.get(file.path)
            if sha256 is not None:
                groups.setdefault(sha256, _Group(sha256)).files.append(file)
        known = await self._known_ids(list(groups))
        to_send: list[_Group] = []
        for sha256, group in groups.items():
            if sha256 in known:
                for file in group.files:
                    self._finish(FileResult(file, Outcome.KNOWN, known[sha256]))
            else:
                to_send.append(group)
        self._reporter.phase(
            "Uploading", sum(len(group.files) for group in to_send), sum(group.files[0].size for group in to_send)
        )
        limit = asyncio.Semaphore(self._options.jobs)

        async def send(group: _Group) -> None:
            async with limit:
                result = await self._send(group.files[0], group.sha256)
            self._finish(result)
            for twin in group.files[1:]:
                self._finish(_twin_result(twin, result))

        try:
            async with asyncio.TaskGroup() as sending:
                for group in to_send:
                    sending.create_task(send(group))
        except* Unauthorized as refused:
            # The other uploads were cancelled: the next file would be refused all the same.
            raise refused.exceptions[0] from None
        return [self._results[file.path] for file in [*files, *not_images] if file.path in self._results]

    # ----- hashing and asking -------------------------------------------------------------

    async def _hash_all(self, files: Sequence[LocalFile]) -> dict[Path, str]:
        self._reporter.phase("Hashing", len(files), sum(file.size for file in files))
        loop = asyncio.get_running_loop()
        limit = asyncio.Semaphore(max(self._options.jobs, 2))
        hashes: dict[Path, str] = {}

        def advance(nbytes: int) -> None:
            loop.call_soon_threadsafe(self._reporter.advance, nbytes)

        async def hash_one(file: LocalFile) -> None:
            async with limit:
                try:
                    hashes[file.path] = await asyncio.to_thread(sha256_file, file.path, advance)
                except OSError as exc:
                    self._finish(FileResult(file, Outcome.FAILED, message=f"cannot read: {exc.strerror or exc}"))

        await asyncio.gather(*(hash_one(file) for file in files))
        return hashes

    async def _known_ids(self, hashes: list[str]) -> dict[str, str]:
        known: dict[str, str] = {}
        for batch in batched(hashes, KNOWN_HASHES_BATCH):
            response = await self._api.request("POST", KNOWN_HASHES_PATH, json={"sha256": batch})
            if response.status_code in (404, 405):
                return {}  # a server without the extension: it still finds duplicates on upload
            if response.status_code != 200:
                error = await api_error(response)
                raise Unauthorized(error) if response.status_code in (401, 403) else error
            for item in response.json().get("known", []):
                known[str(item["sha256"])] = str(item["id"])
        return known

    # ----- sending ------------------------------------------------------------------------

    async def _send(self, file: LocalFile, sha256: str) -> FileResult:
        try:
            if file.size > self._options.resumable_above and await self._tus_offered():
                return await self._send_resumable(file, sha256)
            return await self._send_plain(file)
        except ApiError as error:
            if error.status in (401, 403):
                raise Unauthorized(error) from error
            return FileResult(file, Outcome.REJECTED, message=describe_problem(error))
        except httpx.TransportError as exc:
            return FileResult(file, Outcome.FAILED, message=describe_transport_error(exc, self._api.base_url))
        except OSError as exc:
            return FileResult(file, Outcome.FAILED, message=f"cannot read: {exc.strerror or exc}")

    async def _tus_offered(self) -> bool:
        async with self._tus_lock:
            if not self._tus_probed:
                self._tus_server = await self._tus.discover()
                self._tus_probed = True
        return self._tus_server is not None

    async def _send_plain(self, file: LocalFile) -> FileResult:
        progress = HighWater(self._reporter.advance)
        for attempt in range(1, PLAIN_ATTEMPTS + 1):
            with file.path.open("rb") as raw:
                body = cast(IO[bytes], ProgressReader(raw, progress))
                try:
                    response = await self._api.request(
                        "POST", IMAGES_PATH, files=[("files", (file.path.name, body, content_type_of(file.path)))]
                    )
                except httpx.TransportError:
                    if attempt == PLAIN_ATTEMPTS:
                        raise
                    await asyncio.sleep(self._options.retry_delay_s * attempt)
                    continue
            if response.status_code in RETRY_STATUSES and attempt < PLAIN_ATTEMPTS:
                await asyncio.sleep(_retry_after(response, self._options.retry_delay_s * attempt))
                continue
            if response.status_code != 201:
                raise await api_error(response)
            return _result_of_upload(file, response)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _send_resumable(self, file: LocalFile, sha256: str) -> FileResult:
        store = self._options.resume_store
        slot = (
            StoredSlot(store, ResumeStore.key(self._api.base_url, sha256, file.size), file.path.name) if store else None
        )
        progress = HighWater(self._reporter.advance)
        try:
            result = await self._tus.upload(
                file.path, file.size, filename=file.path.name, slot=slot or _MemorySlot(), on_offset=progress.at
            )
        except TusError as exc:
            hint = " Run the command again to resume." if store is not None else ""
            return FileResult(file, Outcome.FAILED, message=f"resumable upload stopped: {exc}.{hint}", resumable=True)
        return await self._result_of_tus(file, sha256, result)

    async def _result_of_tus(self, file: LocalFile, sha256: str, result: TusResult) -> FileResult:
        note = f"resumed at byte {result.resumed_from:,}" if result.resumed_from else ""
        if result.image_id is not None:
            outcome = Outcome.DUPLICATE if result.duplicate else Outcome.UPLOADED
            return FileResult(file, outcome, result.image_id, note, resumable=True)
        # A server that names no image in its answer: the image is found by its hash.
        known = await self._known_ids([sha256])
        if sha256 in known:
            return FileResult(file, Outcome.UPLOADED, known[sha256], note, resumable=True)
        return FileResult(
            file,
            Outcome.FAILED,
            message="the server has every byte but named no image; run the command again to see why",
            resumable=True,
        )


class _MemorySlot:
    def __init__(self) -> None:
        self._url: str | None = None

    def get(self) -> str | None:
        return self._url

    def put(self, url: str) -> None:
        self._url = url

    def remove(self) -> None:
        self._url = None


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After", "")
    return min(float(value), MAX_RETRY_AFTER_S) if value.isdigit() else default


def _result_of_upload(file: LocalFile, response: httpx.Response) -> FileResult:
    try:
        image = response.json()["images"][0]
        image_id, duplicate = str(image["id"]), bool(image.get("duplicate", False))
    except (ValueError, KeyError, IndexError, TypeError):
        return FileResult(file, Outcome.FAILED, message=f"unexpected answer to the upload: {response.text[:200]}")
    return FileResult(file, Outcome.DUPLICATE if duplicate else Outcome.UPLOADED, image_id)


def _twin_result(twin: LocalFile, sent: FileResult) -> FileResult:
    if sent.outcome in (Outcome.UPLOADED, Outcome.DUPLICATE, Outcome.KNOWN):
        return FileResult(twin, Outcome.DUPLICATE, sent.image_id, f"same bytes as {sent.file.display}")
    if sent.outcome is Outcome.REJECTED:
        return FileResult(twin, Outcome.REJECTED, message=sent.message)
    return FileResult(twin, Outcome.FAILED, message=f"not sent: {sent.file.display} (same bytes) failed")
