"""What a file is, from its first bytes: never from its name or the Content-Type a client sent.

Known formats we do not accept are still named, so a refusal can say what was uploaded
("HEIC image", "PDF document") instead of "unknown". Accepting a new format (HEIC, once a
decoder is installed) means adding it to `ACCEPTED_FORMATS`.
"""

from __future__ import annotations

from dataclasses import dataclass

# Enough for every signature below (ISO-BMFF brands sit at bytes 8..12).
HEAD_BYTES = 32


@dataclass(frozen=True)
class FileType:
    name: str
    media_type: str
    extension: str
    # Pillow's format id, for `Image.open(formats=[...])`; None when no decoder is wired up.
    pillow_format: str | None = None


JPEG = FileType("JPEG image", "image/jpeg", "jpg", "JPEG")
PNG = FileType("PNG image", "image/png", "png", "PNG")
WEBP = FileType("WebP image", "image/webp", "webp", "WEBP")
GIF = FileType("GIF image", "image/gif", "gif", "GIF")
TIFF = FileType("TIFF image", "image/tiff", "tiff", "TIFF")
BMP = FileType("BMP image", "image/bmp", "bmp", "BMP")
HEIC = FileType("HEIC image", "image/heic", "heic")
HEIF = FileType("HEIF image", "image/heif", "heif")
AVIF = FileType("AVIF image", "image/avif", "avif")
JPEG_XL = FileType("JPEG XL image", "image/jxl", "jxl")
JPEG_2000 = FileType("JPEG 2000 image", "image/jp2", "jp2")
PSD = FileType("Photoshop document", "image/vnd.adobe.photoshop", "psd")
ICO = FileType("ICO icon", "image/vnd.microsoft.icon", "ico")
SVG = FileType("SVG/XML document", "image/svg+xml", "svg")
PDF = FileType("PDF document", "application/pdf", "pdf")
ZIP = FileType("ZIP archive", "application/zip", "zip")
GZIP = FileType("gzip archive", "application/gzip", "gz")
VIDEO = FileType("MP4/QuickTime video", "video/mp4", "mp4")
RIFF = FileType("RIFF media (AVI/WAV)", "application/octet-stream", "bin")
EMPTY = FileType("empty file", "application/octet-stream", "bin")
UNKNOWN = FileType("unrecognised data", "application/octet-stream", "bin")

ACCEPTED_FORMATS: frozenset[FileType] = frozenset({JPEG, PNG, WEBP, GIF, TIFF, BMP})

# Sizes of the BMP info headers Pillow reads; "BM" alone is too weak (any text may start so).
_BMP_INFO_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _iso_bmff_type(brand: bytes) -> FileType:
    if brand in _HEIC_BRANDS:
        return HEIC
    if brand in _HEIF_BRANDS:
        return HEIF
    if brand in _AVIF_BRANDS:
        return AVIF
    return VIDEO


def detect_file_type(head: bytes) -> FileType:
    """The type of a file from its first `HEAD_BYTES` bytes."""
    if not head:
        return EMPTY
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head.startswith(b"RIFF") and len(head) >= 12:
        return WEBP if head[8:12] == b"WEBP" else RIFF
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_INFO_HEADER_SIZES:
        return BMP
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _iso_bmff_type(head[8:12])
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return JPEG_XL
    if head.startswith((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return JPEG_2000
    if head.startswith(b"8BPS"):
        return PSD
    if head.startswith(b"\x00\x00\x01\x00"):
        return ICO
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if head.startswith(b"\x1f\x8b"):
        return GZIP
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"<?xml", b"<svg")):
        return SVG
    return UNKNOWN
