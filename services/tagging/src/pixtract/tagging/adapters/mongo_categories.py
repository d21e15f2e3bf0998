"""The category store in MongoDB (database `tagging`).

`image_categories` holds one document per image, `_id` = image id:
`{owner_id, categories, specific, uploaded_at, tagged_at, phash, duplicates_of,
model_version, categorised_with, document_type, upload, result, pending}` (see
pixtract.tagging.domain.results for why tagging keeps its last upload and result). Deleting an image leaves a tombstone
(`deleted_at` set, categories emptied) instead of removing the document, because events
arrive in any order across topics: an `images.deleted` handled before that image's
`images.uploaded` must not be undone by it. Tombstones of users (`deleted_users`) do the
same for `users.deleted`. Both expire through TTL indexes once `images.uploaded` cannot
redeliver the image any more (its retention). `category_names` holds the renames.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import Binary
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError

from pixtract.common.clients import MongoDocument
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.tagging.domain.categories import (
    SPECIFIC_SEPARATOR,
    CategoryCount,
    ImageCategories,
    StoreUnavailable,
)
from pixtract.tagging.domain.results import HashedImage, StoredImage

IMAGES = "image_categories"
NAMES = "category_names"
DELETED_USERS = "deleted_users"
TOMBSTONE_TTL_S = IMAGES_UPLOADED.retention_hours * 3600
LIVE: dict[str, Any] = {"deleted_at": {"$exists": False}}


def _specific_keys(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [f"{category}{SPECIFIC_SEPARATOR}{name}" for category, name in pairs]


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _stored(doc: MongoDocument) -> StoredImage:
    return StoredImage(
        image_id=str(doc["_id"]),
        owner_id=str(doc["owner_id"]),
        uploaded_at=_aware(doc.get("uploaded_at")),
        tagged_at=_aware(doc.get("tagged_at")),
        categories=tuple(doc.get("categories") or ()),
        phash=str(doc.get("phash") or ""),
        duplicates_of=tuple(doc.get("duplicates_of") or ()),
        document_type=str(doc.get("document_type") or ""),
        categorised_with=str(doc.get("categorised_with") or ""),
        model_version=str(doc.get("model_version") or ""),
        upload=bytes(doc.get("upload") or b""),
        result=bytes(doc.get("result") or b""),
        pending=bool(doc.get("pending", False)),
    )


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
        await self._images.create_index([("owner_id", ASCENDING), ("duplicates_of", ASCENDING)])
        await self._images.create_index("model_version")
        await self._names.create_index([("owner_id", ASCENDING), ("category_id", ASCENDING)], unique=True)
        await self._deleted_users.create_index("deleted_at", expireAfterSeconds=TOMBSTONE_TTL_S)

    async def save_image(self, image: ImageCategories) -> bool:
        with _unavailable_on_connection_failure():
            if await self._deleted_users.find_one({"_id": image.owner_id}, projection={"_id": 1}) is not None:
                return False
            try:
                # Matches a live document of this owner with an older result, or none at all;
                # with a tombstone or a newer result, the upsert's insert hits the _id and fails.
                # OCR may have created the document first: no tagged_at yet.
                await self._images.update_one(
                    {
                        "_id": image.image_id,
                        "owner_id": image.owner_id,
                        "deleted_at": {"$exists": False},
                        "$or": [{"tagged_at": {"$exists": False}}, {"tagged_at": {"$lte": image.tagged_at}}],
                    },
                    {
                        "$set": {
                            "categories": list(image.categories),
                            "specific": _specific_keys(image.specific),
                            "uploaded_at": image.uploaded_at,
                            "tagged_at": image.tagged_at,
                            "phash": image.phash,
                            "duplicates_of": list(image.duplicates_of),
                            "model_version": image.model_version,
                            "categorised_with": image.categorised_with,
                            "upload": Binary(image.upload),
                            "result": Binary(image.result),
                            "pending": bool(image.result),
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
                {
                    "$set": {"owner_id": owner_id, "categories": [], "specific": [], "deleted_at": datetime.now(UTC)},
                    "$unset": {"upload": "", "result": "", "phash": "", "duplicates_of": "", "pending": ""},
                },
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
        specific_pipeline: list[dict[str, Any]] = [
            {"$match": {"owner_id": owner_id, "deleted_at": {"$exists": False}}},
            {"$unwind": "$specific"},
            {"$group": {"_id": "$specific", "count": {"$sum": 1}}},
        ]
        with _unavailable_on_connection_failure():
            cursor = await self._images.aggregate(pipeline)
            rows = await cursor.to_list()
            cursor = await self._images.aggregate(specific_pipeline)
            specific_rows = await cursor.to_list()
        specific: dict[str, dict[str, int]] = {}
        for row in specific_rows:
            category, _, name = str(row["_id"]).partition(SPECIFIC_SEPARATOR)
            specific.setdefault(category, {})[name] = int(row["count"])
        return [
            CategoryCount(
                name=str(row["_id"]),
                count=int(row["count"]),
                cover_image_id=str(row["cover_image_id"]),
                cover_uploaded_at=row["cover_uploaded_at"],
                specific=specific.get(str(row["_id"]), {}),
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

    async def get(self, image_id: str) -> StoredImage | None:
        with _unavailable_on_connection_failure():
            doc = await self._images.find_one({"_id": image_id, **LIVE})
            if doc is None:
                return None
            if await self._deleted_users.find_one({"_id": doc["owner_id"]}, projection={"_id": 1}) is not None:
                return None
        return _stored(doc)

    async def record_text(self, image_id: str, owner_id: str, document_type: str) -> StoredImage | None:
        with _unavailable_on_connection_failure():
            if await self._deleted_users.find_one({"_id": owner_id}, projection={"_id": 1}) is not None:
                return None
            try:
                # With a tombstone (or another owner's image) the upsert's insert hits the _id.
                doc = await self._images.find_one_and_update(
                    {"_id": image_id, "owner_id": owner_id, **LIVE},
                    {"$set": {"document_type": document_type}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                return None
        return _stored(doc) if doc is not None else None

    async def replace_result(
        self,
        image_id: str,
        *,
        expected_tagged_at: datetime,
        tagged_at: datetime,
        categories: tuple[str, ...],
        specific: tuple[tuple[str, str], ...],
        duplicates_of: tuple[str, ...],
        categorised_with: str,
        result: bytes,
    ) -> bool:
        with _unavailable_on_connection_failure():
            updated = await self._images.update_one(
                {"_id": image_id, "tagged_at": expected_tagged_at, **LIVE},
                {
                    "$set": {
                        "tagged_at": tagged_at,
                        "categories": list(categories),
                        "specific": _specific_keys(specific),
                        "duplicates_of": list(duplicates_of),
                        "categorised_with": categorised_with,
                        "result": Binary(result),
                        "pending": True,
                    }
                },
            )
        return updated.matched_count == 1

    async def mark_published(self, image_id: str, tagged_at: datetime) -> None:
        with _unavailable_on_connection_failure():
            await self._images.update_one({"_id": image_id, "tagged_at": tagged_at}, {"$set": {"pending": False}})

    async def hashed_images(self, owner_id: str) -> list[HashedImage]:
        # A scan of the owner's hashes (16 bytes each): fine for libraries of tens of
        # thousands; bigger ones would want a multi-index hash (bands of the 64 bits).
        query = {"owner_id": owner_id, "phash": {"$exists": True, "$ne": ""}, **LIVE}
        with _unavailable_on_connection_failure():
            cursor = self._images.find(query, projection={"phash": 1, "uploaded_at": 1})
            return [
                HashedImage(
                    str(doc["_id"]),
                    str(doc["phash"]),
                    _aware(doc.get("uploaded_at")) or datetime.min.replace(tzinfo=UTC),
                )
                async for doc in cursor
            ]

    async def linked_to(self, owner_id: str, image_id: str) -> list[str]:
        with _unavailable_on_connection_failure():
            cursor = self._images.find({"owner_id": owner_id, "duplicates_of": image_id, **LIVE}, projection={"_id": 1})
            return [str(doc["_id"]) async for doc in cursor]

    async def outdated(self, model_version: str) -> AsyncIterator[StoredImage]:
        query = {"model_version": {"$exists": True, "$ne": model_version}, "upload": {"$exists": True}, **LIVE}
        with _unavailable_on_connection_failure():
            async for doc in self._images.find(query).sort("_id", ASCENDING):
                yield _stored(doc)
