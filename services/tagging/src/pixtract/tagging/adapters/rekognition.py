"""Optional: labels from AWS Rekognition DetectLabels instead of the local classifier.

Off unless `PIXTRACT_TAGGING_LABELS__PROVIDER=rekognition`; credentials come from the usual
AWS chain (environment, IAM role). Rekognition's labels arrive with their own parents and
percent confidences; they are mapped to the same schema as the local labels (lower-case
names, confidences 0-1, parents nearest first) so the same rules and categories apply, and
Rekognition's own categories ("Animals and Pets") become hypernyms the rules file knows.
Rekognition reads the bytes sent (at most 5 MB) or, for larger originals, the S3 object
itself, which only works when the originals live in AWS S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pixtract.tagging.domain.labels import Label, LabelRequest, LabelRules

MAX_BYTES = 5 * 1024 * 1024
# Rekognition's label categories → a hypernym that the rules file's categories list.
CATEGORY_HYPERNYMS: Mapping[str, str] = {
    "Animals and Pets": "animal",
    "Food and Beverage": "food",
    "Vehicles and Automotive": "vehicle",
    "Nature and Outdoors": "geological formation",
    "Plants and Flowers": "plant",
    "Buildings and Architecture": "building",
    "Popular Landmarks": "structure",
    "Text and Documents": "document",
}


class RekognitionClient(Protocol):
    async def detect_labels(self, **kwargs: Any) -> dict[str, Any]: ...


def labels_from_response(response: Mapping[str, Any], rules: LabelRules, *, top_k: int) -> list[Label]:
    """DetectLabels' answer in the tagging schema, best first, with the rules' renames and drops."""
    labels: list[Label] = []
    for raw in response.get("Labels", []):
        name = str(raw.get("Name", "")).strip().lower()
        if not name:
            continue
        parents = [str(p["Name"]).strip().lower() for p in raw.get("Parents", []) if p.get("Name")]
        for category in raw.get("Categories", []):
            hypernym = CATEGORY_HYPERNYMS.get(str(category.get("Name", "")))
            if hypernym is not None and hypernym not in parents and hypernym != name:
                parents.append(hypernym)
        rule = rules.labels.get(name)
        if rule is not None and rule.drop:
            continue
        confidence = round(float(raw.get("Confidence", 0.0)) / 100.0, 4)
        minimum = rules.floor if rule is None else max(rules.floor, rule.min_confidence or 0.0)
        if confidence < minimum:
            continue
        labels.append(Label((rule.name if rule and rule.name else name), confidence, tuple(parents)))
    unique: dict[str, Label] = {}
    for label in sorted(labels, key=lambda lb: -lb.confidence):
        unique.setdefault(label.name, label)
    return list(unique.values())[:top_k]


@dataclass
class RekognitionLabelSource:
    client: RekognitionClient
    rules: LabelRules
    max_labels: int = 20
    min_confidence: float = 60.0
    top_k: int = 10
    version: str = "rekognition-detectlabels-3"

    async def labels(self, request: LabelRequest) -> list[Label]:
        image: dict[str, Any]
        if len(request.data) <= MAX_BYTES:
            image = {"Bytes": request.data}
        else:
            image = {"S3Object": {"Bucket": request.bucket, "Name": request.key}}
        response = await self.client.detect_labels(
            Image=image, MaxLabels=self.max_labels, MinConfidence=self.min_confidence
        )
        return labels_from_response(response, self.rules, top_k=self.top_k)
