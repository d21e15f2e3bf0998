"""HandledStore on MongoDB: one document per image in `handled`, keyed by image id."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from pixtract.ocr.domain.handled import HandledImage


class MongoHandledStore:
    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._handled = database["handled"]

    async def create_indexes(self) -> None:
        await self._handled.create_index([("owner_id", ASCENDING)])
        await self._handled.create_index([("model_version", ASCENDING)])

    async def record(self, image: HandledImage) -> None:
        await self._handled.update_one(
            {"_id": image.image_id},
            {
                "$set": {
                    "owner_id": image.owner_id,
                    "bucket": image.bucket,
                    "key": image.key,
                    "model_version": image.model_version,
                    "attempt": image.attempt,
                    "handled_at": datetime.now(UTC),
                }
            },
            upsert=True,
        )

    async def forget_image(self, image_id: str) -> None:
        await self._handled.delete_one({"_id": image_id})

    async def forget_owner(self, owner_id: str) -> None:
        await self._handled.delete_many({"owner_id": owner_id})

    async def older_than(self, model_version: str, *, limit: int | None = None) -> AsyncIterator[HandledImage]:
        cursor = self._handled.find({"model_version": {"$ne": model_version}}).sort("_id", ASCENDING)
        if limit is not None:
            cursor = cursor.limit(limit)
        async for doc in cursor:
            yield HandledImage(
                image_id=doc["_id"],
                owner_id=doc["owner_id"],
                bucket=doc["bucket"],
                key=doc["key"],
                model_version=doc.get("model_version", ""),
                attempt=int(doc.get("attempt", 0)),
            )
