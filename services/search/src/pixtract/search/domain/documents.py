"""Events to partial index documents.

Each event owns a disjoint set of fields, so the parts can arrive in any order and any
number of times and the document converges. A part never carries `deleted`: only the
tombstone sets it, and no later part can clear it. Values the mapping cannot take
(bad dates, out-of-range coordinates, unparseable totals) are dropped here, field by
field, so a bad value never fails the whole write.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from pixtract.events.v1 import common_pb2, images_pb2

PartialDocument = dict[str, Any]

MAX_ID_LENGTH = 256
MAX_TEXT_CHARS = 100_000
MAX_VALUE_CHARS = 256
MAX_LIST_ITEMS = 100
CURRENCY = re.compile(r"[A-Z]{3}")
DOCUMENT_TYPE = re.compile(r"[a-z_]{1,32}")

# Everything the image showed or said: blanked by the tombstone so a deleted image's content
# stops being indexed at once, not only hidden.
CONTENT_FIELDS = (
    "filename",
    "camera",
    "location",
    "labels",
    "label_parents",
    "categories",
    "colors",
    "faces",
    "text",
    "document_type",
    "receipt",
)


class UnindexableEvent(ValueError):
    """The event lacks what every document needs (image id, owner id): it can never be indexed."""


def _identity(image_id: str, owner_id: str) -> PartialDocument:
    if not image_id or not owner_id:
        raise UnindexableEvent("event without image id or owner id")
    if len(image_id) > MAX_ID_LENGTH or len(owner_id) > MAX_ID_LENGTH:
        raise UnindexableEvent("image id or owner id is too long")
    return {"image_id": image_id, "owner_id": owner_id}


def _timestamp(ts: Timestamp) -> str | None:
    try:
        return ts.ToDatetime(tzinfo=UTC).isoformat()
    except (ValueError, OverflowError):
        return None


def _clean(value: str, limit: int = MAX_VALUE_CHARS) -> str:
    return " ".join(value.split())[:limit]


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        cleaned = _clean(value)
        if cleaned:
            seen.setdefault(cleaned, None)
    return list(seen)[:MAX_LIST_ITEMS]


def _geo_point(lat: float, lon: float) -> dict[str, float] | None:
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    return {"lat": lat, "lon": lon}


def _camera(camera: common_pb2.Camera) -> dict[str, str]:
    return {name: value for name, value in (("make", _clean(camera.make)), ("model", _clean(camera.model))) if value}


def uploaded_document(event: images_pb2.ImageUploaded) -> PartialDocument:
    doc = _identity(event.image_id, event.owner_id)
    if filename := _clean(event.filename):
        doc["filename"] = filename
    if content_type := _clean(event.content_type):
        doc["content_type"] = content_type
    uploaded_at = _timestamp(event.uploaded_at) if event.HasField("uploaded_at") else None
    taken_at = _timestamp(event.taken_at) if event.HasField("taken_at") else None
    if uploaded_at:
        doc["uploaded_at"] = uploaded_at
    if taken_at:
        doc["taken_at"] = taken_at
    if effective := taken_at or uploaded_at:
        doc["effective_date"] = effective
    if event.HasField("camera") and (camera := _camera(event.camera)):
        doc["camera"] = camera
    if event.HasField("gps") and (point := _geo_point(event.gps.lat, event.gps.lon)):
        doc["location"] = {"point": point}
    return doc


def tagged_document(event: images_pb2.ImageTagged) -> PartialDocument:
    doc = _identity(event.image_id, event.owner_id)
    doc["labels"] = _unique(label.name for label in event.labels)
    doc["label_parents"] = _unique(parent for label in event.labels for parent in label.parents)
    doc["categories"] = _unique(event.categories)
    doc["colors"] = _unique(color.name for color in event.colors)
    doc["faces"] = max(0, event.faces)
    if event.HasField("location"):
        # Place and country always (null when unknown) so a re-run replaces them; the point only
        # when valid, as the upload's GPS may have set it already.
        location: dict[str, Any] = {
            "place": _clean(event.location.place) or None,
            "country": _clean(event.location.country) or None,
        }
        if point := _geo_point(event.location.lat, event.location.lon):
            location["point"] = point
        doc["location"] = location
    if model_version := _clean(event.model_version):
        doc["model_versions"] = {"tagging": model_version}
    return doc


def _amount(raw: str) -> float | None:
    """Totals written "12.50", "1,234.50", "12,50" or "1.234,50"; anything else is not a total."""
    text = raw.strip().replace(" ", "").replace("_", "")
    decimal_comma = text.rfind(",") > text.rfind(".") and (text.count(",") == 1 or "." in text)
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) < 1e12 else None


def _calendar_date(raw: str) -> str | None:
    try:
        return date.fromisoformat(raw.strip()[:10]).isoformat()
    except ValueError:
        return None


def _receipt(fields: dict[str, str]) -> dict[str, Any]:
    """Every key, null when unknown: a partial update merges objects, so a missing key would keep a stale value."""
    currency = fields.get("currency", "").strip().upper()
    return {
        "vendor": _clean(fields.get("vendor", "")) or None,
        "total": _amount(fields.get("total", "")),
        "currency": currency if CURRENCY.fullmatch(currency) else None,
        "date": _calendar_date(fields.get("date", "")),
    }


def text_document(event: images_pb2.TextExtracted) -> PartialDocument:
    doc = _identity(event.image_id, event.owner_id)
    doc["text"] = event.content[:MAX_TEXT_CHARS]
    document_type = event.document_type.strip().lower() or "none"
    doc["document_type"] = document_type if DOCUMENT_TYPE.fullmatch(document_type) else "other"
    # Always written: a re-run that finds no receipt must not keep the old one's fields.
    doc["receipt"] = _receipt(dict(event.fields))
    if model_version := _clean(event.model_version):
        doc["model_versions"] = {"ocr": model_version}
    return doc


def deleted_owner_marker_id(owner_id: str) -> str:
    return f"deleted-user:{owner_id}"


def deleted_owner_marker(owner_id: str) -> PartialDocument:
    """A tombstone for a whole user: results still in flight when the user was purged are
    dropped instead of bringing documents back. It is filed under its own id as owner, so no
    query or purge of the user ever sees it; hidden from every query like any tombstone."""
    marker_id = deleted_owner_marker_id(owner_id)
    doc = _identity(marker_id, marker_id)
    doc["deleted"] = True
    doc["deleted_at"] = datetime.now(UTC).isoformat()
    return doc


def tombstone_document(event: images_pb2.ImageDeleted) -> PartialDocument:
    doc = _identity(event.image_id, event.owner_id)
    doc["deleted"] = True
    deleted_at = _timestamp(event.deleted_at) if event.HasField("deleted_at") else None
    doc["deleted_at"] = deleted_at or datetime.now(UTC).isoformat()
    doc.update(dict.fromkeys(CONTENT_FIELDS))
    return doc
