"""Building, storing and announcing ImageTagged results, and redoing the parts of a stored
result that later events change (OCR's document type, near-duplicate links)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, TypeVar

from aiokafka.errors import KafkaError
from google.protobuf.message import Message

from pixtract.common.kafka import TransientError
from pixtract.common.logging import get_logger
from pixtract.events.topics import IMAGES_TAGGED, Topic
from pixtract.events.v1 import images_pb2
from pixtract.tagging.domain.analysis import ImageAnalysis
from pixtract.tagging.domain.categories import StoreUnavailable, categorise
from pixtract.tagging.domain.labels import Label, LabelRules
from pixtract.tagging.domain.places import Location
from pixtract.tagging.domain.results import TaggingStore

M = TypeVar("M", bound=Message)

RULES_PATH = Path(__file__).resolve().parents[1] / "models" / "label_rules.yaml"
# Refreshing a result races with other writers of the same image; it retries this often.
REFRESH_ATTEMPTS = 5

log = get_logger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: Topic[M], message: M, *, key: str, event_id: str | None = None) -> None: ...


def now_millis() -> datetime:
    """Now at the millisecond precision Mongo keeps, so a stored time compares equal to the event's."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def image_tagged_event(
    image: images_pb2.ImageUploaded,
    analysis: ImageAnalysis,
    *,
    labels: Sequence[Label],
    categories: Sequence[str],
    location: Location | None,
    duplicates_of: Sequence[str],
    model_version: str,
    tagged_at: datetime,
) -> images_pb2.ImageTagged:
    event = images_pb2.ImageTagged(
        image_id=image.image_id,
        owner_id=image.owner_id,
        model_version=model_version,
        labels=[images_pb2.Label(name=lb.name, confidence=lb.confidence, parents=lb.parents) for lb in labels],
        categories=categories,
        faces=len(analysis.faces),
        face_boxes=[
            images_pb2.FaceBox(x0=f.x0, y0=f.y0, x1=f.x1, y1=f.y1, confidence=f.confidence) for f in analysis.faces
        ],
        colors=[images_pb2.Color(name=c.name, hex=c.hex, fraction=c.fraction) for c in analysis.colors],
        width=analysis.width,
        height=analysis.height,
        phash=analysis.phash,
        duplicates_of=duplicates_of,
    )
    if location is not None:
        event.location.CopyFrom(
            images_pb2.Place(
                lat=location.lat,
                lon=location.lon,
                place=location.place,
                country=location.country,
                region=location.region,
                country_code=location.country_code,
            )
        )
    event.tagged_at.FromDatetime(tagged_at)
    return event


def content_labels(event: images_pb2.ImageTagged) -> list[Label]:
    """The event's labels without the place names (those never decide a category)."""
    places = {event.location.place, event.location.region, event.location.country} - {""}
    return [Label(lb.name, lb.confidence, tuple(lb.parents)) for lb in event.labels if lb.name not in places]


@dataclass
class ResultAnnouncer:
    store: TaggingStore
    publisher: Publisher
    rules: LabelRules = field(default_factory=lambda: LabelRules.load(RULES_PATH))

    async def publish(self, event: images_pb2.ImageTagged, tagged_at: datetime) -> None:
        try:
            await self.publisher.publish(IMAGES_TAGGED, event, key=event.image_id)
        except KafkaError as exc:
            raise TransientError(f"kafka: {exc}") from exc
        try:
            await self.store.mark_published(event.image_id, tagged_at)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc

    async def refresh(self, image_id: str, *, link: str | None = None, unlink: str | None = None) -> None:
        """Redo a stored result's categories and links and announce it when they changed.

        Also publishes a stored result that was never confirmed published (`pending`).
        """
        try:
            await self._refresh(image_id, link=link, unlink=unlink)
        except StoreUnavailable as exc:
            raise TransientError(str(exc)) from exc

    async def _refresh(self, image_id: str, *, link: str | None, unlink: str | None) -> None:
        for _ in range(REFRESH_ATTEMPTS):
            stored = await self.store.get(image_id)
            if stored is None or not stored.result or stored.tagged_at is None:
                return
            duplicates = [d for d in stored.duplicates_of if d != unlink]
            if link is not None and link not in duplicates:
                duplicates.append(link)
            event = images_pb2.ImageTagged.FromString(stored.result)
            if tuple(duplicates) == stored.duplicates_of and stored.document_type == stored.categorised_with:
                if stored.pending:
                    await self.publish(event, stored.tagged_at)
                return
            categorisation = categorise(content_labels(event), event.faces, stored.document_type, self.rules)
            tagged_at = max(now_millis(), stored.tagged_at + timedelta(milliseconds=1))
            del event.categories[:]
            event.categories.extend(categorisation.categories)
            del event.duplicates_of[:]
            event.duplicates_of.extend(duplicates)
            event.tagged_at.FromDatetime(tagged_at)
            replaced = await self.store.replace_result(
                image_id,
                expected_tagged_at=stored.tagged_at,
                tagged_at=tagged_at,
                categories=categorisation.categories,
                specific=categorisation.specific,
                duplicates_of=tuple(duplicates),
                categorised_with=stored.document_type,
                result=event.SerializeToString(),
            )
            if replaced:
                await self.publish(event, tagged_at)
                return
        log.warning("result kept changing while being refreshed; left for the next event", image_id=image_id)
