"""images.uploaded → OCR → images.text_extracted."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from pixtract.common.kafka import ConsumedEvent, EventPublisher, PermanentError
from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_TEXT_EXTRACTED
from pixtract.events.v1 import images_pb2
from pixtract.ocr.domain.ocr import ENGINE_NAME, ImageRejected, LineEngine, OcrResult, extract_text

ObjectReader = Callable[[str, str], Awaitable[bytes | None]]

log = get_logger(__name__)


def text_extracted_event(
    image: images_pb2.ImageUploaded, result: OcrResult, model_version: str
) -> images_pb2.TextExtracted:
    event = images_pb2.TextExtracted(
        image_id=image.image_id,
        owner_id=image.owner_id,
        engine=ENGINE_NAME,
        model_version=model_version,
        content=result.content,
        document_type=result.document_type,
    )
    for line in result.lines:
        event.lines.add(text=line.text, confidence=line.confidence, box=list(line.box))
    event.extracted_at.FromDatetime(datetime.now(UTC))
    return event


@dataclass
class OcrHandler:
    engine: LineEngine
    read_object: ObjectReader
    publisher: EventPublisher
    executor: ThreadPoolExecutor
    max_pixels: int
    max_side: int

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        image = event.message
        if not image.image_id or not image.owner_id or not image.original.key:
            raise PermanentError("ImageUploaded without image id, owner or object key")
        data = await self.read_object(image.original.bucket, image.original.key)
        if data is None:
            # Deleted before we got to it: nothing to read, nothing to publish.
            log.info("original gone; skipping", image_id=image.image_id)
            return
        loop = asyncio.get_running_loop()
        try:
            # OCR is CPU-bound (hundreds of ms); the event loop must keep serving health checks.
            result = await loop.run_in_executor(
                self.executor,
                lambda: extract_text(self.engine, data, max_pixels=self.max_pixels, max_side=self.max_side),
            )
        except ImageRejected as exc:
            log.warning("image unreadable; publishing an empty result", image_id=image.image_id, error=str(exc))
            result = OcrResult(content="", lines=[], document_type="none")
        await self.publisher.publish(
            IMAGES_TEXT_EXTRACTED,
            text_extracted_event(image, result, self.engine.model_version),
            key=image.image_id,
        )
