"""Originals and thumbnails in S3, on top of the shared ObjectStore."""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO

from botocore.exceptions import BotoCoreError, ClientError

from pixtract.common.logging import get_logger
from pixtract.common.storage import ObjectDownload, ObjectStore
from pixtract.upload.domain.records import user_prefixes

STREAM_CHUNK_BYTES = 256 * 1024

log = get_logger(__name__)


class MediaStore:
    def __init__(self, objects: ObjectStore) -> None:
        self._objects = objects

    @property
    def bucket(self) -> str:
        return self._objects.bucket

    async def ensure_bucket(self) -> None:
        await self._objects.ensure_bucket()

    async def ping(self) -> None:
        await self._objects.ping()

    async def put_file(self, key: str, source: IO[bytes], *, size: int, content_type: str) -> None:
        await self._objects.put_file(key, source, size=size, content_type=content_type)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._objects.put_bytes(key, data, content_type)

    async def read(self, key: str) -> bytes | None:
        return await self._objects.get_bytes_or_none(self.bucket, key)

    async def open_download(self, key: str) -> ObjectDownload | None:
        return await self._objects.open_download(key, STREAM_CHUNK_BYTES)

    async def presigned_download(self, key: str, *, expires_s: int, content_disposition: str) -> str:
        return await self._objects.presigned_get(key, expires_s, content_disposition)

    async def delete_keys(self, keys: Iterable[str]) -> None:
        await self._objects.delete_keys(list(keys))

    async def delete_keys_quietly(self, keys: Iterable[str]) -> bool:
        """Best-effort clean-up after a failed store: failing to clean up must not hide the
        first error. True when the objects are gone."""
        wanted = list(keys)
        if not wanted:
            return True
        try:
            await self.delete_keys(wanted)
        except (BotoCoreError, ClientError, OSError):
            log.warning("could not remove objects of a failed upload", keys=wanted, exc_info=True)
            return False
        return True

    async def delete_prefix_quietly(self, prefix: str) -> None:
        """Best-effort removal of everything under `prefix` (a resumable upload's segments)."""
        try:
            await self._objects.delete_prefix(prefix)
        except (BotoCoreError, ClientError, OSError):
            log.warning("could not remove objects under a prefix", prefix=prefix, exc_info=True)

    async def delete_user(self, owner_id: str) -> int:
        removed = 0
        for prefix in user_prefixes(owner_id):
            removed += await self._objects.delete_prefix(prefix)
        return removed
