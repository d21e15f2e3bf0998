"""The image record: what the upload service stores about one image (Mongo db `media`).

One document per image holds the upload facts, the merged results of tagging and OCR, the
pipeline facts (`stages`, `indexed`, `state`), the bookkeeping of re-emission, and the
outbox of events not yet published. `deleted` marks a record on its way out: it is hidden
at once and purged after its `ImageDeleted` event was published.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypedDict

from pixtract.events.v1 import common_pb2, images_pb2
from pixtract.upload.domain.inspection import InspectedImage, ThumbnailSize
from pixtract.upload.domain.outbox import OutboxEntry
from pixtract.upload.domain.pipeline import (
    ImageState,
    IndexedPart,
    PipelineStatus,
    Stage,
    StageStatus,
    pipeline_status,
)

_INDEXED_PART_VALUES = frozenset(part.value for part in IndexedPart)


class ObjectRefDocument(TypedDict):
    bucket: str
    key: str


class ThumbnailDocument(TypedDict):
    key: str
    etag: str
    width: int
    height: int
    size: int


class CameraDocument(TypedDict):
    make: str
    model: str


class GeoPointDocument(TypedDict):
    lat: float
    lon: float


class FailureDocument(TypedDict):
    stage: str
    reason: str


class ImageDocument(TypedDict, total=False):
    _id: str
    owner_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    # As displayed (EXIF orientation applied).
    width: int | None
    height: int | None
    orientation: int
    # The instant in UTC (Mongo keeps no offset) and the camera's UTC offset to show it in.
    taken_at: datetime | None
    taken_at_offset_minutes: int | None
    camera: CameraDocument | None
    gps: GeoPointDocument | None
    original: ObjectRefDocument
    thumbnails: dict[str, ThumbnailDocument]
    state: str
    stages: dict[str, str]
    indexed: list[str]
    failure: FailureDocument | None
    labels: list[dict[str, Any]]
    categories: list[str]
    faces: int
    colors: list[dict[str, Any]]
    location: dict[str, Any] | None
    phash: str
    # Absent on records tagged before they existed.
    face_boxes: list[dict[str, Any]]
    duplicates_of: list[str]
    text: dict[str, Any] | None
    model_versions: dict[str, str]
    # When each result was produced, so an older result arriving late never replaces a newer one.
    result_times: dict[str, datetime]
    # How many times ImageUploaded was emitted, and when last.
    attempt: int
    emitted_at: datetime
    # Bumped by every pipeline fact update; the state is written back only if unchanged since.
    revision: int
    deleted: bool
    deleted_at: datetime | None
    outbox: list[OutboxEntry]


def new_image_id() -> str:
    return uuid.uuid4().hex


def original_key(owner_id: str, image_id: str) -> str:
    return f"originals/{owner_id}/{image_id}"


def thumbnail_key(owner_id: str, image_id: str, size: ThumbnailSize) -> str:
    return f"thumbs/{owner_id}/{image_id}/{size.value}.webp"


def user_prefixes(owner_id: str) -> tuple[str, str, str]:
    """Every object key of a user starts with one of these (uploads/: resumable uploads' segments)."""
    return f"originals/{owner_id}/", f"thumbs/{owner_id}/", f"uploads/{owner_id}/"


def image_keys(document: ImageDocument) -> list[str]:
    """The object keys an image owns: its original and its thumbnails."""
    return [document["original"]["key"], *(thumb["key"] for thumb in document.get("thumbnails", {}).values())]


def now_millis() -> datetime:
    """Now, at the millisecond precision Mongo stores, so cursors built from it stay exact."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def new_image_document(
    *,
    image_id: str,
    owner_id: str,
    filename: str,
    size: int,
    sha256: str,
    inspected: InspectedImage,
    original: ObjectRefDocument,
    thumbnails: dict[str, ThumbnailDocument],
    uploaded_at: datetime,
) -> ImageDocument:
    """The record of a just-stored image, before its ImageUploaded entry is added to the outbox."""
    meta = inspected.metadata
    offset = meta.taken_at.utcoffset() if meta.taken_at is not None else None
    return {
        "_id": image_id,
        "owner_id": owner_id,
        "filename": filename,
        "content_type": inspected.file_type.media_type,
        "size": size,
        "sha256": sha256,
        "uploaded_at": uploaded_at,
        "width": inspected.width,
        "height": inspected.height,
        "orientation": meta.orientation,
        "taken_at": meta.taken_at.astimezone(UTC) if meta.taken_at is not None else None,
        "taken_at_offset_minutes": int(offset.total_seconds() // 60) if offset is not None else None,
        "camera": {"make": meta.camera.make, "model": meta.camera.model} if meta.camera else None,
        "gps": {"lat": meta.gps.lat, "lon": meta.gps.lon} if meta.gps else None,
        "original": original,
        "thumbnails": thumbnails,
        "state": ImageState.PROCESSING.value,
        "stages": {stage.value: StageStatus.PENDING.value for stage in Stage},
        "indexed": [],
        "failure": None,
        "labels": [],
        "categories": [],
        "faces": 0,
        "colors": [],
        "location": None,
        "phash": "",
        "text": None,
        "model_versions": {},
        "result_times": {},
        "attempt": 1,
        "emitted_at": uploaded_at,
        "revision": 0,
        "deleted": False,
        "deleted_at": None,
        "outbox": [],
    }


def local_taken_at(document: ImageDocument) -> datetime | None:
    """The capture time in the camera's own offset (UTC when it gave none)."""
    taken_at = document.get("taken_at")
    if taken_at is None:
        return None
    offset = document.get("taken_at_offset_minutes")
    zone = timezone(timedelta(minutes=offset)) if offset else UTC
    return taken_at.astimezone(zone)


def image_uploaded_event(document: ImageDocument, *, attempt: int) -> images_pb2.ImageUploaded:
    event = images_pb2.ImageUploaded(
        image_id=document["_id"],
        owner_id=document["owner_id"],
        original=common_pb2.ObjectRef(bucket=document["original"]["bucket"], key=document["original"]["key"]),
        filename=document["filename"],
        content_type=document["content_type"],
        size=document["size"],
        sha256=document["sha256"],
        width=document.get("width") or 0,
        height=document.get("height") or 0,
        orientation=document.get("orientation", 0),
        attempt=attempt,
    )
    event.uploaded_at.FromDatetime(document["uploaded_at"])
    if (taken_at := document.get("taken_at")) is not None:
        event.taken_at.FromDatetime(taken_at)
    if camera := document.get("camera"):
        event.camera.make = camera["make"]
        event.camera.model = camera["model"]
    if gps := document.get("gps"):
        event.gps.lat = gps["lat"]
        event.gps.lon = gps["lon"]
    return event


def image_deleted_event(image_id: str, owner_id: str, deleted_at: datetime) -> images_pb2.ImageDeleted:
    event = images_pb2.ImageDeleted(image_id=image_id, owner_id=owner_id)
    event.deleted_at.FromDatetime(deleted_at)
    return event


def stored_pipeline_status(document: ImageDocument) -> PipelineStatus:
    """The stored state and stage statuses, as they are (not recomputed)."""
    stages = document.get("stages", {})
    return PipelineStatus(
        ImageState(document.get("state", ImageState.PROCESSING.value)),
        {stage: StageStatus(stages.get(stage.value, StageStatus.PENDING.value)) for stage in Stage},
    )


def computed_pipeline_status(document: ImageDocument) -> PipelineStatus:
    """The state and stage statuses that the record's facts amount to."""
    stored = stored_pipeline_status(document)
    parts = {IndexedPart(part) for part in document.get("indexed", []) if part in _INDEXED_PART_VALUES}
    return pipeline_status(stored.stages, parts)
