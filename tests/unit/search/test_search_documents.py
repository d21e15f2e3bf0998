"""Events to partial documents: disjoint parts, bad values dropped field by field, tombstones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from pixtract.events.v1 import common_pb2, images_pb2
from pixtract.search.domain.documents import (
    CONTENT_FIELDS,
    UnindexableEvent,
    tagged_document,
    text_document,
    tombstone_document,
    uploaded_document,
)
from pixtract.search.domain.mapping import PROPERTIES


def _ts(moment: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(moment)
    return ts


def _uploaded(**fields: Any) -> images_pb2.ImageUploaded:
    base: dict[str, Any] = {"image_id": "img-1", "owner_id": "user-1", "filename": "IMG_0001.JPG"}
    return images_pb2.ImageUploaded(**{**base, **fields})


def test_an_upload_gives_the_base_fields() -> None:
    event = _uploaded(
        content_type="image/jpeg",
        uploaded_at=_ts(datetime(2024, 5, 2, 9, 0, tzinfo=UTC)),
        taken_at=_ts(datetime(2023, 8, 14, 18, 30, tzinfo=UTC)),
        camera=common_pb2.Camera(make="Apple", model="iPhone 12"),
        gps=common_pb2.GeoPoint(lat=48.8584, lon=2.2945),
    )
    assert uploaded_document(event) == {
        "image_id": "img-1",
        "owner_id": "user-1",
        "filename": "IMG_0001.JPG",
        "content_type": "image/jpeg",
        "uploaded_at": "2024-05-02T09:00:00+00:00",
        "taken_at": "2023-08-14T18:30:00+00:00",
        "effective_date": "2023-08-14T18:30:00+00:00",
        "camera": {"make": "Apple", "model": "iPhone 12"},
        "location": {"point": {"lat": pytest.approx(48.8584), "lon": pytest.approx(2.2945)}},
    }


def test_without_a_capture_time_the_upload_time_dates_the_image() -> None:
    doc = uploaded_document(_uploaded(uploaded_at=_ts(datetime(2024, 5, 2, tzinfo=UTC))))
    assert "taken_at" not in doc
    assert doc["effective_date"] == "2024-05-02T00:00:00+00:00"


def test_impossible_values_are_dropped_not_sent() -> None:
    event = _uploaded(
        gps=common_pb2.GeoPoint(lat=123.0, lon=2.0),
        camera=common_pb2.Camera(make="  ", model=""),
        taken_at=Timestamp(seconds=10**13),  # far beyond year 9999
    )
    doc = uploaded_document(event)
    assert "location" not in doc
    assert "camera" not in doc
    assert "taken_at" not in doc


@pytest.mark.parametrize("ids", [{"image_id": ""}, {"owner_id": ""}, {"image_id": "x" * 300}])
def test_an_event_without_identity_cannot_be_indexed(ids: dict[str, str]) -> None:
    with pytest.raises(UnindexableEvent):
        uploaded_document(_uploaded(**ids))


def _tagged(**fields: Any) -> images_pb2.ImageTagged:
    base: dict[str, Any] = {"image_id": "img-1", "owner_id": "user-1", "model_version": "effnet-lite0@1"}
    return images_pb2.ImageTagged(**{**base, **fields})


def test_tagging_gives_labels_parents_categories_colours_faces_and_place() -> None:
    event = _tagged(
        labels=[
            images_pb2.Label(name="golden retriever", confidence=0.9, parents=["retriever", "dog", "animal"]),
            images_pb2.Label(name="tennis ball", confidence=0.3, parents=["ball", "animal"]),
            images_pb2.Label(name="golden retriever", confidence=0.2),
        ],
        categories=["Animals", "Animals", " Sport "],
        colors=[images_pb2.Color(name="gold", hex="#d4af37", fraction=0.4)],
        faces=2,
        location=images_pb2.Place(lat=48.85, lon=2.35, place="Paris", country=""),
    )
    doc = tagged_document(event)
    assert doc["labels"] == ["golden retriever", "tennis ball"]
    assert doc["label_parents"] == ["retriever", "dog", "animal", "ball"]
    assert doc["categories"] == ["Animals", "Sport"]
    assert doc["colors"] == ["gold"]
    assert doc["faces"] == 2
    # The country is written as null so a re-run replaces a stale one.
    assert doc["location"] == {
        "place": "Paris",
        "country": None,
        "point": {"lat": pytest.approx(48.85), "lon": pytest.approx(2.35)},
    }
    assert doc["model_versions"] == {"tagging": "effnet-lite0@1"}


def test_tagging_without_a_location_leaves_the_uploads_point_alone() -> None:
    assert "location" not in tagged_document(_tagged(labels=[images_pb2.Label(name="cat")]))


def _text(**fields: Any) -> images_pb2.TextExtracted:
    base: dict[str, Any] = {"image_id": "img-1", "owner_id": "user-1", "model_version": "ppocr-v4"}
    return images_pb2.TextExtracted(**{**base, **fields})


def test_ocr_gives_text_type_and_receipt_fields() -> None:
    event = _text(
        content="CORNER SHOP\nReceipt\nTotal 12.50",
        document_type="Receipt",
        fields={"vendor": " Corner  Shop ", "total": "1,212.50", "currency": "eur", "date": "2024-03-09"},
    )
    doc = text_document(event)
    assert doc["text"] == "CORNER SHOP\nReceipt\nTotal 12.50"
    assert doc["document_type"] == "receipt"
    assert doc["receipt"] == {"vendor": "Corner Shop", "total": 1212.5, "currency": "EUR", "date": "2024-03-09"}
    assert doc["model_versions"] == {"ocr": "ppocr-v4"}


@pytest.mark.parametrize(
    ("fields", "receipt"),
    [
        ({"total": "12,50"}, {"total": 12.5}),
        ({"total": "1.234,50"}, {"total": 1234.5}),
        ({"total": "1,234,567"}, {"total": 1234567.0}),
        ({"total": "twelve", "currency": "€", "date": "09/03/2024"}, {}),
        ({"total": "1e400"}, {}),
        ({"total": "nan"}, {}),
        ({"date": "2024-03-09T10:11:12Z"}, {"date": "2024-03-09"}),
        ({"unknown": "kept out of the index"}, {}),
    ],
)
def test_receipt_fields_are_parsed_or_nulled(fields: dict[str, str], receipt: dict[str, Any]) -> None:
    doc = text_document(_text(content="x", document_type="receipt", fields=fields))
    expected = {"vendor": None, "total": None, "currency": None, "date": None, **receipt}
    assert doc["receipt"] == expected


def test_a_strange_document_type_becomes_other_and_a_missing_one_none() -> None:
    assert text_document(_text(document_type="<script>"))["document_type"] == "other"
    assert text_document(_text(document_type=""))["document_type"] == "none"


def test_a_tombstone_hides_and_blanks_the_image() -> None:
    event = images_pb2.ImageDeleted(
        image_id="img-1", owner_id="user-1", deleted_at=_ts(datetime(2024, 6, 1, tzinfo=UTC))
    )
    doc = tombstone_document(event)
    assert doc["deleted"] is True
    assert doc["deleted_at"] == "2024-06-01T00:00:00+00:00"
    assert all(doc[name] is None for name in CONTENT_FIELDS)
    assert {doc["image_id"], doc["owner_id"]} == {"img-1", "user-1"}


def test_no_part_can_clear_the_tombstone() -> None:
    parts = [
        uploaded_document(_uploaded()),
        tagged_document(_tagged()),
        text_document(_text(content="receipt")),
    ]
    assert all("deleted" not in part and "deleted_at" not in part for part in parts)


def test_the_parts_write_disjoint_fields_except_identity_and_location() -> None:
    upload = set(uploaded_document(_uploaded(gps=common_pb2.GeoPoint(lat=1, lon=1))))
    tagging = set(tagged_document(_tagged(location=images_pb2.Place(place="Paris"))))
    ocr = set(text_document(_text()))
    identity = {"image_id", "owner_id"}
    assert (upload & tagging) - identity == {"location"}
    assert (upload & ocr) - identity == set()
    # model_versions is an object: each part writes its own key inside it.
    assert (tagging & ocr) - identity == {"model_versions"}


def test_every_field_a_part_writes_is_mapped() -> None:
    event = _uploaded(uploaded_at=_ts(datetime(2024, 1, 1, tzinfo=UTC)), camera=common_pb2.Camera(make="x"))
    parts = [uploaded_document(event), tagged_document(_tagged()), text_document(_text())]
    parts.append(tombstone_document(images_pb2.ImageDeleted(image_id="i", owner_id="o")))
    assert all(set(part) <= set(PROPERTIES) for part in parts)
