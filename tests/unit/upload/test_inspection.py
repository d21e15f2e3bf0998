"""Deciding on received bytes: pixel limit before decoding, truncation, orientation, thumbnails."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import ExifTags, Image

from pixtract.common.imaging import upright_size
from pixtract.upload.domain import formats, inspection
from pixtract.upload.domain.formats import HEAD_BYTES, detect_file_type
from pixtract.upload.domain.inspection import (
    CorruptImage,
    ImageTooLarge,
    InspectedImage,
    ThumbnailSize,
    UnsupportedImage,
    inspect_image,
)


def _encode(image: Image.Image, pillow_format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=pillow_format, **params)
    return out.getvalue()


def _inspect(data: bytes, max_pixels: int = 50_000_000) -> InspectedImage:
    return inspect_image(io.BytesIO(data), detect_file_type(data[:HEAD_BYTES]), max_pixels=max_pixels)


def _gradient(size: tuple[int, int]) -> Image.Image:
    return Image.linear_gradient("L").resize(size).convert("RGB")


def test_a_jpeg_is_measured_and_gets_both_thumbnails_as_webp() -> None:
    data = _encode(_gradient((3000, 1500)), "JPEG", quality=85)
    inspected = inspect_image(io.BytesIO(data), formats.JPEG, max_pixels=50_000_000)
    assert (inspected.width, inspected.height) == (3000, 1500)
    small, large = inspected.thumbnails[ThumbnailSize.SMALL], inspected.thumbnails[ThumbnailSize.LARGE]
    assert (large.width, large.height) == (1280, 640)
    assert (small.width, small.height) == (256, 128)
    for thumb in (small, large):
        assert detect_file_type(thumb.data[:32]) == formats.WEBP
        with Image.open(io.BytesIO(thumb.data)) as decoded:
            assert decoded.size == (thumb.width, thumb.height)
        assert len(thumb.etag) == 32


def test_small_images_are_never_upscaled() -> None:
    inspected = inspect_image(io.BytesIO(_encode(_gradient((120, 90)), "PNG")), formats.PNG, max_pixels=10**6)
    assert {(t.width, t.height) for t in inspected.thumbnails.values()} == {(120, 90)}


def test_exif_orientation_turns_dimensions_and_thumbnails_upright() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored landscape, displayed portrait
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((255, 0, 0), (0, 0, 200, 200))  # left half red as stored
    inspected = _inspect(_encode(stored, "JPEG", exif=exif, quality=95))
    assert (inspected.width, inspected.height) == (200, 400)
    small = inspected.thumbnails[ThumbnailSize.SMALL]
    assert (small.width, small.height) == (128, 256)
    with Image.open(io.BytesIO(small.data)) as thumb:
        rgb = thumb.convert("RGB")
        # Orientation 6 rotates 90° clockwise: the stored left half ends up on top.
        top, bottom = rgb.getpixel((64, 10)), rgb.getpixel((64, 245))
    assert isinstance(top, tuple)
    assert isinstance(bottom, tuple)
    assert top[0] > 200
    assert top[1] < 60
    assert bottom[1] > 200


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_quarter_turn_orientations_swap_dimensions(orientation: int) -> None:
    assert upright_size(40, 30, orientation) == (30, 40)


@pytest.mark.parametrize("orientation", [0, 1, 2, 3, 4])
def test_other_orientations_keep_dimensions(orientation: int) -> None:
    assert upright_size(40, 30, orientation) == (40, 30)


def test_the_pixel_limit_is_checked_from_the_header_before_decoding() -> None:
    data = _encode(_gradient((1000, 1000)), "PNG")
    with pytest.raises(ImageTooLarge, match="1000x1000 is 1,000,000 pixels; the limit is 999,999"):
        _inspect(data, max_pixels=999_999)
    # Only the header is needed to refuse it: even with most of the pixels missing.
    with pytest.raises(ImageTooLarge):
        _inspect(data[:200], max_pixels=999_999)
    assert _inspect(data, max_pixels=1_000_000) is not None


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP"])
def test_truncated_images_are_refused_as_corrupt(pillow_format: str) -> None:
    image = Image.effect_noise((300, 200), 60).convert("RGB")
    if pillow_format == "GIF":
        image = image.convert("P")
    data = _encode(image, pillow_format)
    with pytest.raises(CorruptImage, match="truncated or corrupt"):
        _inspect(data[: len(data) // 2])


def test_garbage_after_a_valid_signature_is_corrupt() -> None:
    with pytest.raises(CorruptImage):
        _inspect(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)


def test_types_without_a_decoder_are_refused_before_decoding() -> None:
    with pytest.raises(UnsupportedImage, match="AVIF image"):
        inspect_image(io.BytesIO(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"), formats.AVIF, max_pixels=10**6)


def _iphone_exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15 Pro"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal] = "2025:06:01 18:45:10"
    exif_ifd[ExifTags.Base.OffsetTimeOriginal] = "+02:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.6)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    return exif


def test_a_heic_photo_is_measured_read_and_thumbnailed() -> None:
    data = _encode(_gradient((1600, 1200)), "HEIF", exif=_iphone_exif(), quality=60)
    inspected = _inspect(data)
    assert inspected.file_type == formats.HEIC
    assert (inspected.width, inspected.height) == (1600, 1200)
    meta = inspected.metadata
    assert meta.camera is not None
    assert (meta.camera.make, meta.camera.model) == ("Apple", "iPhone 15 Pro")
    assert meta.taken_at is not None
    assert meta.taken_at.isoformat() == "2025-06-01T18:45:10+02:00"
    assert meta.gps is not None
    assert (round(meta.gps.lat, 4), round(meta.gps.lon, 4)) == (48.8582, 2.2945)
    large = inspected.thumbnails[ThumbnailSize.LARGE]
    assert (large.width, large.height) == (1280, 960)
    assert detect_file_type(large.data[:HEAD_BYTES]) == formats.WEBP


def test_heic_pixels_come_out_upright_and_are_never_turned_twice() -> None:
    # pillow-heif writes the orientation into the container; decoded pixels are as displayed
    # and the EXIF tag reads 1, so the thumbnail must look like the decoded picture.
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((255, 0, 0), (0, 0, 200, 200))
    data = _encode(stored, "HEIF", exif=_iphone_exif(orientation=6), quality=90)
    with Image.open(io.BytesIO(data)) as decoded:
        expected_size = decoded.size
        expected_left = decoded.convert("RGB").getpixel((10, 10))
    inspected = _inspect(data)
    assert (inspected.width, inspected.height) == expected_size
    with Image.open(io.BytesIO(inspected.thumbnails[ThumbnailSize.SMALL].data)) as thumb:
        left = thumb.convert("RGB").getpixel((5, 5))
    assert isinstance(left, tuple)
    assert isinstance(expected_left, tuple)
    assert abs(left[0] - expected_left[0]) < 40
    assert abs(left[1] - expected_left[1]) < 40


def test_the_pixel_limit_holds_for_heic_before_decoding() -> None:
    data = _encode(_gradient((1000, 800)), "HEIF", quality=50)
    with pytest.raises(ImageTooLarge, match="1000x800 is 800,000 pixels"):
        _inspect(data, max_pixels=799_999)


def test_a_truncated_heic_is_corrupt() -> None:
    data = _encode(Image.effect_noise((640, 480), 60).convert("RGB"), "HEIF", quality=90)
    with pytest.raises(CorruptImage, match="HEIC image is truncated or corrupt"):
        _inspect(data[: len(data) // 2])


def test_only_the_first_frame_of_a_multi_frame_file_is_decoded_and_checked() -> None:
    # A small first page followed by a huge one: the big page is never decoded.
    small = Image.new("RGB", (100, 100), "blue")
    huge = Image.new("L", (4000, 4000), 0)
    out = io.BytesIO()
    small.save(out, format="TIFF", save_all=True, append_images=[huge])
    inspected = _inspect(out.getvalue(), max_pixels=10_000)
    assert (inspected.width, inspected.height) == (100, 100)


@pytest.mark.parametrize(
    "image",
    [
        Image.new("P", (64, 64), 3),
        Image.new("LA", (64, 64), (128, 100)),
        Image.new("L", (64, 64), 128),
        Image.new("1", (64, 64), 1),
        Image.new("CMYK", (64, 64), (0, 255, 255, 0)),
        Image.new("RGBA", (64, 64), (0, 0, 255, 128)),
    ],
    ids=lambda image: image.mode,
)
def test_every_common_pixel_mode_makes_thumbnails(image: Image.Image) -> None:
    pillow_format = {"P": "GIF", "1": "BMP", "CMYK": "JPEG"}.get(image.mode, "PNG")
    if pillow_format == "GIF":
        image.info["transparency"] = 0
    inspected = _inspect(_encode(image, pillow_format))
    assert inspected.thumbnails[ThumbnailSize.LARGE].data.startswith(b"RIFF")


def _mean_grey(thumbnail_data: bytes) -> float:
    with Image.open(io.BytesIO(thumbnail_data)) as thumb:
        histogram = thumb.convert("L").histogram()
    return sum(value * count for value, count in enumerate(histogram)) / sum(histogram)


def test_high_bit_depth_images_keep_their_tones_in_thumbnails() -> None:
    sixteen_bit = Image.new("I;16", (64, 64))
    sixteen_bit.putdata([n * 16 for n in range(64 * 64)])  # a ramp over the whole 16-bit range
    floats = Image.new("F", (64, 64))
    floats.putdata([n / 4096 for n in range(64 * 64)])  # a ramp from 0.0 to 1.0
    for image, pillow_format in ((sixteen_bit, "PNG"), (floats, "TIFF")):
        inspected = _inspect(_encode(image, pillow_format))
        # A clipping conversion would give an all-white (16-bit) or all-black (float) thumbnail.
        assert 110 < _mean_grey(inspected.thumbnails[ThumbnailSize.SMALL].data) < 145


@pytest.mark.parametrize("pillow_format", ["PNG", "WEBP", "TIFF", "JPEG"])
def test_exif_is_read_from_every_streamed_format(pillow_format: str) -> None:
    stored = Image.new("RGB", (400, 200), "white")
    stored.paste((255, 0, 0), (0, 0, 200, 200))
    inspected = _inspect(_encode(stored, pillow_format, exif=_iphone_exif(orientation=6)))
    assert inspected.metadata.camera is not None
    assert inspected.metadata.camera.model == "iPhone 15 Pro"
    if pillow_format != "TIFF":  # Pillow's TIFF writer drops the GPS IFD
        assert inspected.metadata.gps is not None
    assert (inspected.width, inspected.height) == (200, 400)
    large = inspected.thumbnails[ThumbnailSize.LARGE]
    assert (large.width, large.height) == (200, 400)
    red, green, _ = _pixel(large.data, (100, 20))
    assert red > 200
    assert green < 80


def test_an_interlaced_png_cut_short_is_corrupt() -> None:
    data = _encode(Image.effect_noise((400, 300), 60).convert("RGB"), "PNG", interlace=1)
    assert _inspect(data).width == 400
    with pytest.raises(CorruptImage, match="PNG image is truncated or corrupt"):
        _inspect(data[: len(data) * 3 // 4])


def test_a_cmyk_tiff_comes_out_in_colour() -> None:
    inspected = _inspect(_encode(Image.new("CMYK", (300, 200), (0, 255, 255, 0)), "TIFF"))
    red, green, blue = _pixel(inspected.thumbnails[ThumbnailSize.SMALL].data, (10, 10))
    assert red > 180
    assert green < 90
    assert blue < 90


def test_a_large_image_is_shrunk_while_streaming_and_stays_whole() -> None:
    # 4000x3000 is decoded in strips: the thumbnail still covers the whole picture.
    picture = Image.new("RGB", (4000, 3000), "black")
    picture.paste((0, 0, 255), (0, 2800, 4000, 3000))  # a blue band along the bottom edge
    inspected = _inspect(_encode(picture, "PNG", compress_level=1))
    large = inspected.thumbnails[ThumbnailSize.LARGE]
    assert (large.width, large.height) == (1280, 960)
    assert _pixel(large.data, (640, 955))[2] > 200


def _pixel(thumbnail_data: bytes, xy: tuple[int, int]) -> tuple[int, int, int]:
    with Image.open(io.BytesIO(thumbnail_data)) as thumb:
        red, green, blue = thumb.convert("RGB").getpixel(xy)  # type: ignore[misc]
    return red, green, blue


@pytest.mark.parametrize("mode", ["RGB", "L", "1"])
def test_a_bmp_read_in_strips_looks_like_the_whole_picture(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inspection, "BMP_STRIP_BYTES", 64 * 1024)  # many strips, a ragged last one
    picture = Image.new("RGB", (5300, 2701), "white")
    picture.paste((200, 0, 0), (0, 0, 5300, 400))  # a band along the top
    picture.paste((0, 0, 200), (0, 2301, 2650, 2701))  # a block in the bottom-left corner
    picture = picture.convert(mode)
    inspected = _inspect(_encode(picture, "BMP"))
    assert (inspected.width, inspected.height) == (5300, 2701)
    large = inspected.thumbnails[ThumbnailSize.LARGE]
    assert (large.width, large.height) == (1280, 652)
    expected = picture.convert("RGB").resize((1280, 652), Image.Resampling.BOX)
    with Image.open(io.BytesIO(large.data)) as thumb:
        got = thumb.convert("RGB")
    difference = sum(abs(a - b) for a, b in zip(got.tobytes(), expected.tobytes(), strict=True)) / len(got.tobytes())
    assert difference < 6


def test_a_bmp_whose_rows_pillow_misreads_is_refused_not_a_crash() -> None:
    # 4 bits a pixel with a grey palette: Pillow calls it mode L but cannot decode its rows.
    width, height = 64, 4
    palette = b"".join(bytes((i, i, i, 0)) for i in range(16))
    pixels = bytes((width * 4 + 31) // 32 * 4 * height)
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 4, 0, len(pixels), 2835, 2835, 16, 0)
    data = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels
    with pytest.raises(CorruptImage):
        _inspect(data)
