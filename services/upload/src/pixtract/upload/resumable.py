"""Resumable uploads (tus 1.0): bytes in over many requests, then the normal upload pipeline.

Storage, designed for several replicas and no local state between requests:

- One Mongo document per upload (`adapters/uploads.py`): owner, length, committed offset,
  metadata, expiry, a lease, and the list of staging segments holding the bytes so far.
- Segments are plain S3 objects under `uploads/{owner}/{upload}/`, each exactly
  `segment_bytes` long except the last. A PATCH reads back a last segment smaller than
  `merge_below_bytes` and rewrites it with its own bytes, so many small PATCHes still make
  few segments. A PATCH holds at most one segment in memory.
- Without a checksum, each full segment is committed as soon as it is stored, and an
  interrupted PATCH keeps every byte it delivered. With `Upload-Checksum` nothing of the
  PATCH is committed until the digest matched; on a mismatch its segments are removed.
- When the offset reaches the length, the segments are streamed into a spool (hashing
  them), and the file goes through `ImageIngest` exactly as a multipart upload does: type,
  limits, dedup, EXIF, thumbnails, record and outbox. A refused file takes the upload and
  its bytes with it; a failure of a dependency leaves the upload `received`, and the next
  PATCH at the end offset or the sweeper finishes it.
- The sweeper removes expired incomplete uploads (bytes included) and forgets completed
  ones once they expire.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pixtract.common.logging import get_logger
from pixtract.common.storage import ObjectDownload
from pixtract.upload.adapters.uploads import SegmentDocument, UploadDocument, UploadState
from pixtract.upload.domain.records import now_millis
from pixtract.upload.domain.resumable import ChecksumSpec, SegmentCutter, metadata_filename
from pixtract.upload.ingest import FileRefused, IngestedImage, ReceivedFile

BATCH = 100
SEGMENT_CONTENT_TYPE = "application/octet-stream"
DOWNLOAD_CHUNK_BYTES = 256 * 1024

log = get_logger(__name__)


class UploadNotFound(Exception):
    """No such upload for this owner (another owner's upload is not found either)."""


class UploadExpired(Exception):
    """The upload expired; its bytes are gone or about to be."""


class OffsetMismatch(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the upload is at offset {current}")
        self.current = current


class UploadLocked(Exception):
    """Another request is writing to this upload right now."""


class ExceedsLength(Exception):
    """The PATCH would go past the declared Upload-Length."""


class ChecksumMismatch(Exception):
    """The PATCH body does not match its Upload-Checksum; none of it was kept."""


class UploadDataLost(Exception):
    """A staging segment is missing: the upload cannot be finished and was removed."""


class UploadStore(Protocol):
    async def insert(self, document: UploadDocument) -> None: ...
    async def get(self, owner_id: str, upload_id: str) -> UploadDocument | None: ...
    async def acquire(
        self, owner_id: str, upload_id: str, *, offset: int, token: str, until: datetime, now: datetime
    ) -> UploadDocument | None: ...
    async def acquire_received(self, upload_id: str, *, token: str, until: datetime, now: datetime) -> bool: ...
    async def commit(
        self,
        upload_id: str,
        token: str,
        *,
        from_offset: int,
        segments: list[SegmentDocument],
        state: UploadState,
        lease_until: datetime,
        expires_at: datetime,
    ) -> bool: ...
    async def extend_lease(self, upload_id: str, token: str, until: datetime) -> bool: ...
    async def release(self, upload_id: str, token: str) -> None: ...
    async def complete(
        self, upload_id: str, token: str, *, image_id: str, duplicate: bool, expires_at: datetime
    ) -> None: ...
    async def delete(self, owner_id: str, upload_id: str) -> UploadDocument | None: ...
    async def delete_expired(self, upload_id: str, now: datetime) -> bool: ...
    async def expired(self, now: datetime, limit: int) -> list[UploadDocument]: ...
    async def received_unleased(self, now: datetime, limit: int) -> list[UploadDocument]: ...


class SegmentObjects(Protocol):
    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...
    async def read(self, key: str) -> bytes | None: ...
    async def open_download(self, key: str) -> ObjectDownload | None: ...
    async def delete_keys_quietly(self, keys: list[str]) -> bool: ...
    async def delete_prefix_quietly(self, prefix: str) -> None: ...


class Ingest(Protocol):
    async def ingest(self, owner_id: str, files: list[ReceivedFile]) -> list[IngestedImage]: ...


@dataclass(frozen=True)
class ResumableLimits:
    max_length: int
    segment_bytes: int
    merge_below_bytes: int
    expire_after: timedelta
    lease: timedelta
    spool_memory_bytes: int
    spool_dir: str | None = None


@dataclass(frozen=True)
class AppendResult:
    offset: int
    expires_at: datetime
    # Set by the PATCH that delivered the last byte (or finished a `received` upload).
    image: IngestedImage | None = None


def upload_prefix(owner_id: str, upload_id: str) -> str:
    return f"uploads/{owner_id}/{upload_id}/"


def new_upload_id() -> str:
    return uuid.uuid4().hex


class ResumableUploads:
    def __init__(
        self,
        uploads: UploadStore,
        objects: SegmentObjects,
        ingest: Ingest,
        limits: ResumableLimits,
        *,
        clock: Callable[[], datetime] = now_millis,
    ) -> None:
        self._uploads = uploads
        self._objects = objects
        self._ingest = ingest
        self._limits = limits
        self._clock = clock

    @property
    def limits(self) -> ResumableLimits:
        return self._limits

    async def create(self, owner_id: str, length: int, metadata: dict[str, str | None]) -> UploadDocument:
        """A new, empty upload. The caller checked `length` against the limit."""
        now = self._clock()
        document: UploadDocument = {
            "_id": new_upload_id(),
            "owner_id": owner_id,
            "length": length,
            "offset": 0,
            "state": UploadState.RECEIVING.value,
            "metadata": metadata,
            "filename": metadata_filename(metadata),
            "segments": [],
            "created_at": now,
            "expires_at": now + self._limits.expire_after,
            "lease": None,
            "image_id": None,
            "duplicate": False,
        }
        await self._uploads.insert(document)
        log.info("resumable upload created", upload_id=document["_id"], length=length)
        return document

    async def status(self, owner_id: str, upload_id: str) -> UploadDocument:
        document = await self._uploads.get(owner_id, upload_id)
        if document is None:
            raise UploadNotFound(upload_id)
        if document["expires_at"] <= self._clock():
            raise UploadExpired(upload_id)
        return document

    async def append(
        self,
        owner_id: str,
        upload_id: str,
        *,
        offset: int,
        body: AsyncIterator[bytes],
        content_length: int | None,
        checksum: ChecksumSpec | None,
    ) -> AppendResult:
        """One PATCH: store the bytes at `offset`; finish the upload when they are the last ones."""
        document = await self.status(owner_id, upload_id)
        length = document["length"]
        if document["state"] == UploadState.COMPLETED.value:
            # A repeated final PATCH (its answer was lost): the same answer again.
            if offset != length:
                raise OffsetMismatch(length)
            if content_length:
                raise ExceedsLength()
            return AppendResult(length, document["expires_at"], self._completed_image(document))
        if offset != document["offset"]:
            raise OffsetMismatch(document["offset"])
        if content_length is not None and offset + content_length > length:
            raise ExceedsLength()
        now = self._clock()
        token = uuid.uuid4().hex
        leased = await self._uploads.acquire(
            owner_id, upload_id, offset=offset, token=token, until=now + self._limits.lease, now=now
        )
        if leased is None:
            current = await self.status(owner_id, upload_id)
            if current["offset"] != offset or current["state"] == UploadState.COMPLETED.value:
                raise OffsetMismatch(current["offset"])
            raise UploadLocked(upload_id)
        try:
            if leased["state"] == UploadState.RECEIVING.value:
                leased = await self._receive(leased, token, body, checksum)
            else:
                await self._refuse_bytes(body)
            if leased["state"] != UploadState.RECEIVED.value:
                return AppendResult(leased["offset"], leased["expires_at"])
            image = await self._finish(leased, token)
            return AppendResult(length, leased["expires_at"], image)
        finally:
            await self._uploads.release(upload_id, token)

    async def terminate(self, owner_id: str, upload_id: str) -> None:
        """Termination: the upload and its bytes are removed (an image it made stays)."""
        document = await self._uploads.delete(owner_id, upload_id)
        if document is None:
            raise UploadNotFound(upload_id)
        await self._objects.delete_prefix_quietly(upload_prefix(owner_id, upload_id))
        log.info("resumable upload terminated", upload_id=upload_id)

    async def sweep(self) -> int:
        """Remove expired uploads with their bytes; finish uploads left `received`. Returns how many."""
        now = self._clock()
        acted = 0
        for document in await self._uploads.expired(now, BATCH):
            if await self._uploads.delete_expired(document["_id"], now):
                await self._objects.delete_prefix_quietly(upload_prefix(document["owner_id"], document["_id"]))
                log.info("expired resumable upload removed", upload_id=document["_id"], state=document["state"])
                acted += 1
        for document in await self._uploads.received_unleased(now, BATCH):
            token = uuid.uuid4().hex
            if not await self._uploads.acquire_received(
                document["_id"], token=token, until=now + self._limits.lease, now=now
            ):
                continue
            try:
                await self._finish(document, token)
                acted += 1
            except (FileRefused, UploadDataLost):
                acted += 1  # the upload was removed; the client learns it from HEAD (404)
            finally:
                await self._uploads.release(document["_id"], token)
        return acted

    # ----- receiving bytes ---------------------------------------------------------------

    async def _receive(
        self, document: UploadDocument, token: str, body: AsyncIterator[bytes], checksum: ChecksumSpec | None
    ) -> UploadDocument:
        """Store a PATCH body as segments and commit; returns the document as committed."""
        limits = self._limits
        upload_id, owner_id = document["_id"], document["owner_id"]
        start, length = document["offset"], document["length"]
        kept = list(document["segments"])
        replaced: list[str] = []
        carried = b""
        if kept and kept[-1]["size"] < limits.merge_below_bytes:
            last = kept.pop()
            data = await self._objects.read(last["key"])
            if data is None or len(data) != last["size"]:
                await self._discard(owner_id, upload_id)
                raise UploadDataLost(upload_id)
            carried = data
            replaced.append(last["key"])
        cutter = SegmentCutter(limits.segment_bytes, carried)
        hasher = checksum.new_hasher() if checksum is not None else None
        committed = start
        written: list[str] = []  # segments of this PATCH not committed yet
        received = 0
        try:
            async for chunk in body:
                if start + received + len(chunk) > length:
                    raise ExceedsLength()
                received += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
                for full in cutter.feed(chunk):
                    kept.append(await self._put_segment(owner_id, upload_id, full, written))
                    if hasher is None:
                        # No checksum to wait for: every stored segment is kept at once.
                        committed = await self._commit(document, token, committed, kept, replaced)
                        replaced, written = [], []
            if received == 0:
                return document
            if hasher is not None and checksum is not None and hasher.digest() != checksum.digest:
                raise ChecksumMismatch()
            if cutter.pending:
                kept.append(await self._put_segment(owner_id, upload_id, cutter.rest(), written))
            committed = await self._commit(document, token, committed, kept, replaced)
        except BaseException:
            await self._objects.delete_keys_quietly(written)
            raise
        state = UploadState.RECEIVED if committed == length else UploadState.RECEIVING
        return {**document, "segments": kept, "offset": committed, "state": state.value}

    async def _put_segment(self, owner_id: str, upload_id: str, data: bytes, written: list[str]) -> SegmentDocument:
        key = upload_prefix(owner_id, upload_id) + uuid.uuid4().hex
        # Listed before the put: a put that failed half-way is removed as well.
        written.append(key)
        await self._objects.put_bytes(key, data, content_type=SEGMENT_CONTENT_TYPE)
        return {"key": key, "size": len(data)}

    async def _commit(
        self,
        document: UploadDocument,
        token: str,
        from_offset: int,
        segments: list[SegmentDocument],
        replaced: list[str],
    ) -> int:
        offset = sum(segment["size"] for segment in segments)
        now = self._clock()
        state = UploadState.RECEIVED if offset == document["length"] else UploadState.RECEIVING
        if not await self._uploads.commit(
            document["_id"],
            token,
            from_offset=from_offset,
            segments=list(segments),
            state=state,
            lease_until=now + self._limits.lease,
            expires_at=now + self._limits.expire_after,
        ):
            # Terminated, expired or taken over meanwhile: this request's bytes are not wanted.
            raise UploadLocked(document["_id"])
        document["expires_at"] = now + self._limits.expire_after
        await self._objects.delete_keys_quietly(replaced)
        return offset

    @staticmethod
    async def _refuse_bytes(body: AsyncIterator[bytes]) -> None:
        """At the end offset only an empty PATCH (finish it) makes sense."""
        async for chunk in body:
            if chunk:
                raise ExceedsLength()

    # ----- finishing ---------------------------------------------------------------------

    async def _finish(self, document: UploadDocument, token: str) -> IngestedImage:
        """All bytes are stored: run them through the upload pipeline."""
        limits = self._limits
        upload_id, owner_id = document["_id"], document["owner_id"]
        await self._uploads.extend_lease(upload_id, token, self._clock() + limits.lease)
        spool = tempfile.SpooledTemporaryFile(max_size=limits.spool_memory_bytes, dir=limits.spool_dir)  # noqa: SIM115
        try:
            assembled = ReceivedFile(filename=document.get("filename"), spool=spool)
            for segment in document["segments"]:
                download = await self._objects.open_download(segment["key"])
                if download is None:
                    await self._discard(owner_id, upload_id)
                    raise UploadDataLost(upload_id)
                async for chunk in download.chunks:
                    assembled.write(chunk)
            if assembled.size != document["length"]:
                await self._discard(owner_id, upload_id)
                raise UploadDataLost(upload_id)
            try:
                stored = await self._ingest.ingest(owner_id, [assembled])
            except FileRefused:
                # Refused for good (not an image we keep): nothing of the upload remains.
                await self._discard(owner_id, upload_id)
                raise
        finally:
            spool.close()
        image = stored[0]
        await self._uploads.complete(
            upload_id,
            token,
            image_id=image.document["_id"],
            duplicate=image.duplicate,
            expires_at=self._clock() + limits.expire_after,
        )
        await self._objects.delete_prefix_quietly(upload_prefix(owner_id, upload_id))
        log.info(
            "resumable upload finished", upload_id=upload_id, image_id=image.document["_id"], duplicate=image.duplicate
        )
        return image

    async def _discard(self, owner_id: str, upload_id: str) -> None:
        await self._uploads.delete(owner_id, upload_id)
        await self._objects.delete_prefix_quietly(upload_prefix(owner_id, upload_id))

    def _completed_image(self, document: UploadDocument) -> IngestedImage | None:
        image_id = document.get("image_id")
        if image_id is None:
            return None
        # Only the id and the duplicate flag are answered; the record itself is not needed.
        return IngestedImage({"_id": image_id}, duplicate=bool(document.get("duplicate")))
