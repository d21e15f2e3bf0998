"""Tagging and OCR results, from their events to the fields stored in the image record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from pixtract.events.v1 import images_pb2

# The document types the public API names (screenshot is an extension: docs/design.md);
# anything newer a model reports reads as "other".
DOCUMENT_TYPES = frozenset({"receipt", "note", "form", "screenshot", "other", "none"})


@dataclass(frozen=True)
class StageResult:
    # Set into the record (dotted paths allowed), along with the stage marked done.
    fields: dict[str, Any]
    model_version: str
    # When the result was produced; None when the producer did not say.
    produced_at: datetime | None


def _time(timestamp: Timestamp, present: bool) -> datetime | None:
    return timestamp.ToDatetime(tzinfo=UTC) if present else None


def _score(value: float) -> float:
    # Protobuf floats are 32-bit: 0.9 arrives as 0.8999999761581421.
    return round(float(value), 4)


def tagging_result(event: images_pb2.ImageTagged) -> StageResult:
    location = None
    if event.HasField("location"):
        loc = event.location
        location = {
            "lat": loc.lat,
            "lon": loc.lon,
            "place": loc.place or None,
            "country": loc.country or None,
            "region": loc.region or None,
            "country_code": loc.country_code or None,
        }
    fields: dict[str, Any] = {
        "labels": [
            {"name": label.name, "confidence": _score(label.confidence), "parents": list(label.parents)}
            for label in event.labels
        ],
        "categories": list(dict.fromkeys(event.categories)),
        "faces": max(0, event.faces),
        "colors": [{"name": c.name, "hex": c.hex, "fraction": _score(c.fraction)} for c in event.colors],
        "location": location,
        "phash": event.phash,
        "face_boxes": [
            {"box": [round(v, 1) for v in (f.x0, f.y0, f.x1, f.y1)], "confidence": _score(f.confidence)}
            for f in event.face_boxes
        ],
        "duplicates_of": list(dict.fromkeys(event.duplicates_of)),
    }
    return StageResult(fields, event.model_version, _time(event.tagged_at, event.HasField("tagged_at")))


def document_type(value: str, content: str) -> str:
    if value in DOCUMENT_TYPES:
        return value
    return "other" if content.strip() else "none"


def text_result(event: images_pb2.TextExtracted) -> StageResult:
    text = {
        "content": event.content,
        "document_type": document_type(event.document_type, event.content),
        "fields": dict(event.fields),
        "lines": [
            {"text": line.text, "confidence": _score(line.confidence), "box": [round(v, 2) for v in line.box]}
            for line in event.lines
        ],
        # Extensions of API.md (docs/design.md): language, receipt line items, form key-values.
        "language": event.language or None,
        "items": [{"description": item.description, "amount": item.amount} for item in event.items],
        "key_values": [{"key": pair.key, "value": pair.value} for pair in event.key_values],
    }
    return StageResult({"text": text}, event.model_version, _time(event.extracted_at, event.HasField("extracted_at")))
