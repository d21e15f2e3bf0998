"""Resumable (tus) uploads in MongoDB (db `media`, collection `uploads`): one document each.

The document is the whole state of an upload, so any replica can serve its next request:
owner, length, committed offset, metadata, the staging segments in S3 that hold the bytes
so far, expiry, and a lease. A request that writes bytes takes the lease first (a token
and a deadline); every commit is conditional on holding it and on the offset it started
from, so two requests can never interleave their bytes, and a request whose lease was
taken over can never overwrite the newer state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, TypedDict, cast

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

MongoDocument = dict[str, Any]


class UploadState(StrEnum):
    # Bytes are still coming.
    RECEIVING = "receiving"
    # Every byte is stored; the image is not made yet (or making it failed for a while).
    RECEIVED = "received"
    # The bytes went through the upload pipeline: `image_id` is the image.
    COMPLETED = "completed"


class SegmentDocument(TypedDict):
    key: str
    size: int


class LeaseDocument(TypedDict):
    token: str
    until: datetime


class UploadDocument(TypedDict, total=False):
    _id: str
    owner_id: str
    length: int
    offset: int
    state: str
    # Upload-Metadata as received (decoded), echoed by HEAD.
    metadata: dict[str, str | None]
    filename: str | None
    segments: list[SegmentDocument]
    created_at: datetime
    # Incomplete: deleted with its bytes after this; completed: forgotten after this.
    expires_at: datetime
    lease: LeaseDocument | None
    image_id: str | None
    duplicate: bool


def _lease_free(now: datetime) -> MongoDocument:
    return {"$or": [{"lease": None}, {"lease.until": {"$lt": now}}]}


class MongoUploadRepository:
    def __init__(self, collection: AsyncCollection[MongoDocument]) -> None:
        self._uploads = collection

    async def ensure_indexes(self) -> None:
        await self._uploads.create_index([("owner_id", ASCENDING)], name="owner")
        await self._uploads.create_index([("expires_at", ASCENDING)], name="expires_at")
        await self._uploads.create_index([("state", ASCENDING)], name="state")

    async def insert(self, document: UploadDocument) -> None:
        await self._uploads.insert_one(cast(MongoDocument, document))

    async def get(self, owner_id: str, upload_id: str) -> UploadDocument | None:
        found = await self._uploads.find_one({"_id": upload_id, "owner_id": owner_id})
        return cast(UploadDocument | None, found)

    async def acquire(
        self, owner_id: str, upload_id: str, *, offset: int, token: str, until: datetime, now: datetime
    ) -> UploadDocument | None:
        """Take the lease of an unfinished upload at `offset`; None if it is not there, moved on or leased."""
        found = await self._uploads.find_one_and_update(
            {
                "_id": upload_id,
                "owner_id": owner_id,
                "offset": offset,
                "state": {"$in": [UploadState.RECEIVING.value, UploadState.RECEIVED.value]},
                "expires_at": {"$gt": now},
                **_lease_free(now),
            },
            {"$set": {"lease": {"token": token, "until": until}}},
            return_document=ReturnDocument.AFTER,
        )
        return cast(UploadDocument | None, found)

    async def acquire_received(self, upload_id: str, *, token: str, until: datetime, now: datetime) -> bool:
        """Take the lease of an upload whose bytes are all stored (the sweeper finishes it)."""
        result = await self._uploads.update_one(
            {"_id": upload_id, "state": UploadState.RECEIVED.value, **_lease_free(now)},
            {"$set": {"lease": {"token": token, "until": until}}},
        )
        return result.modified_count == 1

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
    ) -> bool:
        """Record stored bytes; False if the lease was lost or the offset moved meanwhile."""
        result = await self._uploads.update_one(
            {"_id": upload_id, "lease.token": token, "offset": from_offset},
            {
                "$set": {
                    "segments": segments,
                    "offset": sum(segment["size"] for segment in segments),
                    "state": state.value,
                    "lease.until": lease_until,
                    "expires_at": expires_at,
                }
            },
        )
        return result.modified_count == 1

    async def extend_lease(self, upload_id: str, token: str, until: datetime) -> bool:
        result = await self._uploads.update_one(
            {"_id": upload_id, "lease.token": token}, {"$set": {"lease.until": until}}
        )
        return result.matched_count == 1

    async def release(self, upload_id: str, token: str) -> None:
        await self._uploads.update_one({"_id": upload_id, "lease.token": token}, {"$set": {"lease": None}})

    async def complete(
        self, upload_id: str, token: str, *, image_id: str, duplicate: bool, expires_at: datetime
    ) -> None:
        await self._uploads.update_one(
            {"_id": upload_id, "lease.token": token},
            {
                "$set": {
                    "state": UploadState.COMPLETED.value,
                    "image_id": image_id,
                    "duplicate": duplicate,
                    "segments": [],
                    "lease": None,
                    "expires_at": expires_at,
                }
            },
        )

    async def delete(self, owner_id: str, upload_id: str) -> UploadDocument | None:
        found = await self._uploads.find_one_and_delete({"_id": upload_id, "owner_id": owner_id})
        return cast(UploadDocument | None, found)

    async def delete_expired(self, upload_id: str, now: datetime) -> bool:
        result = await self._uploads.delete_one({"_id": upload_id, "expires_at": {"$lt": now}, **_lease_free(now)})
        return result.deleted_count == 1

    async def expired(self, now: datetime, limit: int) -> list[UploadDocument]:
        found = self._uploads.find({"expires_at": {"$lt": now}, **_lease_free(now)}).limit(limit)
        return [cast(UploadDocument, document) async for document in found]

    async def received_unleased(self, now: datetime, limit: int) -> list[UploadDocument]:
        found = self._uploads.find(
            {"state": UploadState.RECEIVED.value, "expires_at": {"$gt": now}, **_lease_free(now)}
        ).limit(limit)
        return [cast(UploadDocument, document) async for document in found]

    async def delete_owner(self, owner_id: str) -> int:
        result = await self._uploads.delete_many({"owner_id": owner_id})
        return result.deleted_count
