"""An image record as the events that built it, for the search service's reindex.

The search service shapes its documents from events, so the export hands it each live
record as the ImageUploaded, ImageTagged and TextExtracted a consumer would have seen
(protobuf JSON): the rebuild then runs the very code the consumers run, and a field added
to an event reaches a rebuilt index as soon as the record keeps it and it is re-emitted here.
A result is exported only once its stage is done; what search never indexes (OCR line boxes,
engine, language) is left out to keep pages small.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message

from pixtract.events.v1 import images_pb2
from pixtract.upload.domain.pipeline import Stage, StageStatus
from pixtract.upload.domain.records import ImageDocument, image_uploaded_event

MAX_CURSOR_CHARS = 200

# Fields of the result events that the export does not rebuild from a record, with why.
TAGGED_FIELDS_NOT_EXPORTED = frozenset(
    {
        "width",  # in the ImageUploaded part already
        "height",
        "face_boxes",  # not indexed by search (it counts faces)
        "duplicates_of",  # not indexed by search
    }
)
TEXT_FIELDS_NOT_EXPORTED = frozenset(
    {
        # Not indexed by search.
        "engine",
        "language",
        "lines",
        "items",
        "key_values",
        # Why the classifier chose the document type: for debugging only, not kept.
        "evidence",
    }
)


class MalformedExportCursor(ValueError):
    """The cursor was not produced by the export (or was altered)."""


def encode_export_cursor(last_image_id: str) -> str:
    return base64.urlsafe_b64encode(last_image_id.encode()).decode().rstrip("=")


def decode_export_cursor(cursor: str) -> str:
    """The id after which the next page starts."""
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise MalformedExportCursor("cursor is empty or too long")
    try:
        image_id = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedExportCursor("cursor is not valid") from exc
    if not image_id:
        raise MalformedExportCursor("cursor is not valid")
    return image_id


def _done(document: ImageDocument, stage: Stage) -> bool:
    return document.get("stages", {}).get(stage.value) == StageStatus.DONE.value


def tagged_event(document: ImageDocument) -> images_pb2.ImageTagged | None:
    """The stored tagging result as its event; None until tagging is done."""
    if not _done(document, Stage.TAGGING):
        return None
    event = images_pb2.ImageTagged(
        image_id=document["_id"],
        owner_id=document["owner_id"],
        model_version=document.get("model_versions", {}).get(Stage.TAGGING.value, ""),
        categories=document.get("categories", []),
        faces=document.get("faces", 0),
        phash=document.get("phash", ""),
    )
    for label in document.get("labels", []):
        event.labels.add(name=label["name"], confidence=label.get("confidence", 0.0), parents=label.get("parents", []))
    for color in document.get("colors", []):
        event.colors.add(name=color["name"], hex=color.get("hex", ""), fraction=color.get("fraction", 0.0))
    if location := document.get("location"):
        event.location.lat = location.get("lat") or 0.0
        event.location.lon = location.get("lon") or 0.0
        event.location.place = location.get("place") or ""
        event.location.country = location.get("country") or ""
        event.location.region = location.get("region") or ""
        event.location.country_code = location.get("country_code") or ""
    if produced_at := document.get("result_times", {}).get(Stage.TAGGING.value):
        event.tagged_at.FromDatetime(produced_at)
    return event


def text_event(document: ImageDocument) -> images_pb2.TextExtracted | None:
    """The stored OCR result as its event (without line boxes); None until OCR is done."""
    if not _done(document, Stage.OCR):
        return None
    text = document.get("text") or {}
    event = images_pb2.TextExtracted(
        image_id=document["_id"],
        owner_id=document["owner_id"],
        model_version=document.get("model_versions", {}).get(Stage.OCR.value, ""),
        content=text.get("content", ""),
        document_type=text.get("document_type", ""),
        fields=text.get("fields", {}),
    )
    if produced_at := document.get("result_times", {}).get(Stage.OCR.value):
        event.extracted_at.FromDatetime(produced_at)
    return event


def _as_json(message: Message | None) -> dict[str, Any] | None:
    if message is None:
        return None
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def export_item(document: ImageDocument) -> dict[str, Any]:
    """One live record for the export: ids, indexed parts and the events that built it."""
    return {
        "image_id": document["_id"],
        "owner_id": document["owner_id"],
        "indexed": list(document.get("indexed", [])),
        "uploaded": _as_json(image_uploaded_event(document, attempt=document.get("attempt", 1))),
        "tagged": _as_json(tagged_event(document)),
        "text_extracted": _as_json(text_event(document)),
    }
