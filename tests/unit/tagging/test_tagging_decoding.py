"""Decoding untrusted bytes: the decompression-bomb guard, corrupt input, EXIF orientation."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from pixtract.common.imaging import ImageRejected
from pixtract.tagging.domain.analysis import analyse_image
from pixtract.tagging.domain.colors import color_name
from pixtract.tagging.domain.decoding import ANALYSIS_SIDE, open_oriented

MAX_PIXELS = 100_000_000


def _jpeg(width: int, height: int, *, orientation: int | None = None, colour: str = "#ff0000") -> bytes:
    image = Image.new("RGB", (width, height), colour)
    # A marker in the top-left corner shows where the picture's top-left ends up.
    image.paste(Image.new("RGB", (width // 4, height // 4), "#0000ff"), (0, 0))
    out = io.BytesIO()
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    image.save(out, format="JPEG", quality=90, exif=exif)
    return out.getvalue()


def _colour_at(image: Image.Image, xy: tuple[int, int]) -> str:
    red, green, blue = image.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return color_name((int(red), int(green), int(blue)))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size in its header and has no pixel data: what a bomb looks like to a decoder."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_a_header_claiming_too_many_pixels_is_refused_before_decoding() -> None:
    started = time.perf_counter()
    with pytest.raises(ImageRejected, match="pixel limit"):
        open_oriented(_png_header_only(50_000, 50_000), max_pixels=MAX_PIXELS)
    assert time.perf_counter() - started < 1.0


def test_the_pixel_limit_is_the_setting() -> None:
    data = _jpeg(200, 100)
    with pytest.raises(ImageRejected, match="200x100 exceeds the 19999-pixel limit"):
        open_oriented(data, max_pixels=19_999)
    assert open_oriented(data, max_pixels=20_000).width == 200


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not an image",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,
    ],
)
def test_garbage_is_rejected(data: bytes) -> None:
    with pytest.raises(ImageRejected):
        analyse_image(data, max_pixels=MAX_PIXELS)


def test_a_truncated_jpeg_is_rejected() -> None:
    data = _jpeg(640, 480)
    with pytest.raises(ImageRejected):
        analyse_image(data[: len(data) // 2], max_pixels=MAX_PIXELS)


def test_big_jpegs_are_decoded_small_but_report_their_full_size() -> None:
    analysed = open_oriented(_jpeg(4000, 3000), max_pixels=MAX_PIXELS)
    assert (analysed.width, analysed.height) == (4000, 3000)
    assert max(analysed.pixels.size) <= ANALYSIS_SIDE
    assert analysed.pixels.mode == "RGB"


def test_exif_rotation_swaps_the_reported_size_and_turns_the_pixels() -> None:
    # Orientation 6: the camera was turned; the picture displays rotated 90° clockwise.
    analysed = open_oriented(_jpeg(400, 200, orientation=6), max_pixels=MAX_PIXELS)
    assert (analysed.width, analysed.height) == (200, 400)
    assert analysed.pixels.width < analysed.pixels.height
    # The blue marker of the stored top-left corner now sits at the top-right.
    assert _colour_at(analysed.pixels, (analysed.pixels.width - 5, 5)) == "blue"
    assert _colour_at(analysed.pixels, (5, 5)) == "red"


def test_sixteen_bit_greyscale_keeps_its_tones() -> None:
    ramp = Image.new("I;16", (256, 16))
    ramp.putdata([x * 257 for _ in range(16) for x in range(256)])
    out = io.BytesIO()
    ramp.save(out, format="PNG")
    colors = analyse_image(out.getvalue(), max_pixels=MAX_PIXELS).colors
    assert {c.name for c in colors} >= {"black", "white"}


def test_analysis_of_a_readable_image() -> None:
    analysis = analyse_image(_jpeg(320, 240, colour="#00ff00"), max_pixels=MAX_PIXELS)
    assert (analysis.width, analysis.height) == (320, 240)
    assert [c.name for c in analysis.colors] == ["green", "blue"]
    assert len(analysis.phash) == 16
