"""Tagging and OCR events turned into the fields stored in the image record."""

from __future__ import annotations

from datetime import UTC, datetime

from pixtract.events.v1 import images_pb2
from pixtract.upload.domain.results import tagging_result, text_result


def test_tagging_results_are_stored_as_the_api_shows_them() -> None:
    event = images_pb2.ImageTagged(image_id="i", owner_id="o", model_version="effnet-1", faces=3, phash="00ff")
    event.labels.add(name="tabby", confidence=0.9, parents=["cat", "feline"])
    event.categories.extend(["animals", "pets", "animals"])
    event.colors.add(name="orange", hex="#ff8800", fraction=0.25)
    event.tagged_at.FromDatetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    result = tagging_result(event)
    assert result.fields == {
        "labels": [{"name": "tabby", "confidence": 0.9, "parents": ["cat", "feline"]}],
        "categories": ["animals", "pets"],
        "faces": 3,
        "colors": [{"name": "orange", "hex": "#ff8800", "fraction": 0.25}],
        "location": None,
        "phash": "00ff",
        "face_boxes": [],
        "duplicates_of": [],
    }
    assert result.model_version == "effnet-1"
    assert result.produced_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_geocoded_place_is_the_location_and_no_time_means_unordered() -> None:
    event = images_pb2.ImageTagged(image_id="i", owner_id="o")
    event.location.CopyFrom(images_pb2.Place(lat=1.5, lon=2.5, place="", country="FR"))
    result = tagging_result(event)
    assert result.fields["location"] == {
        "lat": 1.5,
        "lon": 2.5,
        "place": None,
        "country": "FR",
        "region": None,
        "country_code": None,
    }
    assert result.produced_at is None


def test_text_results_keep_lines_with_boxes_and_known_document_types() -> None:
    event = images_pb2.TextExtracted(image_id="i", owner_id="o", model_version="rapidocr-3", content="TOTAL 9.99")
    event.document_type = "receipt"
    event.fields["total"] = "9.99"
    event.lines.add(text="TOTAL 9.99", confidence=0.87, box=[1.234, 2, 3, 4.5678])
    result = text_result(event)
    assert result.fields == {
        "text": {
            "content": "TOTAL 9.99",
            "document_type": "receipt",
            "fields": {"total": "9.99"},
            "lines": [{"text": "TOTAL 9.99", "confidence": 0.87, "box": [1.23, 2.0, 3.0, 4.57]}],
            "language": None,
            "items": [],
            "key_values": [],
        }
    }
    assert result.model_version == "rapidocr-3"


def test_text_results_keep_language_line_items_and_key_values() -> None:
    event = images_pb2.TextExtracted(image_id="i", owner_id="o", content="Name: Jane", language="en")
    event.items.add(description="Cappuccino", amount="3.20")
    event.key_values.add(key="Name", value="Jane")
    event.evidence.append("form: 1 'Label: value' rows")
    text = text_result(event).fields["text"]
    assert text["language"] == "en"
    assert text["items"] == [{"description": "Cappuccino", "amount": "3.20"}]
    assert text["key_values"] == [{"key": "Name", "value": "Jane"}]
    assert "evidence" not in text  # for debugging in the event, not for users


def test_document_types_outside_the_api_read_as_other_or_none() -> None:
    screenshot = text_result(images_pb2.TextExtracted(content="Settings", document_type="screenshot"))
    assert screenshot.fields["text"]["document_type"] == "screenshot"
    invoice = text_result(images_pb2.TextExtracted(content="Invoice", document_type="invoice"))
    assert invoice.fields["text"]["document_type"] == "other"
    assert text_result(images_pb2.TextExtracted(content="", document_type="")).fields["text"]["document_type"] == "none"


def test_face_boxes_region_and_near_duplicates_are_kept() -> None:
    event = images_pb2.ImageTagged(image_id="i", owner_id="o", faces=1, duplicates_of=["a", "b", "a"])
    event.face_boxes.add(x0=10.04, y0=20, x1=110.26, y1=140, confidence=0.934567)
    event.location.CopyFrom(
        images_pb2.Place(lat=59.3, lon=18.1, place="Stockholm", region="Stockholm", country_code="SE")
    )
    fields = tagging_result(event).fields
    assert fields["face_boxes"] == [{"box": [10.0, 20.0, 110.3, 140.0], "confidence": 0.9346}]
    assert fields["duplicates_of"] == ["a", "b"]
    assert (fields["location"]["region"], fields["location"]["country_code"]) == ("Stockholm", "SE")
