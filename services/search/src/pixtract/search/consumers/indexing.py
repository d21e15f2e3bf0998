"""Events in, partial documents upserted, `images.indexed` out once a part is searchable.

Idempotent by construction: each part is a full replacement of its own fields, so a
redelivered or reordered event writes the same document again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from google.protobuf.message import Message

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_INDEXED, Topic
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.search.adapters.opensearch import DocumentRejected, IndexUnavailable
from pixtract.search.domain.documents import (
    PartialDocument,
    UnindexableEvent,
    deleted_owner_marker,
    tagged_document,
    text_document,
    tombstone_document,
    uploaded_document,
)

M = TypeVar("M", bound=Message)

log = get_logger(__name__)


class DocumentIndex(Protocol):
    async def upsert(self, doc: PartialDocument) -> None: ...

    async def delete_owner(self, owner_id: str) -> int: ...

    async def owner_deleted(self, owner_id: str) -> bool: ...


class EventSink(Protocol):
    async def publish(self, topic: Topic[M], message: M, *, key: str, event_id: str | None = None) -> None: ...


def image_indexed_event(
    image_id: str, owner_id: str, part: images_pb2.IndexedPart.ValueType, model_version: str = ""
) -> images_pb2.ImageIndexed:
    event = images_pb2.ImageIndexed(image_id=image_id, owner_id=owner_id, part=part, model_version=model_version)
    event.indexed_at.FromDatetime(datetime.now(UTC))
    return event


async def _index_errors_as_delivery_errors(write: Callable[[], Awaitable[object]]) -> None:
    try:
        await write()
    except IndexUnavailable as exc:
        raise TransientError(str(exc)) from exc
    except DocumentRejected as exc:
        raise PermanentError(f"OpenSearch refused the document: {exc}") from exc


def _document(build: Callable[[M], PartialDocument], message: M) -> PartialDocument:
    try:
        return build(message)
    except UnindexableEvent as exc:
        raise PermanentError(str(exc)) from exc


@dataclass
class IndexingHandlers:
    index: DocumentIndex
    publisher: EventSink

    async def _index_part(
        self, doc: PartialDocument, part: images_pb2.IndexedPart.ValueType, model_version: str = ""
    ) -> None:
        owner_id = doc["owner_id"]
        if await self._owner_deleted(owner_id):
            log.info("result for a deleted user dropped", image_id=doc["image_id"], owner_id=owner_id)
            return
        await _index_errors_as_delivery_errors(lambda: self.index.upsert(doc))
        if await self._owner_deleted(owner_id):
            # The user was purged while we wrote: purge again so this write does not outlive them.
            await _index_errors_as_delivery_errors(lambda: self.index.delete_owner(owner_id))
            return
        await self.publisher.publish(
            IMAGES_INDEXED,
            image_indexed_event(doc["image_id"], doc["owner_id"], part, model_version),
            key=doc["image_id"],
        )

    async def _owner_deleted(self, owner_id: str) -> bool:
        try:
            return await self.index.owner_deleted(owner_id)
        except IndexUnavailable as exc:
            raise TransientError(str(exc)) from exc

    async def on_uploaded(self, event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        doc = _document(uploaded_document, event.message)
        await self._index_part(doc, images_pb2.INDEXED_PART_UPLOAD)

    async def on_tagged(self, event: ConsumedEvent[images_pb2.ImageTagged]) -> None:
        doc = _document(tagged_document, event.message)
        await self._index_part(doc, images_pb2.INDEXED_PART_TAGGING, event.message.model_version)

    async def on_text_extracted(self, event: ConsumedEvent[images_pb2.TextExtracted]) -> None:
        doc = _document(text_document, event.message)
        await self._index_part(doc, images_pb2.INDEXED_PART_OCR, event.message.model_version)

    async def on_image_deleted(self, event: ConsumedEvent[images_pb2.ImageDeleted]) -> None:
        doc = _document(tombstone_document, event.message)
        # A tombstone, not a delete: a tagged or OCR event arriving later must not bring the image back.
        await _index_errors_as_delivery_errors(lambda: self.index.upsert(doc))

    async def on_user_deleted(self, event: ConsumedEvent[users_pb2.UserDeleted]) -> None:
        owner_id = event.message.user_id
        if not owner_id:
            raise PermanentError("UserDeleted without a user id")

        async def purge() -> None:
            # The marker first: a write that passes its check before the marker exists
            # re-checks after writing and purges again (see _index_part).
            await self.index.upsert(deleted_owner_marker(owner_id))
            removed = await self.index.delete_owner(owner_id)
            log.info("removed a deleted user's documents", owner_id=owner_id, documents=removed)

        await _index_errors_as_delivery_errors(purge)
