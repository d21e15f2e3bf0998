"""images.uploaded → OCR → images.text_extracted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from pymongo.errors import PyMongoError

from pixtract.common.imaging import ImageRejected
from pixtract.common.kafka import ConsumedEvent, EventPublisher, PermanentError, TransientError
from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_TEXT_EXTRACTED
from pixtract.events.v1 import images_pb2
from pixtract.ocr.domain.handled import HandledImage, HandledStore
from pixtract.ocr.domain.ocr import OcrResult

ObjectReader = Callable[[str, str], Awaitable[bytes | None]]

log = get_logger(__name__)


class TextReader(Protocol):
    """A provider: RapidOCR in-process (adapters.pool) or AWS Textract (adapters.textract)."""

    engine_name: str

    @property
    def model_version(self) -> str: ...

    async def read(self, data: bytes) -> OcrResult: ...


def text_extracted_event(
    image_id: str, owner_id: str, result: OcrResult, engine: str, model_version: str
) -> images_pb2.TextExtracted:
    event = images_pb2.TextExtracted(
        image_id=image_id,
        owner_id=owner_id,
        engine=engine,
        model_version=model_version,
        content=result.content,
        document_type=result.document_type,
        fields=result.fields,
        language=result.language,
        evidence=result.evidence,
    )
    for line in result.lines:
        event.lines.add(text=line.text, confidence=line.confidence, box=list(line.box))
    for item in result.items:
        event.items.add(description=item.description, amount=item.amount)
    for pair in result.key_values:
        event.key_values.add(key=pair.key, value=pair.value)
    event.extracted_at.FromDatetime(datetime.now(UTC))
    return event


@dataclass
class OcrHandler:
    reader: TextReader
    read_object: ObjectReader
    publisher: EventPublisher
    handled: HandledStore

    async def __call__(self, event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        image = event.message
        if not image.image_id or not image.owner_id or not image.original.key:
            raise PermanentError("ImageUploaded without image id, owner or object key")
        await self.process(
            HandledImage(
                image.image_id,
                image.owner_id,
                image.original.bucket,
                image.original.key,
                self.reader.model_version,
                image.attempt,
            )
        )

    async def process(self, image: HandledImage) -> bool:
        """Read one image and publish its text; False when its original is gone."""
        data = await self.read_object(image.bucket, image.key)
        if data is None:
            # Deleted before we got to it: nothing to read, nothing to publish.
            log.info("original gone; skipping", image_id=image.image_id)
            async with _store_errors_are_transient():
                await self.handled.forget_image(image.image_id)
            return False
        try:
            result = await self.reader.read(data)
        except ImageRejected as exc:
            log.warning("image unreadable; publishing an empty result", image_id=image.image_id, error=str(exc))
            result = OcrResult(content="", lines=[], document_type="none", evidence=[f"unreadable: {exc}"])
        model_version = self.reader.model_version
        await self.publisher.publish(
            IMAGES_TEXT_EXTRACTED,
            text_extracted_event(image.image_id, image.owner_id, result, self.reader.engine_name, model_version),
            key=image.image_id,
        )
        # After publishing: a crash in between reads the image again, never loses the result.
        async with _store_errors_are_transient():
            await self.handled.record(
                HandledImage(image.image_id, image.owner_id, image.bucket, image.key, model_version, image.attempt)
            )
        return True


@asynccontextmanager
async def _store_errors_are_transient() -> AsyncIterator[None]:
    try:
        yield
    except PyMongoError as exc:
        raise TransientError(f"handled-image store unavailable: {exc}") from exc
