"""The internal export: a stored record given back as the events that built it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import pytest
from google.protobuf import json_format

from pixtract.events.v1 import images_pb2
from pixtract.upload.domain.export import (
    TAGGED_FIELDS_NOT_EXPORTED,
    TEXT_FIELDS_NOT_EXPORTED,
    MalformedExportCursor,
    decode_export_cursor,
    encode_export_cursor,
    export_item,
    tagged_event,
    text_event,
)
from pixtract.upload.domain.records import ImageDocument
from pixtract.upload.domain.results import StageResult, tagging_result, text_result

UPLOADED_AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TAGGED_AT = datetime(2026, 3, 1, 12, 0, 2, tzinfo=UTC)
EXTRACTED_AT = datetime(2026, 3, 1, 12, 0, 3, tzinfo=UTC)


def _record() -> ImageDocument:
    return cast(
        ImageDocument,
        {
            "_id": "img-1",
            "owner_id": "alice",
            "filename": "IMG_0001.JPG",
            "content_type": "image/jpeg",
            "size": 12345,
            "sha256": "ab" * 32,
            "uploaded_at": UPLOADED_AT,
            "width": 640,
            "height": 480,
            "orientation": 1,
            "taken_at": datetime(2023, 8, 14, 18, 30, tzinfo=UTC),
            "camera": {"make": "Canon", "model": "EOS 5D"},
            "gps": {"lat": 48.85, "lon": 2.35},
            "original": {"bucket": "media", "key": "originals/alice/img-1"},
            "stages": {"tagging": "pending", "ocr": "pending", "search": "pending"},
            "indexed": ["upload"],
            "labels": [],
            "categories": [],
            "faces": 0,
            "colors": [],
            "location": None,
            "phash": "",
            "text": None,
            "model_versions": {},
            "result_times": {},
            "attempt": 2,
        },
    )


def _store(record: ImageDocument, stage: str, result: StageResult) -> None:
    """What the repository's record_result does to the record."""
    data = cast(dict[str, Any], record)
    data.update(result.fields)
    data["stages"][stage] = "done"
    data["model_versions"][stage] = result.model_version
    data["result_times"][stage] = result.produced_at


def _tagged() -> images_pb2.ImageTagged:
    event = images_pb2.ImageTagged(
        image_id="img-1", owner_id="alice", model_version="effnet-1", faces=2, phash="00ff00ff00ff00ff"
    )
    event.labels.add(name="tabby", confidence=0.9, parents=["cat", "feline"])
    event.categories.extend(["animals", "pets"])
    event.colors.add(name="orange", hex="#ff8800", fraction=0.25)
    event.location.CopyFrom(images_pb2.Place(lat=48.85, lon=2.35, place="Paris", country="France"))
    event.width, event.height = 640, 480
    event.tagged_at.FromDatetime(TAGGED_AT)
    return event


def _extracted() -> images_pb2.TextExtracted:
    event = images_pb2.TextExtracted(
        image_id="img-1",
        owner_id="alice",
        engine="rapidocr",
        model_version="ppocr-6",
        content="CORNER SHOP\nTOTAL 9.99",
        document_type="receipt",
        language="en",
    )
    event.fields.update({"vendor": "Corner Shop", "total": "9.99", "currency": "EUR"})
    event.lines.add(text="TOTAL 9.99", confidence=0.875, box=[1, 2, 3, 4])
    event.extracted_at.FromDatetime(EXTRACTED_AT)
    return event


def _without(message: Any, names: frozenset[str]) -> Any:
    copy = type(message)()
    copy.CopyFrom(message)
    for name in names:
        copy.ClearField(name)
    return copy


def test_a_result_is_exported_as_the_event_that_stored_it() -> None:
    record = _record()
    _store(record, "tagging", tagging_result(_tagged()))
    _store(record, "ocr", text_result(_extracted()))
    assert tagged_event(record) == _without(_tagged(), TAGGED_FIELDS_NOT_EXPORTED)
    assert text_event(record) == _without(_extracted(), TEXT_FIELDS_NOT_EXPORTED)


@pytest.mark.parametrize(
    ("event", "build", "skipped"),
    [
        (_tagged(), tagged_event, TAGGED_FIELDS_NOT_EXPORTED),
        (_extracted(), text_event, TEXT_FIELDS_NOT_EXPORTED),
    ],
)
def test_every_event_field_is_exported_or_declared_unneeded(event: Any, build: Any, skipped: frozenset[str]) -> None:
    # A field added to the event fails here until the record keeps it and the export re-emits
    # it, or it is declared something search never indexes.
    record = _record()
    _store(record, "tagging", tagging_result(_tagged()))
    _store(record, "ocr", text_result(_extracted()))
    exported = {field.name for field, _ in build(record).ListFields()}
    every = {field.name for field in event.DESCRIPTOR.fields}
    assert every - skipped - exported == set()


def test_results_are_exported_only_once_their_stage_is_done() -> None:
    record = _record()
    item = export_item(record)
    assert (item["tagged"], item["text_extracted"]) == (None, None)
    assert item["indexed"] == ["upload"]
    (uploaded := images_pb2.ImageUploaded()).CopyFrom(
        json_format.ParseDict(item["uploaded"], images_pb2.ImageUploaded())
    )
    assert (uploaded.image_id, uploaded.owner_id, uploaded.filename, uploaded.size) == (
        "img-1",
        "alice",
        "IMG_0001.JPG",
        12345,
    )
    assert uploaded.taken_at.ToDatetime(tzinfo=UTC) == datetime(2023, 8, 14, 18, 30, tzinfo=UTC)
    assert (uploaded.camera.make, uploaded.gps.lat, uploaded.attempt) == ("Canon", 48.85, 2)


def test_the_export_item_is_protobuf_json_that_parses_back() -> None:
    record = _record()
    _store(record, "tagging", tagging_result(_tagged()))
    _store(record, "ocr", text_result(_extracted()))
    item = export_item(record)
    tagged = json_format.ParseDict(item["tagged"], images_pb2.ImageTagged())
    text = json_format.ParseDict(item["text_extracted"], images_pb2.TextExtracted())
    assert [label.name for label in tagged.labels] == ["tabby"]
    assert dict(text.fields)["vendor"] == "Corner Shop"
    assert "lines" not in item["text_extracted"]


def test_cursors_round_trip_and_refuse_garbage() -> None:
    assert decode_export_cursor(encode_export_cursor("0a1b2c")) == "0a1b2c"
    for bad in ("", "!!!", "x" * 201, "_w"):
        with pytest.raises(MalformedExportCursor):
            decode_export_cursor(bad)


def test_without_an_internal_token_the_export_does_not_exist() -> None:
    from fastapi.testclient import TestClient

    from pixtract.upload.app import create_app
    from pixtract.upload.config import Settings

    client = TestClient(create_app(Settings()))  # no lifespan: the guard answers before any store is needed
    response = client.get("/internal/v1/images", headers={"Authorization": "Bearer anything-at-all-0123456789abcdef"})
    assert response.status_code == 404
    assert response.json()["detail"] == client.get("/internal/v1/no-such-thing").json()["detail"]
