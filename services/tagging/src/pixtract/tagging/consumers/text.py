"""images.text_extracted → the document type OCR found → categories redone and re-announced.

OCR and tagging run side by side on every upload, in either order. Whichever of the two
events comes second settles the categories: this handler stores the document type and
refreshes a stored result; the tagging handler reads the stored type (and refreshes once
more after storing its result, in case OCR reported meanwhile). Each refresh publishes a
newer ImageTagged, so the newest result wins downstream.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.v1 import images_pb2
from pixtract.tagging.consumers.results import ResultAnnouncer
from pixtract.tagging.domain.categories import StoreUnavailable
from pixtract.tagging.domain.results import TaggingStore


@dataclass
class TextExtractedHandler:
    store: TaggingStore
    announcer: ResultAnnouncer

    async def __call__(self, event: ConsumedEvent[images_pb2.TextExtracted]) -> None:
        text = event.message
        if not text.image_id or not text.owner_id:
            raise PermanentError("TextExtracted without image id or owner")
        document_type = text.document_type.strip().lower() or "none"
        try:
            stored = await self.store.record_text(text.image_id, text.owner_id, document_type)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc
        if stored is not None:
            await self.announcer.refresh(text.image_id)
