"""The optional Rekognition provider, against a DetectLabels response fixture (no AWS call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pixtract.tagging.adapters.rekognition import MAX_BYTES, RekognitionLabelSource, labels_from_response
from pixtract.tagging.consumers.results import RULES_PATH
from pixtract.tagging.domain.categories import categorise
from pixtract.tagging.domain.labels import Label, LabelRequest, LabelRules

RESPONSE = json.loads((Path(__file__).parent / "fixtures" / "rekognition_detect_labels.json").read_text())
RULES = LabelRules.load(RULES_PATH)


class RecordedRekognition:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def detect_labels(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return dict(RESPONSE)


def test_detect_labels_maps_to_the_same_schema_and_categories() -> None:
    labels = labels_from_response(RESPONSE, RULES, top_k=10)
    assert labels[:2] == [
        Label("cat", 0.9871, ("animal", "mammal", "pet")),
        Label("animal", 0.9871, ()),
    ]
    # "Text" is below the floor; names are lower-cased, so the rules apply as to local labels.
    assert [lb.name for lb in labels] == ["cat", "animal", "abyssinian", "window screen"]
    assert categorise(labels, 0, "", RULES).categories == ("Animals",)
    assert categorise(labels, 0, "", RULES).specific == ()


async def test_small_images_go_as_bytes_large_ones_as_the_s3_object() -> None:
    client = RecordedRekognition()
    source = RekognitionLabelSource(client, RULES, max_labels=15, min_confidence=55.0)
    labels = await source.labels(LabelRequest(None, b"jpeg bytes", "media", "originals/u/i"))
    assert labels[0].name == "cat"
    await source.labels(LabelRequest(None, b"x" * (MAX_BYTES + 1), "media", "originals/u/i"))
    assert client.calls[0] == {"Image": {"Bytes": b"jpeg bytes"}, "MaxLabels": 15, "MinConfidence": 55.0}
    assert client.calls[1]["Image"] == {"S3Object": {"Bucket": "media", "Name": "originals/u/i"}}
