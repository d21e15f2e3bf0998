"""Type detection from magic bytes: every accepted format, known refusals, garbage."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from pixtract.upload.domain import formats
from pixtract.upload.domain.formats import HEAD_BYTES, FileType, detect_file_type


def _encoded(pillow_format: str, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (8, 6), "red" if mode != "P" else 1).save(out, format=pillow_format)
    return out.getvalue()


@pytest.mark.parametrize(
    ("pillow_format", "mode", "expected"),
    [
        ("JPEG", "RGB", formats.JPEG),
        ("PNG", "RGB", formats.PNG),
        ("WEBP", "RGB", formats.WEBP),
        ("GIF", "P", formats.GIF),
        ("TIFF", "RGB", formats.TIFF),
        ("BMP", "RGB", formats.BMP),
    ],
)
def test_each_accepted_format_is_recognised_from_its_bytes(pillow_format: str, mode: str, expected: FileType) -> None:
    detected = detect_file_type(_encoded(pillow_format, mode)[:HEAD_BYTES])
    assert detected == expected
    assert detected in formats.ACCEPTED_FORMATS
    assert detected.pillow_format == pillow_format


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", formats.HEIC),
        (b"\x00\x00\x00\x18ftypheix\x00\x00\x00\x00mif1heix", formats.HEIC),
        # A generic major brand with HEVC among the compatible ones is still HEIC.
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", formats.HEIC),
        (b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00mif1", formats.HEIF),
        (b"\x00\x00\x00\x14ftypmsf1\x00\x00\x00\x00msf1", formats.HEIF),
    ],
)
def test_heic_and_heif_are_recognised_from_their_brands(head: bytes, expected: FileType) -> None:
    detected = detect_file_type(head)
    assert detected == expected
    assert detected in formats.ACCEPTED_FORMATS
    assert detected.pillow_format == "HEIF"


def test_a_heic_written_by_pillow_heif_is_heic() -> None:
    assert detect_file_type(_encoded("HEIF")[:HEAD_BYTES]) == formats.HEIC


def test_big_endian_tiff_is_recognised() -> None:
    assert detect_file_type(b"MM\x00*\x00\x00\x00\x08" + b"\0" * 24) == formats.TIFF


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", formats.PDF),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", formats.AVIF),
        # A generic major brand: the compatible brands say the pictures are AV1.
        (b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf", formats.AVIF),
        (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", formats.VIDEO),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", formats.RIFF),
        (b"PK\x03\x04\x14\x00\x00\x00", formats.ZIP),
        (b"\x1f\x8b\x08\x00", formats.GZIP),
        (b"\xef\xbb\xbf  <?xml version='1.0'?><svg", formats.SVG),
        (b"<svg xmlns='http://www.w3.org/2000/svg'>", formats.SVG),
        (b"8BPS\x00\x01", formats.PSD),
        (b"\xff\x0a\xfa\x7f", formats.JPEG_XL),
        (b"", formats.EMPTY),
        (b"hello, this is not an image at all", formats.UNKNOWN),
        # "BM" alone is not a bitmap: the info header size must be one Pillow reads.
        (b"BMW owners club minutes, 2024....", formats.UNKNOWN),
    ],
)
def test_other_files_are_named_and_refused(head: bytes, expected: FileType) -> None:
    detected = detect_file_type(head[:HEAD_BYTES])
    assert detected == expected
    assert detected not in formats.ACCEPTED_FORMATS


def test_a_png_named_jpg_is_a_png() -> None:
    # Detection takes the first bytes and nothing else: neither the name nor the client's type.
    # (tests/unit/upload/test_ingest.py follows such a file through a whole upload.)
    detected = detect_file_type(_encoded("PNG")[:HEAD_BYTES])
    assert detected == formats.PNG
    assert detected.media_type == "image/png"
