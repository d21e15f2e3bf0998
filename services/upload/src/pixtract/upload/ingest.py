"""From received files to stored images: check every file, then store each one.

A request is checked as a whole before anything is stored: one refused file refuses the
request and nothing of it is kept. Storing one image writes its objects first and then its
record together with its ImageUploaded event (one insert); if the insert fails, the objects
are removed again, so a refused or failed file never leaves anything behind.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import IO, Protocol

from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.upload.adapters.mongo import DuplicateImage, PlaceholderGone
from pixtract.upload.domain.filenames import clean_filename
from pixtract.upload.domain.formats import ACCEPTED_FORMATS, HEAD_BYTES, detect_file_type
from pixtract.upload.domain.inspection import (
    THUMBNAIL_MEDIA_TYPE,
    ImageRefused,
    InspectedImage,
    UnsupportedImage,
    inspect_image,
)
from pixtract.upload.domain.outbox import outbox_entry
from pixtract.upload.domain.records import (
    ImageDocument,
    ThumbnailDocument,
    image_uploaded_event,
    new_image_document,
    new_image_id,
    now_millis,
    original_key,
    thumbnail_key,
)

# A duplicate insert whose twin was deleted before we could read it: try storing again.
STORE_ATTEMPTS = 3
# How long the placeholder of a store protects its objects from the purge: far longer than
# storing one image can take, so only a store that died leaves objects for the purge.
STORE_GRACE = timedelta(hours=1)

log = get_logger(__name__)


@dataclass
class ReceivedFile:
    """A file as received: spooled, measured and hashed while it streams in (a multipart
    part or the reassembled bytes of a resumable upload); close() deletes the spool."""

    filename: str | None
    spool: IO[bytes]
    size: int = 0
    head: bytes = b""
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def write(self, data: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        self._hash.update(data)
        self.spool.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.spool.close()


class IngestRecords(Protocol):
    async def find_live_by_sha256(self, owner_id: str, sha256: str) -> ImageDocument | None: ...
    async def claim_keys(self, owner_id: str, image_id: str, keys: list[str], *, grace: timedelta) -> None:
        """A placeholder naming the keys about to be written, purged after `grace` unless replaced."""

    async def insert(self, document: ImageDocument) -> None:
        """Replaces the placeholder; raises DuplicateImage when the owner already has a live
        image with this sha256."""

    async def release_keys(self, image_id: str) -> None:
        """Drops the placeholder of a store whose objects were removed again (quiet)."""


class IngestObjects(Protocol):
    @property
    def bucket(self) -> str: ...
    async def put_file(self, key: str, source: IO[bytes], *, size: int, content_type: str) -> None: ...
    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None: ...
    async def delete_keys_quietly(self, keys: Iterable[str]) -> bool:
        """True when the objects are gone; never raises."""


class FileRefused(Exception):
    """A file of the request is not an image we keep; nothing of the request was stored."""

    def __init__(self, position: int, filename: str | None, reason: ImageRefused) -> None:
        super().__init__(f"{filename or f'file {position}'}: {reason}")
        self.position = position
        self.filename = filename
        self.reason = reason


@dataclass(frozen=True)
class IngestedImage:
    document: ImageDocument
    duplicate: bool


@dataclass(frozen=True)
class _AcceptedFile:
    received: ReceivedFile
    inspected: InspectedImage


class ImageIngest:
    def __init__(
        self,
        images: IngestRecords,
        media: IngestObjects,
        executor: Executor,
        *,
        max_pixels: int,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._images = images
        self._media = media
        self._executor = executor
        self._max_pixels = max_pixels
        self._on_stored = on_stored

    async def ingest(self, owner_id: str, files: Sequence[ReceivedFile]) -> list[IngestedImage]:
        """Store every file of one request (in order) or, if one is refused, none of them."""
        checked: list[IngestedImage | _AcceptedFile] = []
        for position, received in enumerate(files, 1):
            existing = await self._images.find_live_by_sha256(owner_id, received.sha256)
            if existing is not None:
                # Stored before, so it was checked before: no need to decode it again.
                checked.append(IngestedImage(existing, duplicate=True))
                continue
            try:
                inspected = await self._inspect(received)
            except ImageRefused as exc:
                raise FileRefused(position, received.filename, exc) from exc
            checked.append(_AcceptedFile(received, inspected))
        return [item if isinstance(item, IngestedImage) else await self._store(owner_id, item) for item in checked]

    async def _inspect(self, received: ReceivedFile) -> InspectedImage:
        file_type = detect_file_type(received.head)
        if file_type not in ACCEPTED_FORMATS:
            raise UnsupportedImage(file_type)
        loop = asyncio.get_running_loop()
        # Decoding and thumbnailing take from milliseconds to seconds of CPU: never on the event loop.
        check = partial(inspect_image, received.spool, file_type, max_pixels=self._max_pixels)
        return await loop.run_in_executor(self._executor, check)

    async def _store(self, owner_id: str, accepted: _AcceptedFile) -> IngestedImage:
        for _ in range(STORE_ATTEMPTS):
            try:
                document = await self._store_once(owner_id, accepted)
            except PlaceholderGone:
                continue  # outlived its grace (or its owner was deleted meanwhile): a new one
            except DuplicateImage:
                # The same bytes were stored meanwhile (a concurrent request, or twice in this one).
                existing = await self._images.find_live_by_sha256(owner_id, accepted.received.sha256)
                if existing is not None:
                    return IngestedImage(existing, duplicate=True)
                continue
            self._on_stored()
            return IngestedImage(document, duplicate=False)
        raise RuntimeError("the image kept colliding with a duplicate that disappeared")

    async def _discard(self, image_id: str, keys: list[str]) -> None:
        """Objects of a store that failed: removed now if S3 answers (and the placeholder with
        them), else by the purge once the placeholder is due."""
        if await self._media.delete_keys_quietly(keys):
            await self._images.release_keys(image_id)

    async def _store_once(self, owner_id: str, accepted: _AcceptedFile) -> ImageDocument:
        received, inspected = accepted.received, accepted.inspected
        image_id = new_image_id()
        file_type = inspected.file_type
        key = original_key(owner_id, image_id)
        thumb_keys = {size: thumbnail_key(owner_id, image_id, size) for size in inspected.thumbnails}
        # Claimed before the first byte goes to S3: whatever happens next (S3 or Mongo down,
        # the process killed), the purge knows these keys and removes what is left of them.
        await self._images.claim_keys(owner_id, image_id, [key, *thumb_keys.values()], grace=STORE_GRACE)
        try:
            await self._media.put_file(key, received.spool, size=received.size, content_type=file_type.media_type)
            thumbnails: dict[str, ThumbnailDocument] = {}
            for size, thumbnail in inspected.thumbnails.items():
                await self._media.put_bytes(thumb_keys[size], thumbnail.data, content_type=THUMBNAIL_MEDIA_TYPE)
                thumbnails[size.value] = {
                    "key": thumb_keys[size],
                    "etag": thumbnail.etag,
                    "width": thumbnail.width,
                    "height": thumbnail.height,
                    "size": len(thumbnail.data),
                }
            document = new_image_document(
                image_id=image_id,
                owner_id=owner_id,
                filename=clean_filename(received.filename, extension=file_type.extension),
                size=received.size,
                sha256=received.sha256,
                inspected=inspected,
                original={"bucket": self._media.bucket, "key": key},
                thumbnails=thumbnails,
                uploaded_at=now_millis(),
            )
            document["outbox"] = [
                outbox_entry(IMAGES_UPLOADED, image_uploaded_event(document, attempt=1), key=image_id)
            ]
        except BaseException:
            await self._discard(image_id, [key, *thumb_keys.values()])
            raise
        try:
            await self._images.insert(document)
        except DuplicateImage:
            await self._discard(image_id, [key, *thumb_keys.values()])
            raise
        # Any other failure of the insert may have come after Mongo applied it, so its objects
        # stay: a live record needs them, and if the placeholder is still there the purge
        # removes them when it is due.
        log.info("image stored", image_id=image_id, size=received.size, content_type=file_type.media_type)
        return document
