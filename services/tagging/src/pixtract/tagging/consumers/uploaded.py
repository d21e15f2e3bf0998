"""images.uploaded → colours, perceptual hash, place, categories → images.tagged."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaError
from botocore.exceptions import BotoCoreError, ClientError
from google.protobuf.message import Message

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_TAGGED, Topic
from pixtract.events.v1 import images_pb2
from pixtract.tagging.domain.analysis import UNREADABLE, ImageAnalysis, analyse_image
from pixtract.tagging.domain.categories import (
    CategoryStore,
    ImageCategories,
    StoreUnavailable,
    categorise,
)
from pixtract.tagging.domain.decoding import ImageRejected
from pixtract.tagging.domain.labels import Label
from pixtract.tagging.domain.places import Location, location_from_gps

M = TypeVar("M", bound=Message)

ObjectReader = Callable[[str, str], Awaitable[bytes | None]]

log = get_logger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: Topic[M], message: M, *, key: str, event_id: str | None = None) -> None: ...


def image_tagged_event(
    image: images_pb2.ImageUploaded,
    analysis: ImageAnalysis,
    *,
    labels: list[Label],
    categories: list[str],
    location: Location | None,
    model_version: str,
    tagged_at: datetime,
) -> images_pb2.ImageTagged:
    event = images_pb2.ImageTagged(
        image_id=image.image_id,
        owner_id=image.owner_id,
        model_version=model_version,
        labels=[images_pb2.Label(name=lb.name, confidence=lb.confidence, parents=lb.parents) for lb in labels],
        categories=categories,
        faces=0,
        colors=[images_pb2.Color(name=c.name, hex=c.hex, fraction=c.fraction) for c in analysis.colors],
        width=analysis.width,
        height=analysis.height,
        phash=analysis.phash,
    )
    if location is not None:
        event.location.CopyFrom(
            images_pb2.Place(lat=location.lat, lon=location.lon, place=location.place, country=location.country)
        )
    event.tagged_at.FromDatetime(tagged_at)
    return event


@dataclass
class TaggingHandler:
    """Tags one uploaded image and announces the result.

    An image that cannot be read (corrupt, truncated, not an image, over `max_pixels`) is
    not an error of the pipeline: it still gets an `images.tagged` with what is known
    (width and height 0, no colours, no hash) and a warning in the log. Dead-lettering it
    instead would leave the image `processing`: the upload service marks an image ready only
    once tagging has reported, and a file it could store is worth keeping even if we cannot
    read its pixels.
    """

    read_object: ObjectReader
    store: CategoryStore
    publisher: Publisher
    executor: ThreadPoolExecutor
    max_pixels: int
    model_version: str

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        image = event.message
        if not image.image_id or not image.owner_id or not image.original.key:
            raise PermanentError("ImageUploaded without image id, owner or object key")
        try:
            data = await self.read_object(image.original.bucket, image.original.key)
        except (BotoCoreError, ClientError) as exc:
            raise TransientError(f"object store: {exc}") from exc
        if data is None:
            log.info("original gone; skipping", image_id=image.image_id)
            return
        analysis = await self._analyse(image.image_id, data)
        location = location_from_gps(image.gps.lat, image.gps.lon) if image.HasField("gps") else None
        labels: list[Label] = []
        categories = categorise(labels, faces=0, location=location)
        tagged_at = datetime.now(UTC)
        uploaded_at = image.uploaded_at.ToDatetime(tzinfo=UTC) if image.HasField("uploaded_at") else tagged_at
        record = ImageCategories(image.image_id, image.owner_id, tuple(categories), uploaded_at, tagged_at)
        try:
            saved = await self.store.save_image(record)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc
        if not saved:
            log.info("image or owner deleted meanwhile, or a newer result is stored; skipping", image_id=image.image_id)
            return
        tagged = image_tagged_event(
            image,
            analysis,
            labels=labels,
            categories=categories,
            location=location,
            model_version=self.model_version,
            tagged_at=tagged_at,
        )
        try:
            await self.publisher.publish(IMAGES_TAGGED, tagged, key=image.image_id)
        except KafkaError as exc:
            raise TransientError(f"kafka: {exc}") from exc

    async def _analyse(self, image_id: str, data: bytes) -> ImageAnalysis:
        loop = asyncio.get_running_loop()
        try:
            # Decoding and quantising are CPU-bound; the event loop must keep serving health checks.
            return await loop.run_in_executor(self.executor, lambda: analyse_image(data, max_pixels=self.max_pixels))
        except ImageRejected as exc:
            log.warning("image unreadable; publishing what is known", image_id=image_id, error=str(exc))
            return UNREADABLE
