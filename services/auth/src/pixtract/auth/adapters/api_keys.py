"""API keys in the `api_keys` collection, found by the hash of the key."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from pixtract.auth.domain.api_keys import ApiKey
from pixtract.common.clients import MongoDocument


def _api_key(doc: MongoDocument) -> ApiKey:
    return ApiKey(
        id=doc["_id"],
        user_id=doc["user_id"],
        name=doc["name"],
        scopes=tuple(doc.get("scopes", ())),
        created_at=doc["created_at"],
        last_used_at=doc.get("last_used_at"),
    )


class MongoApiKeyStore:
    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self._keys = db["api_keys"]

    async def create_indexes(self) -> None:
        await self._keys.create_index("key_hash", unique=True, name="key_hash_unique")
        await self._keys.create_index([("user_id", ASCENDING), ("created_at", ASCENDING)], name="user_created")

    async def insert(self, key: ApiKey, key_hash: str) -> None:
        await self._keys.insert_one(
            {
                "_id": key.id,
                "user_id": key.user_id,
                "name": key.name,
                "scopes": list(key.scopes),
                "key_hash": key_hash,
                "created_at": key.created_at,
                "last_used_at": key.last_used_at,
            }
        )

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        cursor = self._keys.find({"user_id": user_id}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        return [_api_key(doc) async for doc in cursor]

    async def delete(self, user_id: str, key_id: str) -> bool:
        result = await self._keys.delete_one({"_id": key_id, "user_id": user_id})
        return result.deleted_count == 1

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        doc = await self._keys.find_one({"key_hash": key_hash})
        return _api_key(doc) if doc is not None else None

    async def touch(self, key_id: str, now: datetime) -> None:
        await self._keys.update_one({"_id": key_id}, {"$set": {"last_used_at": now}})

    async def delete_for_user(self, user_id: str) -> None:
        await self._keys.delete_many({"user_id": user_id})
