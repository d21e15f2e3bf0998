"""images.deleted and users.deleted: forget the handled-image records of what is gone."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import PyMongoError

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.ocr.domain.handled import HandledStore


@dataclass
class ImageDeletedHandler:
    handled: HandledStore

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageDeleted]) -> None:
        if not event.message.image_id:
            raise PermanentError("ImageDeleted without image id")
        try:
            await self.handled.forget_image(event.message.image_id)
        except PyMongoError as exc:
            raise TransientError(f"handled-image store unavailable: {exc}") from exc


@dataclass
class UserDeletedHandler:
    handled: HandledStore

    async def __call__(self, event: ConsumedEvent[users_pb2.UserDeleted]) -> None:
        if not event.message.user_id:
            raise PermanentError("UserDeleted without user id")
        try:
            await self.handled.forget_owner(event.message.user_id)
        except PyMongoError as exc:
            raise TransientError(f"handled-image store unavailable: {exc}") from exc
