"""OCR on decoded images: engine lines turned into Pixtract's text result.

Pure with respect to the network: takes image bytes, returns a result. The engine is a
Protocol so unit tests can run the post-processing with a plain fake.

Steps: decode (EXIF orientation, downscale huge pictures), optionally enlarge tiny ones and
deskew (both off by default: measured in bench/ocr.py), read lines, group them into rows
along their own slope (layout.py), then classify the document and read its fields. Every
box leaves here in original-image pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from pixtract.common.imaging import open_image
from pixtract.ocr.domain.classify import DocumentType, PictureFacts, classify
from pixtract.ocr.domain.forms import read_form
from pixtract.ocr.domain.language import detect_language
from pixtract.ocr.domain.layout import group_rows
from pixtract.ocr.domain.preprocess import estimate_skew, picture_facts, rotate, unrotate_point, upscale_small
from pixtract.ocr.domain.receipts import read_receipt
from pixtract.ocr.domain.text import KeyValue, LineItem, OcrLine, OcrResult, TextRow

__all__ = ["ENGINE_NAME", "LineEngine", "OcrLine", "OcrResult", "Preprocessing", "extract_text", "load_image"]

ENGINE_NAME = "rapidocr"


class LineEngine(Protocol):
    model_version: str

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]: ...


@dataclass(frozen=True)
class Preprocessing:
    """Pixel steps before the engine (chosen on the evaluation set: docs/design.md)."""

    # Pictures whose long side is shorter are enlarged to it (0: never).
    upscale_below: int = 0
    # Level the page by its projection profile before reading (the detector's own boxes
    # already follow small tilts, so this mostly costs time).
    deskew: bool = False


def load_image(data: bytes, *, max_pixels: int, max_side: int) -> tuple[NDArray[np.uint8], float]:
    """Decode, apply EXIF orientation, downscale; return RGB pixels and the scale applied.

    Raises pixtract.common.imaging.ImageRejected for unreadable bytes or too many pixels.
    """
    with open_image(data, max_pixels=max_pixels, draft_side=max_side) as image:
        oriented = image.upright().convert("RGB")
    scale = 1.0
    if max(oriented.size) > max_side:
        scale = max_side / max(oriented.size)
        oriented = oriented.resize(
            (round(oriented.width * scale), round(oriented.height * scale)), Image.Resampling.LANCZOS
        )
    return np.asarray(oriented, dtype=np.uint8), scale


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Rows top to bottom, each left to right (see layout.group_rows)."""
    return [line for row in group_rows(lines) for line in row]


def _read(engine: LineEngine, pixels: NDArray[np.uint8], preprocessing: Preprocessing) -> list[OcrLine]:
    """Engine lines in the coordinates of `pixels`, whatever was done to them first."""
    prepared, factor = upscale_small(pixels, preprocessing.upscale_below)
    angle = estimate_skew(prepared) if preprocessing.deskew else 0.0
    if angle:
        turned = rotate(prepared, angle)
        before = (prepared.shape[1], prepared.shape[0])
        after = (turned.shape[1], turned.shape[0])
        lines = []
        for line in engine.read_lines(turned):
            corners = line.quad or (
                (line.box[0], line.box[1]),
                (line.box[2], line.box[1]),
                (line.box[2], line.box[3]),
                (line.box[0], line.box[3]),
            )
            quad = tuple(unrotate_point(point, angle, before, after) for point in corners)
            xs, ys = [x for x, _ in quad], [y for _, y in quad]
            lines.append(OcrLine(line.text, line.confidence, (min(xs), min(ys), max(xs), max(ys)), quad))
    else:
        lines = engine.read_lines(prepared)
    return [line.scaled(1 / factor) for line in lines if line.text.strip()]


def extract_text(
    engine: LineEngine,
    data: bytes,
    *,
    max_pixels: int,
    max_side: int,
    preprocessing: Preprocessing | None = None,
) -> OcrResult:
    pixels, scale = load_image(data, max_pixels=max_pixels, max_side=max_side)
    # Size as decoded, for the screen-size cue (a downscale loses at most a pixel of it).
    size = (round(pixels.shape[1] / scale), round(pixels.shape[0] / scale))
    lines = [line.scaled(1 / scale) for line in _read(engine, pixels, preprocessing or Preprocessing())]
    return interpret(lines, picture_facts(pixels, size))


def interpret(lines: list[OcrLine], facts: PictureFacts | None = None) -> OcrResult:
    """Rows, reading order, document type, language and fields of one picture's lines."""
    rows = [TextRow(tuple(row)) for row in group_rows(lines)]
    ordered = [line for row in rows for line in row.segments]
    content = "\n".join(row.text for row in rows)
    form = read_form(rows)
    verdict = classify(rows, form, facts)
    fields: dict[str, str] = {}
    items: list[LineItem] = []
    key_values: list[KeyValue] = []
    evidence = list(verdict.evidence)
    if verdict.document_type is DocumentType.RECEIPT:
        receipt = read_receipt(rows)
        fields, items = receipt.fields, receipt.items
        evidence.extend(f"receipt: {reason}" for reason in receipt.evidence)
    elif verdict.document_type is DocumentType.FORM:
        key_values = form.pairs
    return OcrResult(
        content=content,
        lines=ordered,
        document_type=verdict.document_type.value,
        language=detect_language(content),
        fields=fields,
        items=items,
        key_values=key_values,
        evidence=evidence,
    )
