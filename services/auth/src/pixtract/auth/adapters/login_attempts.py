"""Failed-login windows in the `login_attempts` collection (one document per account or address)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from pixtract.auth.domain.throttle import FailureWindow
from pixtract.common.clients import MongoDocument


class MongoAttemptCounter:
    def __init__(self, db: AsyncDatabase[MongoDocument]) -> None:
        self._attempts = db["login_attempts"]

    async def create_indexes(self) -> None:
        await self._attempts.create_index("ends_at", expireAfterSeconds=0, name="ends_at_ttl")

    async def window(self, key: str, now: datetime) -> FailureWindow | None:
        # The TTL monitor runs about once a minute: an ended window may still be stored.
        doc = await self._attempts.find_one({"_id": key, "ends_at": {"$gt": now}})
        return FailureWindow(failures=doc["failures"], ends_at=doc["ends_at"]) if doc is not None else None

    async def add_failure(self, key: str, now: datetime, window: timedelta) -> None:
        counted = await self._attempts.update_one({"_id": key, "ends_at": {"$gt": now}}, {"$inc": {"failures": 1}})
        if counted.matched_count:
            return
        try:
            # Open a window: replace an ended one, or create the document. If another request
            # opened one meanwhile, the _id collides and this failure is counted in it instead.
            await self._attempts.update_one(
                {"_id": key, "ends_at": {"$lte": now}},
                {"$set": {"failures": 1, "ends_at": now + window}},
                upsert=True,
            )
        except DuplicateKeyError:
            await self._attempts.update_one({"_id": key}, {"$inc": {"failures": 1}})

    async def clear(self, key: str) -> None:
        await self._attempts.delete_one({"_id": key})
