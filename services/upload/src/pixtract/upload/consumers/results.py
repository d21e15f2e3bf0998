"""images.tagged, images.text_extracted, images.indexed → the image record's results and state.

Idempotent and order-free: each event stores facts with `$set`/`$addToSet` (the repository
then derives the state from all stored facts), an older result never replaces a newer one,
and events for images that do not exist (any more) are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pixtract.common.kafka import ConsumedEvent, PermanentError
from pixtract.common.logging import get_logger
from pixtract.events.v1 import images_pb2
from pixtract.upload.consumers.errors import unreachable_dependencies_are_transient
from pixtract.upload.domain.pipeline import INDEXED_PART_FROM_EVENT, IndexedPart, Stage
from pixtract.upload.domain.records import ImageDocument
from pixtract.upload.domain.results import StageResult, tagging_result, text_result

log = get_logger(__name__)


class PipelineStore(Protocol):
    async def record_result(
        self, owner_id: str, image_id: str, stage: Stage, fields: dict[str, Any], produced_at: datetime | None
    ) -> ImageDocument | None: ...
    async def fill_dimensions(self, image_id: str, width: int, height: int) -> None: ...
    async def add_indexed_part(self, owner_id: str, image_id: str, part: IndexedPart) -> ImageDocument | None: ...


def _require_ids(image_id: str, owner_id: str) -> None:
    if not image_id or not owner_id:
        raise PermanentError("event without image id or owner id")


@dataclass
class PipelineResultHandlers:
    store: PipelineStore

    async def on_tagged(self, event: ConsumedEvent[images_pb2.ImageTagged]) -> None:
        tagged = event.message
        _require_ids(tagged.image_id, tagged.owner_id)
        stored = await self._record(tagged.image_id, tagged.owner_id, Stage.TAGGING, tagging_result(tagged))
        if stored is not None and stored.get("width") is None and tagged.width > 0 and tagged.height > 0:
            with unreachable_dependencies_are_transient():
                await self.store.fill_dimensions(tagged.image_id, tagged.width, tagged.height)

    async def on_text_extracted(self, event: ConsumedEvent[images_pb2.TextExtracted]) -> None:
        extracted = event.message
        _require_ids(extracted.image_id, extracted.owner_id)
        await self._record(extracted.image_id, extracted.owner_id, Stage.OCR, text_result(extracted))

    async def on_indexed(self, event: ConsumedEvent[images_pb2.ImageIndexed]) -> None:
        indexed = event.message
        _require_ids(indexed.image_id, indexed.owner_id)
        part = INDEXED_PART_FROM_EVENT.get(indexed.part)
        if part is None:
            raise PermanentError(f"ImageIndexed with unknown part {indexed.part}")
        with unreachable_dependencies_are_transient():
            stored = await self.store.add_indexed_part(indexed.owner_id, indexed.image_id, part)
        if stored is None:
            log.info("indexed event for an unknown or deleted image; ignored", image_id=indexed.image_id)

    async def _record(self, image_id: str, owner_id: str, stage: Stage, result: StageResult) -> ImageDocument | None:
        fields = {**result.fields, f"model_versions.{stage.value}": result.model_version}
        with unreachable_dependencies_are_transient():
            stored = await self.store.record_result(owner_id, image_id, stage, fields, result.produced_at)
        if stored is None:
            log.info(
                "result for an unknown or deleted image, or older than the stored one; ignored",
                image_id=image_id,
                stage=stage.value,
            )
        return stored
