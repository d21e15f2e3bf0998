"""OCR post-processing with a plain fake engine (the real engine runs in integration and e2e)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from pixtract.common.imaging import ImageRejected
from pixtract.ocr.domain.ocr import OcrLine, extract_text, load_image, reading_order


class FakeEngine:
    model_version = "fake-1"

    def __init__(self, lines: list[OcrLine]) -> None:
        self.lines = lines
        self.seen_shape: tuple[int, ...] | None = None

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]:
        self.seen_shape = image.shape
        return self.lines


def _png(width: int, height: int, *, exif_orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), "white")
    out = io.BytesIO()
    if exif_orientation is None:
        image.save(out, format="PNG")
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_lines_are_read_top_to_bottom_then_left_to_right() -> None:
    total = OcrLine("TOTAL", 0.9, (10, 200, 80, 220))
    price = OcrLine("12.50", 0.9, (300, 202, 360, 222))
    title = OcrLine("CAFE", 0.9, (10, 10, 90, 40))
    date = OcrLine("2026-11-19", 0.9, (10, 60, 150, 85))
    assert [ln.text for ln in reading_order([price, date, total, title])] == ["CAFE", "2026-11-19", "TOTAL", "12.50"]


def test_result_joins_lines_in_reading_order_and_drops_blank_ones() -> None:
    engine = FakeEngine(
        [
            OcrLine("second", 0.8, (0, 50, 50, 70)),
            OcrLine("  ", 0.9, (0, 0, 5, 5)),
            OcrLine("first", 0.9, (0, 0, 50, 20)),
        ]
    )
    result = extract_text(engine, _png(100, 100), max_pixels=10_000_000, max_side=2000)
    assert result.content == "first\nsecond"
    assert result.document_type == "other"
    assert [ln.confidence for ln in result.lines] == [0.9, 0.8]


def test_no_text_means_document_type_none() -> None:
    result = extract_text(FakeEngine([]), _png(50, 50), max_pixels=10_000_000, max_side=2000)
    assert result.content == ""
    assert result.document_type == "none"


def test_large_images_are_downscaled_and_boxes_mapped_back() -> None:
    engine = FakeEngine([OcrLine("word", 0.9, (100, 100, 200, 150))])
    result = extract_text(engine, _png(4000, 1000), max_pixels=100_000_000, max_side=2000)
    assert engine.seen_shape == (500, 2000, 3)
    assert result.lines[0].box == (200, 200, 400, 300)


def test_exif_orientation_is_applied_before_ocr() -> None:
    pixels, _ = load_image(_png(300, 100, exif_orientation=6), max_pixels=10_000_000, max_side=2000)
    assert pixels.shape[:2] == (300, 100)


def test_too_many_pixels_is_rejected_before_decoding() -> None:
    with pytest.raises(ImageRejected, match="pixel limit"):
        load_image(_png(2000, 2000), max_pixels=1_000_000, max_side=2000)


@pytest.mark.parametrize("data", [b"", b"not an image at all", _png(40, 40)[:60]])
def test_corrupt_or_truncated_bytes_are_rejected(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        load_image(data, max_pixels=10_000_000, max_side=2000)
