"""What a file is, from its first bytes: never from its name or the Content-Type a client sent.

Known formats we do not accept are still named, so a refusal can say what was uploaded
("AVIF image", "PDF document") instead of "unknown". Accepting a new format means a decoder
in `pixtract.common.imaging` and adding it to `ACCEPTED_FORMATS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixtract.common.imaging import HEIF_FORMAT

# Enough for every signature below, and for the first compatible brands of an ISO-BMFF
# `ftyp` box (major brand at bytes 8..12, compatible brands from byte 16).
HEAD_BYTES = 64


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
HEIC = FileType("HEIC image", "image/heic", "heic", HEIF_FORMAT)
HEIF = FileType("HEIF image", "image/heif", "heif", HEIF_FORMAT)
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

# AVIF is named but refused: pillow-heif's build here has no AV1 decoder.
ACCEPTED_FORMATS: frozenset[FileType] = frozenset({JPEG, PNG, WEBP, GIF, TIFF, BMP, HEIC, HEIF})

# Sizes of the BMP info headers Pillow reads; "BM" alone is too weak (any text may start so).
_BMP_INFO_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

# HEVC-coded HEIF (stills and sequences), the generic HEIF brands, and AVIF.
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"miaf"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


def _iso_bmff_type(head: bytes) -> FileType:
    """HEIC, HEIF or AVIF from an `ftyp` box's brands; anything else ISO-BMFF is a video."""
    box_size = int.from_bytes(head[0:4], "big")
    end = min(len(head), box_size) if box_size >= 16 else len(head)
    major = head[8:12]
    compatible = {head[at : at + 4] for at in range(16, end - 3, 4)}
    if major in _HEIC_BRANDS:
        return HEIC
    if major in _AVIF_BRANDS:
        return AVIF
    if major in _HEIF_BRANDS:
        # A generic major brand: the compatible brands tell what codes the pictures.
        if compatible & _AVIF_BRANDS:
            return AVIF
        if compatible & _HEIC_BRANDS:
            return HEIC
        return HEIF
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
        return _iso_bmff_type(head)
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
