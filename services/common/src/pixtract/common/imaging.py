"""Opening untrusted image bytes: the one decoder every service uses.

- Formats: what Pillow reads, plus HEIC/HEIF through pillow-heif, registered once here.
  AVIF is not registered with pillow-heif: its build carries no AV1 decoder.
- Pixel guard: the size comes from the header and is checked against `max_pixels` before
  any pixel is decoded. Pillow's own global guard is switched off, because it would warn
  below the setting and refuse above twice its default, whatever the setting says.
- Multi-frame files (animated GIF/WebP/PNG, multi-page TIFF, HEIF collections): only the
  first frame, or the primary image of a HEIF, is ever decoded, and its size is the one
  checked (Pillow's GIF reader grows the size to the first frame's extent while opening, so
  the check sees it). Other frames, pages, thumbnails, depth maps and auxiliary images are
  never decoded, so they never get past the guard: pillow-heif does not even list them.
- Draft: JPEG decodes straight to the smallest DCT scale that still covers `draft_side`;
  every byte is still read, so truncation is still found.
- EXIF orientation: read and returned, applied by `upright()`. HEIF pixels come out
  upright already (libheif applies the container's rotation and mirroring, and pillow-heif
  resets the EXIF tag to 1), so applying the tag never turns them twice.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from PIL import ExifTags, Image, ImageFile
from pillow_heif import register_heif_opener

Image.MAX_IMAGE_PIXELS = None
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Pillow's format id for HEIC and HEIF files, for `formats=`.
HEIF_FORMAT = "HEIF"

# How to turn stored pixels upright for each EXIF orientation (as ImageOps.exif_transpose does).
UPRIGHT_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# Orientations that turn the picture a quarter: displayed width and height swap.
TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


class ImageRejected(Exception):
    """The bytes are not an image we can read: corrupt, truncated, unknown or too many pixels."""


class TooManyPixels(ImageRejected):
    """The header announces more pixels than allowed; nothing was decoded."""

    def __init__(self, width: int, height: int, max_pixels: int) -> None:
        super().__init__(f"{width}x{height} exceeds the {max_pixels}-pixel limit")
        self.width = width
        self.height = height
        self.max_pixels = max_pixels


class UnreadableImage(ImageRejected):
    """Not an image Pillow can open, or its pixels do not decode (truncated, corrupt)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"cannot decode image: {reason}")
        self.reason = reason


def upright_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Dimensions once the EXIF orientation is applied."""
    return (height, width) if orientation in TRANSPOSING_ORIENTATIONS else (width, height)


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """`image` turned as EXIF `orientation` says (the same object when nothing needs turning)."""
    transpose = UPRIGHT_TRANSPOSE.get(orientation)
    return image.transpose(transpose) if transpose is not None else image


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image, valid inside `open_image`'s block.

    `pixels` are loaded and as stored (the orientation is not applied yet: reduce first, then
    turn, which is cheaper); JPEG pixels may be smaller than the stored size (draft).
    """

    pixels: Image.Image
    format: str
    stored_width: int
    stored_height: int
    # EXIF orientation 1..8; 0 when the image has none (or an invalid one).
    orientation: int
    exif: Image.Exif

    @property
    def size(self) -> tuple[int, int]:
        """Full-resolution size as displayed (orientation applied)."""
        return upright_size(self.stored_width, self.stored_height, self.orientation)

    def upright(self, image: Image.Image | None = None) -> Image.Image:
        """`image` (default: the decoded pixels) turned upright."""
        return upright(self.pixels if image is None else image, self.orientation)


@contextmanager
def open_header(
    source: bytes | IO[bytes], *, max_pixels: int, formats: Sequence[str] | None = None
) -> Iterator[ImageFile.ImageFile]:
    """The image with its header read and its size checked against `max_pixels`; no pixel
    is decoded yet. `formats` limits which of Pillow's readers may open the bytes (the
    detected type); raises TooManyPixels or UnreadableImage, both ImageRejected."""
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    stream.seek(0)
    try:
        image = Image.open(stream, formats=list(formats) if formats is not None else None)
    except Exception as exc:  # any reader failure on client bytes means the bytes are bad
        raise UnreadableImage(str(exc) or type(exc).__name__) from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise TooManyPixels(width, height, max_pixels)
        yield image


@contextmanager
def open_image(
    source: bytes | IO[bytes],
    *,
    max_pixels: int,
    draft_side: int | None = None,
    formats: Sequence[str] | None = None,
) -> Iterator[DecodedImage]:
    """`open_header`, then the first frame decoded in full."""
    with open_header(source, max_pixels=max_pixels, formats=formats) as image:
        width, height = image.size  # before a draft shrinks it
        try:
            if draft_side is not None:
                image.draft("RGB", (draft_side, draft_side))
            image.load()
        except Exception as exc:
            raise UnreadableImage(str(exc) or type(exc).__name__) from exc
        exif = _exif(image)
        yield DecodedImage(
            pixels=image,
            format=str(image.format or ""),
            stored_width=width,
            stored_height=height,
            orientation=_orientation(exif),
            exif=exif,
        )


def _exif(image: Image.Image) -> Image.Exif:
    try:
        return image.getexif()
    except Exception:  # broken EXIF in a good image costs the metadata, not the image
        return Image.Exif()


def _orientation(exif: Image.Exif) -> int:
    value = exif.get(ExifTags.Base.Orientation)
    return value if isinstance(value, int) and 1 <= value <= 8 else 0
