"""Decoding untrusted image bytes safely and cheaply for analysis."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageOps

# Enough for the 128 px colour thumbnail and the 32 px hash sample; JPEG decodes straight
# to about this size (DCT scaling), which is many times faster than a full decode.
ANALYSIS_SIDE = 256
# EXIF orientations that turn the picture a quarter: displayed width and height swap.
TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
SIXTEEN_BIT_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})

# Pillow's own guard (a warning from 89 MP, an error from 179 MP) would override the
# max_pixels setting; open_oriented checks the header's size itself before decoding.
Image.MAX_IMAGE_PIXELS = None


class ImageRejected(Exception):
    """The bytes are not an image we can read: corrupt, truncated, unknown or too many pixels."""


@dataclass(frozen=True)
class OrientedImage:
    """Pixels as displayed (EXIF orientation applied), in RGB or RGBA, at most ANALYSIS_SIDE a side."""

    pixels: Image.Image
    # Full-resolution size as displayed, whatever the analysis pixels were reduced to.
    width: int
    height: int


def open_oriented(data: bytes, *, max_pixels: int) -> OrientedImage:
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(f"{width}x{height} exceeds the {max_pixels}-pixel limit")
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            image.draft("RGB", (ANALYSIS_SIDE, ANALYSIS_SIDE))
            # exif_transpose always returns a loaded copy, so a truncated file fails here.
            oriented = ImageOps.exif_transpose(image)
        oriented.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE))
        pixels = _to_rgb(oriented)
    except ImageRejected:
        raise
    # Pillow's plugins signal corrupt input with any of these, depending on the format.
    except (OSError, ValueError, TypeError, SyntaxError, EOFError, IndexError, struct.error) as exc:
        raise ImageRejected(f"cannot decode image: {exc}") from exc
    if orientation in TRANSPOSING_ORIENTATIONS:
        width, height = height, width
    return OrientedImage(pixels, width, height)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in SIXTEEN_BIT_GREY_MODES:
        # Pillow's conversion clips 16-bit values at 255 (all white); keep the high byte instead.
        return Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
