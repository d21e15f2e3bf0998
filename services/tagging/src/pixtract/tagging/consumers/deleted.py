"""images.deleted and users.deleted: forget what the service keeps of an image or a user."""

from __future__ import annotations

from dataclasses import dataclass

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.common.logging import get_logger
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.tagging.consumers.results import ResultAnnouncer
from pixtract.tagging.domain.categories import CategoryStore, StoreUnavailable
from pixtract.tagging.domain.results import TaggingStore

log = get_logger(__name__)


@dataclass
class ImageDeletedHandler:
    store: CategoryStore
    # With one, images that named the deleted one as their original are re-announced without it.
    announcer: ResultAnnouncer | None = None

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageDeleted]) -> None:
        deleted = event.message
        if not deleted.image_id or not deleted.owner_id:
            raise PermanentError("ImageDeleted without image id or owner")
        try:
            await self.store.forget_image(deleted.image_id, deleted.owner_id)
            linked = await self._linked(deleted.owner_id, deleted.image_id)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc
        for image_id in linked:
            assert self.announcer is not None
            await self.announcer.refresh(image_id, unlink=deleted.image_id)

    async def _linked(self, owner_id: str, image_id: str) -> list[str]:
        if self.announcer is None:
            return []
        store: TaggingStore = self.announcer.store
        return await store.linked_to(owner_id, image_id)


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
