"""Upload export items to index documents, for rebuilding the index (no network here).

The upload service exports each live image as the events that built its record (protobuf
JSON), so a rebuilt document comes from the same shaping functions the consumers use:
the parts an item carries are shaped one by one and merged as OpenSearch merges partial
updates (objects key by key, everything else replaced).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message

from pixtract.events.v1 import images_pb2
from pixtract.search.domain.documents import (
    PartialDocument,
    UnindexableEvent,
    tagged_document,
    text_document,
    tombstone_document,
    uploaded_document,
)

M = TypeVar("M", bound=Message)


class UnusableExportItem(ValueError):
    """An export item that cannot become a document (malformed, or without ids)."""


def merge_partial(into: PartialDocument, part: Mapping[str, Any]) -> PartialDocument:
    """`part` merged into `into` the way a partial update merges into the stored document."""
    for key, value in part.items():
        current = into.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge_partial(current, value)
        else:
            into[key] = dict(value) if isinstance(value, Mapping) else value
    return into


def _event(raw: Any, message: type[M]) -> M:
    if not isinstance(raw, dict):
        raise UnusableExportItem(f"{message.DESCRIPTOR.name} is not an object")
    try:
        # A field newer than this service is ignored, as a consumer's decoder would ignore it.
        return json_format.ParseDict(raw, message(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise UnusableExportItem(f"{message.DESCRIPTOR.name}: {exc}") from exc


PARTS: tuple[tuple[str, type[Message], Callable[[Any], PartialDocument]], ...] = (
    ("tagged", images_pb2.ImageTagged, tagged_document),
    ("text_extracted", images_pb2.TextExtracted, text_document),
)


def exported_document(item: Mapping[str, Any]) -> PartialDocument:
    """The document the consumers would have written for this record: every part it has, merged."""
    try:
        doc = uploaded_document(_event(item.get("uploaded"), images_pb2.ImageUploaded))
        for key, message, shape in PARTS:
            if item.get(key) is not None:
                merge_partial(doc, shape(_event(item[key], message)))
    except UnindexableEvent as exc:
        raise UnusableExportItem(str(exc)) from exc
    return doc


def carried_tombstone(source: Mapping[str, Any]) -> PartialDocument:
    """A tombstone of the old index, written again into the new one (content blanked, as the consumer does)."""
    event = images_pb2.ImageDeleted(image_id=str(source.get("image_id", "")), owner_id=str(source.get("owner_id", "")))
    deleted_at = source.get("deleted_at")
    if isinstance(deleted_at, str):
        with contextlib.suppress(ValueError):
            event.deleted_at.FromDatetime(datetime.fromisoformat(deleted_at))
    try:
        return tombstone_document(event)
    except UnindexableEvent as exc:
        raise UnusableExportItem(str(exc)) from exc
