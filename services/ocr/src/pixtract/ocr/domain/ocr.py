"""OCR on decoded images: RapidOCR lines turned into Pixtract's text result.

Pure with respect to the network: takes image bytes, returns a result. The engine is a
Protocol so unit tests can run the post-processing with a plain fake.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

ENGINE_NAME = "rapidocr"


class ImageRejected(Exception):
    """The bytes are not an image we can read (corrupt, truncated, too many pixels)."""


@dataclass(frozen=True)
class OcrLine:
    text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class OcrResult:
    content: str
    lines: list[OcrLine] = field(default_factory=list)
    document_type: str = "none"


class LineEngine(Protocol):
    model_version: str

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]: ...


def load_image(data: bytes, *, max_pixels: int, max_side: int) -> tuple[NDArray[np.uint8], float]:
    """Decode, apply EXIF orientation, downscale; return RGB pixels and the scale applied."""
    Image.MAX_IMAGE_PIXELS = None  # we check the size ourselves, before decoding
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > max_pixels:
                raise ImageRejected(f"{img.width}x{img.height} exceeds the {max_pixels}-pixel limit")
            img.draft("RGB", (max_side, max_side))
            oriented = ImageOps.exif_transpose(img).convert("RGB")
    except ImageRejected:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ImageRejected(f"cannot decode image: {exc}") from exc
    scale = 1.0
    if max(oriented.size) > max_side:
        scale = max_side / max(oriented.size)
        oriented = oriented.resize(
            (round(oriented.width * scale), round(oriented.height * scale)), Image.Resampling.LANCZOS
        )
    return np.asarray(oriented, dtype=np.uint8), scale


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top-to-bottom rows, left-to-right within a row (rows: boxes overlapping vertically by half)."""
    rows: list[list[OcrLine]] = []
    for line in sorted(lines, key=lambda ln: (ln.box[1] + ln.box[3]) / 2):
        centre = (line.box[1] + line.box[3]) / 2
        if rows:
            last = rows[-1][-1]
            half_height = (last.box[3] - last.box[1]) / 2
            if abs(centre - (last.box[1] + last.box[3]) / 2) <= half_height:
                rows[-1].append(line)
                continue
        rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda ln: ln.box[0])]


def extract_text(engine: LineEngine, data: bytes, *, max_pixels: int, max_side: int) -> OcrResult:
    pixels, scale = load_image(data, max_pixels=max_pixels, max_side=max_side)
    lines = [
        OcrLine(ln.text, ln.confidence, (ln.box[0] / scale, ln.box[1] / scale, ln.box[2] / scale, ln.box[3] / scale))
        for ln in engine.read_lines(pixels)
        if ln.text.strip()
    ]
    ordered = reading_order(lines)
    content = "\n".join(line.text for line in ordered)
    return OcrResult(content=content, lines=ordered, document_type="other" if ordered else "none")
