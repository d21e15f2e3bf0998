"""images.deleted and users.deleted: forget what the service keeps of an image or a user."""

from __future__ import annotations

from dataclasses import dataclass

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.tagging.domain.categories import CategoryStore, StoreUnavailable


@dataclass
class ImageDeletedHandler:
    store: CategoryStore

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageDeleted]) -> None:
        deleted = event.message
        if not deleted.image_id or not deleted.owner_id:
            raise PermanentError("ImageDeleted without image id or owner")
        try:
            await self.store.forget_image(deleted.image_id, deleted.owner_id)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc


@dataclass
class UserDeletedHandler:
    store: CategoryStore

    async def __call__(self, event: ConsumedEvent[users_pb2.UserDeleted]) -> None:
        if not event.message.user_id:
            raise PermanentError("UserDeleted without user id")
        try:
            await self.store.forget_user(event.message.user_id)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc
