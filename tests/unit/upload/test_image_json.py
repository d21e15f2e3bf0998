"""The image record as the API shows it, and the ImageUploaded event built from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pixtract.upload.api.models import ImageListOut, ImageOut, ImageSummaryOut, UploadedImageOut
from pixtract.upload.domain import formats
from pixtract.upload.domain.exif import Camera, GeoPoint, PhotoMetadata
from pixtract.upload.domain.inspection import InspectedImage
from pixtract.upload.domain.records import ImageDocument, image_uploaded_event, new_image_document

UPLOADED_AT = datetime(2026, 11, 28, 9, 0, 0, 123000, tzinfo=UTC)
SUMMARY_KEYS = {"id", "filename", "content_type", "size", "sha256", "state", "uploaded_at"}
IMAGE_KEYS = SUMMARY_KEYS | {
    "width", "height", "taken_at", "stages", "labels", "categories", "faces", "colors",
    "location", "camera", "text", "failure", "face_boxes", "duplicates_of",
}  # fmt: skip


def _document(metadata: PhotoMetadata | None = None) -> ImageDocument:
    return new_image_document(
        image_id="a" * 32,
        owner_id="user-1",
        filename="cat.jpg",
        size=1234,
        sha256="b" * 64,
        inspected=InspectedImage(formats.JPEG, 640, 480, metadata or PhotoMetadata(), {}),
        original={"bucket": "media", "key": f"originals/user-1/{'a' * 32}"},
        thumbnails={},
        uploaded_at=UPLOADED_AT,
    )


def _json(document: ImageDocument) -> dict[str, Any]:
    return ImageOut.from_document(document).model_dump(mode="json")


def test_a_new_image_shows_every_key_with_nulls_and_the_empty_text() -> None:
    body = _json(_document())
    assert set(body) == IMAGE_KEYS
    assert body == {
        "id": "a" * 32,
        "filename": "cat.jpg",
        "content_type": "image/jpeg",
        "size": 1234,
        "sha256": "b" * 64,
        "state": "processing",
        "uploaded_at": "2026-11-28T09:00:00.123000Z",
        "width": 640,
        "height": 480,
        "taken_at": None,
        "stages": {"tagging": "pending", "ocr": "pending", "search": "pending"},
        "labels": [],
        "categories": [],
        "faces": 0,
        "colors": [],
        "location": None,
        "camera": None,
        "text": {
            "content": "",
            "document_type": "none",
            "fields": {},
            "lines": [],
            "language": None,
            "items": [],
            "key_values": [],
        },
        "failure": None,
        "face_boxes": [],
        "duplicates_of": [],
    }


def test_exif_metadata_shows_in_the_cameras_offset_and_gps_as_a_location_without_place() -> None:
    taken = datetime(2024, 7, 14, 18, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    document = _document(PhotoMetadata(6, taken, Camera("Canon", "EOS R6"), GeoPoint(-33.865125, 151.2099917)))
    assert document["taken_at"] == datetime(2024, 7, 14, 16, 30, 5, tzinfo=UTC)
    body = _json(document)
    assert body["taken_at"] == "2024-07-14T18:30:05+02:00"
    assert body["camera"] == {"make": "Canon", "model": "EOS R6"}
    assert body["location"] == {"lat": -33.865125, "lon": 151.2099917, "place": None, "country": None, "region": None}


def test_merged_results_show_as_the_api_describes_them() -> None:
    document = _document(PhotoMetadata(gps=GeoPoint(1.0, 2.0)))
    document.update(
        {
            "state": "ready",
            "stages": {"tagging": "done", "ocr": "done", "search": "done"},
            "labels": [{"name": "tabby", "confidence": 0.91, "parents": ["cat", "feline"]}],
            "categories": ["animals"],
            "faces": 2,
            "colors": [{"name": "orange", "hex": "#ff8800", "fraction": 0.6}],
            "location": {"lat": 48.85, "lon": 2.35, "place": "Paris", "country": "FR"},
            "text": {
                "content": "hi",
                "document_type": "note",
                "fields": {},
                "lines": [{"text": "hi", "confidence": 0.9, "box": [0, 0, 5, 5]}],
            },
        }
    )
    body = _json(document)
    assert body["state"] == "ready"
    assert body["labels"] == [{"name": "tabby", "confidence": 0.91, "parents": ["cat", "feline"]}]
    assert body["location"]["place"] == "Paris"  # the geocoded place wins over raw GPS
    assert body["text"]["lines"] == [{"text": "hi", "confidence": 0.9, "box": [0.0, 0.0, 5.0, 5.0]}]


def test_a_failed_image_names_the_stage_and_reason() -> None:
    document = _document()
    document.update(
        {"state": "failed", "stages": {"tagging": "failed"}, "failure": {"stage": "tagging", "reason": "timed out"}}
    )
    body = _json(document)
    assert body["stages"] == {"tagging": "failed", "ocr": "pending", "search": "pending"}
    assert body["failure"] == {"stage": "tagging", "reason": "timed out"}


def test_summaries_and_listings_carry_only_summary_keys() -> None:
    summary = ImageSummaryOut.from_document(_document()).model_dump(mode="json")
    assert set(summary) == SUMMARY_KEYS
    uploaded = UploadedImageOut(**ImageSummaryOut.from_document(_document()).model_dump(), duplicate=True)
    assert uploaded.model_dump(mode="json") == {**summary, "duplicate": True}
    listing = ImageListOut(items=[ImageSummaryOut.from_document(_document())], next_cursor=None)
    assert listing.model_dump(mode="json") == {"items": [summary], "next_cursor": None}


def test_image_uploaded_carries_references_and_metadata_never_bytes() -> None:
    taken = datetime(2024, 7, 14, 18, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    document = _document(PhotoMetadata(6, taken, Camera("Canon", "EOS R6"), GeoPoint(10.5, -20.25)))
    event = image_uploaded_event(document, attempt=3)
    assert (event.image_id, event.owner_id, event.attempt) == ("a" * 32, "user-1", 3)
    assert (event.original.bucket, event.original.key) == ("media", f"originals/user-1/{'a' * 32}")
    assert (event.filename, event.content_type, event.size, event.sha256) == ("cat.jpg", "image/jpeg", 1234, "b" * 64)
    assert (event.width, event.height, event.orientation) == (640, 480, 6)
    assert event.uploaded_at.ToDatetime(tzinfo=UTC) == UPLOADED_AT
    assert event.taken_at.ToDatetime(tzinfo=UTC) == taken
    assert (event.camera.make, event.camera.model) == ("Canon", "EOS R6")
    assert (event.gps.lat, event.gps.lon) == (10.5, -20.25)
    bare = image_uploaded_event(_document(), attempt=1)
    assert not bare.HasField("taken_at")
    assert not bare.HasField("camera")
    assert not bare.HasField("gps")
