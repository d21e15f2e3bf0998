"""Response models of the Images API (API.md), built from image records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pixtract.upload.domain.pipeline import ImageState, Stage, StageStatus
from pixtract.upload.domain.records import ImageDocument, local_taken_at


class ImageSummaryOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    state: ImageState
    uploaded_at: datetime

    @classmethod
    def from_document(cls, document: ImageDocument) -> ImageSummaryOut:
        return cls(**_summary_fields(document))


def _summary_fields(document: ImageDocument) -> dict[str, Any]:
    return {
        "id": document["_id"],
        "filename": document["filename"],
        "content_type": document["content_type"],
        "size": document["size"],
        "sha256": document["sha256"],
        "state": document["state"],
        "uploaded_at": document["uploaded_at"],
    }


class UploadedImageOut(ImageSummaryOut):
    # True when this user already had these exact bytes: the existing image is returned.
    duplicate: bool


class UploadOut(BaseModel):
    images: list[UploadedImageOut]


class ImageListOut(BaseModel):
    items: list[ImageSummaryOut]
    next_cursor: str | None


class StagesOut(BaseModel):
    tagging: StageStatus
    ocr: StageStatus
    search: StageStatus


class LabelOut(BaseModel):
    name: str
    confidence: float
    parents: list[str]


class ColorOut(BaseModel):
    name: str
    hex: str
    fraction: float


class LocationOut(BaseModel):
    lat: float
    lon: float
    place: str | None
    country: str | None
    # Extension of API.md: the state, province or county of the place.
    region: str | None = None


class FaceBoxOut(BaseModel):
    box: list[float]
    confidence: float


class CameraOut(BaseModel):
    make: str
    model: str


class TextLineOut(BaseModel):
    text: str
    confidence: float
    box: list[float]


class LineItemOut(BaseModel):
    description: str
    amount: str


class KeyValueOut(BaseModel):
    key: str
    value: str


class TextOut(BaseModel):
    content: str
    document_type: str
    fields: dict[str, str]
    lines: list[TextLineOut]
    # Extensions of API.md (docs/design.md); absent from records stored before them.
    language: str | None = None
    items: list[LineItemOut] = []
    key_values: list[KeyValueOut] = []


class FailureOut(BaseModel):
    stage: Stage
    reason: str


NO_TEXT = TextOut(content="", document_type="none", fields={}, lines=[])


class ImageOut(ImageSummaryOut):
    """One image with everything known about it; every key is always present.

    - `width`/`height` are as displayed (EXIF orientation applied, like the thumbnails).
    - `taken_at` is in the camera's own UTC offset when EXIF gave one, else in UTC.
    - `location` is the tagging service's place; until then the EXIF GPS position with
      `place` and `country` null; null when the image has no position.
    - `camera` is null when EXIF names no make or model.
    - `text` is never null: before OCR (and for images without text) it is the empty text
      `{"content": "", "document_type": "none", "fields": {}, "lines": [], "language": null,
      "items": [], "key_values": []}`; `stages.ocr`
      tells whether OCR has run.
    - `failure` (an extension of API.md) names the stage and reason when `state` is `failed`.
    - `face_boxes` and `duplicates_of` (extensions of API.md): a box per counted face in
      displayed pixels `[x0, y0, x1, y1]`, and the ids of the caller's earlier images this
      one is a near-duplicate of.
    """

    width: int | None
    height: int | None
    taken_at: datetime | None
    stages: StagesOut
    labels: list[LabelOut]
    categories: list[str]
    faces: int
    colors: list[ColorOut]
    location: LocationOut | None
    camera: CameraOut | None
    text: TextOut
    failure: FailureOut | None
    face_boxes: list[FaceBoxOut]
    duplicates_of: list[str]

    @classmethod
    def from_document(cls, document: ImageDocument) -> ImageOut:
        stages = document.get("stages", {})
        location = document.get("location")
        if location is None and (gps := document.get("gps")) is not None:
            location = {"lat": gps["lat"], "lon": gps["lon"], "place": None, "country": None}
        text = document.get("text")
        camera = document.get("camera")
        failure = document.get("failure")
        return cls(
            **_summary_fields(document),
            width=document.get("width"),
            height=document.get("height"),
            taken_at=local_taken_at(document),
            stages=StagesOut.model_validate({stage.value: stages.get(stage.value, "pending") for stage in Stage}),
            labels=[LabelOut(**label) for label in document.get("labels", [])],
            categories=document.get("categories", []),
            faces=document.get("faces", 0),
            colors=[ColorOut(**color) for color in document.get("colors", [])],
            location=LocationOut.model_validate(location) if location is not None else None,
            camera=CameraOut(**camera) if camera else None,
            text=TextOut(**text) if text is not None else NO_TEXT,
            failure=FailureOut.model_validate(failure) if failure else None,
            face_boxes=[FaceBoxOut(**face) for face in document.get("face_boxes", [])],
            duplicates_of=document.get("duplicates_of", []),
        )
