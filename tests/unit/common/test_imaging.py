"""The shared decoder: header-first pixel guard, HEIC, first frame only, draft, orientation."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import ExifTags, Image

from pixtract.common.imaging import (
    TooManyPixels,
    UnreadableImage,
    open_image,
    upright,
    upright_size,
)
from pixtract.ocr.domain.ocr import load_image
from pixtract.tagging.domain.decoding import open_oriented


def _encode(image: Image.Image, pillow_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=pillow_format, **params)
    return out.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _heic(size: tuple[int, int] = (320, 240), **params: object) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((20, 20, 220), (0, 0, size[0] // 4, size[1] // 4))
    return _encode(image, "HEIF", quality=90, **params)


def test_a_bomb_header_is_refused_without_decoding() -> None:
    started = time.perf_counter()
    bomb = _png_header_only(50_000, 50_000)
    with (
        pytest.raises(TooManyPixels, match="50000x50000 exceeds the 100000000-pixel limit") as refused,
        open_image(bomb, max_pixels=100_000_000),
    ):
        pass
    assert (refused.value.width, refused.value.height) == (50_000, 50_000)
    assert time.perf_counter() - started < 1.0


def test_heic_is_decoded_with_its_exif() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "iPhone 15"
    with open_image(_heic(exif=exif), max_pixels=10**6) as image:
        assert image.format == "HEIF"
        assert image.size == (320, 240)
        assert image.exif.get(ExifTags.Base.Model) == "iPhone 15"
        assert image.pixels.convert("RGB").getpixel((5, 5)) != image.pixels.convert("RGB").getpixel((300, 200))


def test_the_pixel_limit_holds_for_heic() -> None:
    with pytest.raises(TooManyPixels), open_image(_heic((400, 300)), max_pixels=400 * 300 - 1):
        pass


def test_heic_is_upright_as_decoded_so_its_orientation_reads_as_one() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    with open_image(_heic(exif=exif), max_pixels=10**6) as image:
        assert image.orientation in (0, 1)
        assert image.upright() is image.pixels


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64])
def test_garbage_is_unreadable(data: bytes) -> None:
    with pytest.raises(UnreadableImage, match="cannot decode image"), open_image(data, max_pixels=10**6):
        pass


def test_a_truncated_heic_is_unreadable() -> None:
    data = _encode(Image.effect_noise((320, 240), 50).convert("RGB"), "HEIF", quality=90)
    with pytest.raises(UnreadableImage), open_image(data[: len(data) // 2], max_pixels=10**6):
        pass


def test_formats_limit_which_reader_may_open_the_bytes() -> None:
    png = _encode(Image.new("RGB", (8, 8)), "PNG")
    with pytest.raises(UnreadableImage), open_image(png, max_pixels=10**6, formats=["JPEG"]):
        pass


def test_only_the_first_frame_of_an_animated_gif_is_decoded() -> None:
    frames = [Image.new("P", (64, 48), colour) for colour in (1, 2, 3)]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    with open_image(data, max_pixels=64 * 48) as image:
        assert image.size == (64, 48)
        assert image.pixels.tell() == 0


def test_jpeg_decodes_at_the_draft_scale_but_reports_its_full_size() -> None:
    data = _encode(Image.new("RGB", (4000, 3000), "green"), "JPEG")
    with open_image(data, max_pixels=10**8, draft_side=256) as image:
        assert image.size == (4000, 3000)
        assert max(image.pixels.size) < 1000


def test_orientation_is_read_and_applied() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = _encode(Image.new("RGB", (40, 20), "white"), "JPEG", exif=exif)
    with open_image(data, max_pixels=10**6) as image:
        assert image.orientation == 6
        assert image.size == (20, 40)
        assert image.upright().size == (20, 40)
    assert upright_size(40, 20, 8) == (20, 40)
    assert upright(Image.new("RGB", (4, 2)), 3).size == (4, 2)


def test_tagging_and_ocr_read_heic_through_the_shared_decoder() -> None:
    data = _heic((640, 480))
    analysed = open_oriented(data, max_pixels=10**7)
    assert (analysed.width, analysed.height) == (640, 480)
    pixels, scale = load_image(data, max_pixels=10**7, max_side=320)
    assert pixels.shape == (240, 320, 3)
    assert scale == 0.5
    assert pixels.dtype == np.uint8
