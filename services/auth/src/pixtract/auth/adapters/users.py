"""Accounts in the `users` collection; a deleted account keeps only its id and its pending event."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pixtract.auth.domain.users import EmailTaken, PendingDeletion, User
from pixtract.common.clients import MongoDocument

LIVE = {"deletion": {"$exists": False}}
PENDING = {"deletion": {"$exists": True}}


def _user(doc: MongoDocument) -> User:
    return User(
        id=doc["_id"],
        email=doc["email"],
        email_key=doc["email_key"],
        name=doc.get("name"),
        password_hash=doc["password_hash"],
        created_at=doc["created_at"],
    )


class MongoUserStore:
    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self._users = db["users"]

    async def create_indexes(self) -> None:
        # Partial: retired accounts drop their email (it may be registered again at once).
        await self._users.create_index(
            "email_key",
            unique=True,
            partialFilterExpression={"email_key": {"$type": "string"}},
            name="email_key_unique",
        )
        await self._users.create_index([("deletion.deleted_at", ASCENDING)], sparse=True, name="pending_deletions")

    async def insert(self, user: User) -> None:
        try:
            await self._users.insert_one(
                {
                    "_id": user.id,
                    "email": user.email,
                    "email_key": user.email_key,
                    "name": user.name,
                    "password_hash": user.password_hash,
                    "created_at": user.created_at,
                }
            )
        except DuplicateKeyError as exc:
            raise EmailTaken(user.email) from exc

    async def get(self, user_id: str) -> User | None:
        doc = await self._users.find_one({"_id": user_id, **LIVE})
        return _user(doc) if doc is not None else None

    async def find_by_email(self, email_key: str) -> User | None:
        doc = await self._users.find_one({"email_key": email_key, **LIVE})
        return _user(doc) if doc is not None else None

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._users.update_one({"_id": user_id, **LIVE}, {"$set": {"password_hash": password_hash}})

    async def mark_deleted(self, deletion: PendingDeletion) -> bool:
        personal: dict[str, Any] = {"email": "", "email_key": "", "name": "", "password_hash": ""}
        result = await self._users.update_one(
            {"_id": deletion.user_id, **LIVE},
            {
                "$set": {"deletion": {"event_id": deletion.event_id, "deleted_at": deletion.deleted_at}},
                "$unset": personal,
            },
        )
        if result.matched_count:
            return True
        return await self._users.find_one({"_id": deletion.user_id, **PENDING}, projection={"_id": 1}) is not None

    async def pending_deletions(self, limit: int) -> list[PendingDeletion]:
        cursor = self._users.find(PENDING).sort("deletion.deleted_at", ASCENDING).limit(limit)
        return [
            PendingDeletion(
                user_id=doc["_id"], event_id=doc["deletion"]["event_id"], deleted_at=doc["deletion"]["deleted_at"]
            )
            async for doc in cursor
        ]

    async def remove(self, user_id: str) -> None:
        await self._users.delete_one({"_id": user_id, **PENDING})
