"""The category store in MongoDB (database `tagging`).

`image_categories` holds one document per image, `_id` = image id:
`{owner_id, categories, uploaded_at, tagged_at}`. Deleting an image leaves a tombstone
(`deleted_at` set, categories emptied) instead of removing the document, because events
arrive in any order across topics: an `images.deleted` handled before that image's
`images.uploaded` must not be undone by it. Tombstones of users (`deleted_users`) do the
same for `users.deleted`. Both expire through TTL indexes once `images.uploaded` cannot
redeliver the image any more (its retention). `category_names` holds the renames.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from pixtract.common.clients import MongoDocument
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.tagging.domain.categories import CategoryCount, ImageCategories, StoreUnavailable

IMAGES = "image_categories"
NAMES = "category_names"
DELETED_USERS = "deleted_users"
TOMBSTONE_TTL_S = IMAGES_UPLOADED.retention_hours * 3600


@contextmanager
def _unavailable_on_connection_failure() -> Iterator[None]:
    try:
        yield
    except ConnectionFailure as exc:
        raise StoreUnavailable(f"MongoDB unavailable: {exc}") from exc


class MongoCategoryStore:
    def __init__(self, database: AsyncDatabase[MongoDocument]) -> None:
        self._images = database[IMAGES]
        self._names = database[NAMES]
        self._deleted_users = database[DELETED_USERS]

    async def create_indexes(self) -> None:
        await self._images.create_index([("owner_id", ASCENDING), ("uploaded_at", DESCENDING)])
        await self._images.create_index("deleted_at", expireAfterSeconds=TOMBSTONE_TTL_S)
        await self._names.create_index([("owner_id", ASCENDING), ("category_id", ASCENDING)], unique=True)
        await self._deleted_users.create_index("deleted_at", expireAfterSeconds=TOMBSTONE_TTL_S)

    async def save_image(self, image: ImageCategories) -> bool:
        with _unavailable_on_connection_failure():
            if await self._deleted_users.find_one({"_id": image.owner_id}, projection={"_id": 1}) is not None:
                return False
            try:
                # Matches a live document of this owner with an older result, or none at all;
                # with a tombstone or a newer result, the upsert's insert hits the _id and fails.
                await self._images.update_one(
                    {
                        "_id": image.image_id,
                        "owner_id": image.owner_id,
                        "deleted_at": {"$exists": False},
                        "tagged_at": {"$lte": image.tagged_at},
                    },
                    {
                        "$set": {
                            "categories": list(image.categories),
                            "uploaded_at": image.uploaded_at,
                            "tagged_at": image.tagged_at,
                        }
                    },
                    upsert=True,
                )
            except DuplicateKeyError:
                return False
        return True

    async def forget_image(self, image_id: str, owner_id: str) -> None:
        with _unavailable_on_connection_failure():
            await self._images.update_one(
                {"_id": image_id},
                {"$set": {"owner_id": owner_id, "categories": [], "deleted_at": datetime.now(UTC)}},
                upsert=True,
            )

    async def forget_user(self, owner_id: str) -> None:
        with _unavailable_on_connection_failure():
            # The tombstone first: an image tagged while this runs is then refused, not orphaned.
            await self._deleted_users.update_one(
                {"_id": owner_id}, {"$set": {"deleted_at": datetime.now(UTC)}}, upsert=True
            )
            await self._images.delete_many({"owner_id": owner_id})
            await self._names.delete_many({"owner_id": owner_id})

    async def count_categories(self, owner_id: str) -> list[CategoryCount]:
        pipeline: list[dict[str, Any]] = [
            {"$match": {"owner_id": owner_id, "deleted_at": {"$exists": False}}},
            {"$unwind": "$categories"},
            {"$sort": {"uploaded_at": -1, "_id": -1}},
            {
                "$group": {
                    "_id": "$categories",
                    "count": {"$sum": 1},
                    "cover_image_id": {"$first": "$_id"},
                    "cover_uploaded_at": {"$first": "$uploaded_at"},
                }
            },
        ]
        with _unavailable_on_connection_failure():
            cursor = await self._images.aggregate(pipeline)
            rows = await cursor.to_list()
        return [
            CategoryCount(
                name=str(row["_id"]),
                count=int(row["count"]),
                cover_image_id=str(row["cover_image_id"]),
                cover_uploaded_at=row["cover_uploaded_at"],
            )
            for row in rows
        ]

    async def renames(self, owner_id: str) -> dict[str, str]:
        with _unavailable_on_connection_failure():
            cursor = self._names.find({"owner_id": owner_id}, projection={"category_id": 1, "name": 1})
            return {str(doc["category_id"]): str(doc["name"]) async for doc in cursor}

    async def rename(self, owner_id: str, category: str, name: str | None) -> None:
        key = {"owner_id": owner_id, "category_id": category}
        with _unavailable_on_connection_failure():
            if name is None:
                await self._names.delete_one(key)
                return
            update = {"$set": {"name": name, "renamed_at": datetime.now(UTC)}}
            try:
                await self._names.update_one(key, update, upsert=True)
            except DuplicateKeyError:
                # Two renames raced to insert; the other one's document exists now.
                await self._names.update_one(key, update)
