"""The outbox relay: publishes events waiting in image records, then removes them.

An entry is removed only after Kafka acknowledged it, so a crash at any point means it is
published again (consumers are idempotent), never lost. Deleted records are purged (objects,
then record) once their ImageDeleted is out; the objects were already removed when the image
was deleted, this second pass catches what a failure left behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from google.protobuf.message import Message
from opentelemetry.trace import SpanKind

from pixtract.common.logging import get_logger
from pixtract.common.tracing import span_from_carrier
from pixtract.events.topics import Topic
from pixtract.upload.domain.outbox import UndeliverableEntry, decode_entry
from pixtract.upload.domain.records import ImageDocument, image_keys

BATCH = 100
# A backlog beyond this many batches is left to the next tick, so one drain always ends.
MAX_BATCHES = 20

log = get_logger(__name__)


class OutboxStore(Protocol):
    async def with_pending_outbox(self, limit: int) -> list[ImageDocument]: ...
    async def remove_outbox_entry(self, image_id: str, event_id: str) -> None: ...
    async def purgeable(self, limit: int) -> list[ImageDocument]: ...
    async def purge(self, image_id: str) -> None: ...


class EventSink(Protocol):
    async def publish(self, topic: Topic[Any], message: Any, *, key: str, event_id: str | None = None) -> None: ...


class ObjectRemover(Protocol):
    async def delete_keys(self, keys: Iterable[str]) -> None: ...


class OutboxRelay:
    def __init__(self, store: OutboxStore, publisher: EventSink, objects: ObjectRemover) -> None:
        self._store = store
        self._publisher = publisher
        self._objects = objects

    async def drain(self) -> int:
        """Publish every pending entry and purge what can be purged; returns the events published."""
        published = 0
        for _ in range(MAX_BATCHES):
            records = await self._store.with_pending_outbox(BATCH)
            for record in records:
                published += await self._publish_record(record)
            if len(records) < BATCH:
                break
        for _ in range(MAX_BATCHES):
            records = await self._store.purgeable(BATCH)
            for record in records:
                await self._objects.delete_keys(image_keys(record))
                await self._store.purge(record["_id"])
            if len(records) < BATCH:
                break
        return published

    async def _publish_record(self, record: ImageDocument) -> int:
        published = 0
        # In array order: an image's events go out in the order they were written.
        for entry in record.get("outbox", []):
            try:
                topic, message = decode_entry(entry)
            except UndeliverableEntry as exc:
                log.error(
                    "dropping an outbox entry that can never be published", image_id=record["_id"], error=str(exc)
                )
                await self._store.remove_outbox_entry(record["_id"], entry["event_id"])
                continue
            await self._publish(topic, message, entry["key"], entry["event_id"], entry.get("trace", {}))
            await self._store.remove_outbox_entry(record["_id"], entry["event_id"])
            published += 1
        return published

    async def _publish(
        self, topic: Topic[Any], message: Message, key: str, event_id: str, trace: dict[str, str]
    ) -> None:
        with span_from_carrier(f"publish {topic.name}", trace, SpanKind.PRODUCER):
            await self._publisher.publish(topic, message, key=key, event_id=event_id)
