"""users.deleted → every object and record of the user removed (idempotent: removing nothing is fine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pixtract.common.kafka import ConsumedEvent, PermanentError
from pixtract.common.logging import get_logger
from pixtract.events.v1 import users_pb2
from pixtract.upload.consumers.errors import unreachable_dependencies_are_transient

log = get_logger(__name__)


class UserImages(Protocol):
    async def delete_owner(self, owner_id: str) -> int: ...


class UserObjects(Protocol):
    async def delete_user(self, owner_id: str) -> int: ...


class UserUploads(Protocol):
    async def delete_owner(self, owner_id: str) -> int: ...


@dataclass
class UserDeletedHandler:
    images: UserImages
    objects: UserObjects
    # Resumable uploads in progress; their bytes are under the user's prefixes too.
    uploads: UserUploads | None = None

    async def __call__(self, event: ConsumedEvent[users_pb2.UserDeleted]) -> None:
        user_id = event.message.user_id
        if not user_id or "/" in user_id:
            raise PermanentError(f"UserDeleted with an unusable user id {user_id!r}")
        with unreachable_dependencies_are_transient():
            # Records first: the images vanish from every listing at once; objects follow.
            records = await self.images.delete_owner(user_id)
            if self.uploads is not None:
                records += await self.uploads.delete_owner(user_id)
            objects = await self.objects.delete_user(user_id)
        log.info("user's images removed", user_id=user_id, records=records, objects=objects)
