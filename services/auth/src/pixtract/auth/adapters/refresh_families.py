"""Refresh-token families in the `refresh_families` collection, one document per login session."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from pixtract.auth.domain.sessions import RefreshFamily
from pixtract.common.clients import MongoDocument

# Replaced hashes kept for reuse detection. The replay that matters (the thief or the victim
# presenting the token just before the current one) is the most recent; older ones are
# refused anyway, only without revoking the family.
USED_HASHES_KEPT = 100


def _family(doc: MongoDocument) -> RefreshFamily:
    return RefreshFamily(
        id=doc["_id"],
        user_id=doc["user_id"],
        current_hash=doc["current_hash"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        revoked_at=doc.get("revoked_at"),
    )


class MongoRefreshFamilyStore:
    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self._families = db["refresh_families"]

    async def create_indexes(self) -> None:
        await self._families.create_index("current_hash", unique=True, name="current_hash_unique")
        await self._families.create_index("used_hashes", name="used_hashes")
        await self._families.create_index("user_id", name="user_id")
        # A family whose current token expired can never be used again: let Mongo drop it.
        await self._families.create_index("expires_at", expireAfterSeconds=0, name="expires_at_ttl")

    async def insert(self, family: RefreshFamily) -> None:
        await self._families.insert_one(
            {
                "_id": family.id,
                "user_id": family.user_id,
                "current_hash": family.current_hash,
                "used_hashes": [],
                "created_at": family.created_at,
                "expires_at": family.expires_at,
                "revoked_at": family.revoked_at,
            }
        )

    async def swap(self, old_hash: str, new_hash: str, *, now: datetime, expires_at: datetime) -> RefreshFamily | None:
        doc = await self._families.find_one_and_update(
            {"current_hash": old_hash, "revoked_at": None, "expires_at": {"$gt": now}},
            {
                "$set": {"current_hash": new_hash, "expires_at": expires_at, "rotated_at": now},
                "$push": {"used_hashes": {"$each": [old_hash], "$slice": -USED_HASHES_KEPT}},
            },
            return_document=ReturnDocument.AFTER,
        )
        return _family(doc) if doc is not None else None

    async def find_by_used_hash(self, token_hash: str) -> RefreshFamily | None:
        doc = await self._families.find_one({"used_hashes": token_hash})
        return _family(doc) if doc is not None else None

    async def revoke(self, family_id: str, now: datetime) -> None:
        await self._families.update_one({"_id": family_id, "revoked_at": None}, {"$set": {"revoked_at": now}})

    async def revoke_by_hash(self, token_hash: str, now: datetime) -> None:
        await self._families.update_one(
            {"$or": [{"current_hash": token_hash}, {"used_hashes": token_hash}], "revoked_at": None},
            {"$set": {"revoked_at": now}},
        )

    async def delete_for_user(self, user_id: str) -> None:
        await self._families.delete_many({"user_id": user_id})
