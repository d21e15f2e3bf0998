"""images.uploaded → labels, faces, colours, pHash, place, categories, near-duplicates → images.tagged."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC

from botocore.exceptions import BotoCoreError, ClientError

from pixtract.common.imaging import ImageRejected
from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.common.logging import get_logger
from pixtract.events.v1 import images_pb2
from pixtract.tagging.consumers.results import (
    RULES_PATH,
    Publisher,
    ResultAnnouncer,
    image_tagged_event,
    now_millis,
)
from pixtract.tagging.domain.analysis import UNREADABLE, ImageAnalysis, analyse_image
from pixtract.tagging.domain.categories import ImageCategories, StoreUnavailable, categorise
from pixtract.tagging.domain.faces import FaceDetector
from pixtract.tagging.domain.labels import LabelRequest, LabelRules, LabelSource, person_labels
from pixtract.tagging.domain.places import Gazetteer, Location, location_from_gps, name_location, place_labels
from pixtract.tagging.domain.results import TaggingStore, is_earlier, near_duplicates

ObjectReader = Callable[[str, str], Awaitable[bytes | None]]

log = get_logger(__name__)


@dataclass
class TaggingTools:
    """The models and data a handler uses; none of them by default (colours and hash only)."""

    labels: LabelSource | None = None
    faces: FaceDetector | None = None
    gazetteer: Gazetteer | None = None
    rules: LabelRules = field(default_factory=lambda: LabelRules.load(RULES_PATH))
    place_max_km: float = 25.0
    duplicate_max_distance: int = 10


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
    store: TaggingStore
    publisher: Publisher
    executor: ThreadPoolExecutor
    max_pixels: int
    model_version: str
    tools: TaggingTools = field(default_factory=TaggingTools)

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
        tools = self.tools
        labels = []
        if tools.labels is not None and analysis.tensor is not None:
            request = LabelRequest(analysis.tensor, data, image.original.bucket, image.original.key)
            labels = await tools.labels.labels(request)
        labels = labels + person_labels([face.confidence for face in analysis.faces])
        location = await self._locate(image)
        announcer = ResultAnnouncer(self.store, self.publisher, tools.rules)
        tagged_at = now_millis()
        uploaded_at = image.uploaded_at.ToDatetime(tzinfo=UTC) if image.HasField("uploaded_at") else tagged_at
        try:
            known = await self.store.get(image.image_id)
            document_type = known.document_type if known is not None else ""
            categorisation = categorise(labels, len(analysis.faces), document_type, tools.rules)
            hashed = [h for h in await self.store.hashed_images(image.owner_id) if h.image_id != image.image_id]
            near = near_duplicates(analysis.phash, hashed, max_distance=tools.duplicate_max_distance)
            earlier = [h.image_id for h, _ in near if is_earlier(h, uploaded_at, image.image_id)]
            later = [h.image_id for h, _ in near if not is_earlier(h, uploaded_at, image.image_id)]
            tagged = image_tagged_event(
                image,
                analysis,
                labels=labels + place_labels(location),
                categories=categorisation.categories,
                location=location,
                duplicates_of=earlier,
                model_version=self.model_version,
                tagged_at=tagged_at,
            )
            record = ImageCategories(
                image.image_id,
                image.owner_id,
                categorisation.categories,
                uploaded_at,
                tagged_at,
                specific=categorisation.specific,
                phash=analysis.phash,
                duplicates_of=tuple(earlier),
                model_version=self.model_version,
                categorised_with=document_type,
                upload=image.SerializeToString(),
                result=tagged.SerializeToString(),
            )
            saved = await self.store.save_image(record)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc
        if not saved:
            log.info("image or owner deleted meanwhile, or a newer result is stored; skipping", image_id=image.image_id)
            return
        await announcer.publish(tagged, tagged_at)
        # OCR may have reported while this ran, and images uploaded later may have been
        # tagged first: both are settled now that this result is stored.
        await announcer.refresh(image.image_id)
        for other in later:
            await announcer.refresh(other, link=image.image_id)

    async def _analyse(self, image_id: str, data: bytes) -> ImageAnalysis:
        loop = asyncio.get_running_loop()
        faces = self.tools.faces
        try:
            # Decoding, quantising and face detection are CPU-bound; the event loop must keep
            # serving health checks.
            return await loop.run_in_executor(
                self.executor, lambda: analyse_image(data, max_pixels=self.max_pixels, faces=faces)
            )
        except ImageRejected as exc:
            log.warning("image unreadable; publishing what is known", image_id=image_id, error=str(exc))
            return UNREADABLE

    async def _locate(self, image: images_pb2.ImageUploaded) -> Location | None:
        location = location_from_gps(image.gps.lat, image.gps.lon) if image.HasField("gps") else None
        gazetteer = self.tools.gazetteer
        if location is None or gazetteer is None:
            return location
        point = location
        # The gazetteer loads lazily (about 1 s) on first use: in the pool, not on the loop.
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, lambda: name_location(point, gazetteer, max_km=self.tools.place_max_km)
        )
