"""Decoding untrusted image bytes cheaply for analysis, through the shared decoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixtract.common.imaging import open_image

# Enough for the 128 px colour thumbnail and the 32 px hash sample; JPEG decodes straight
# to about this size (DCT scaling), which is many times faster than a full decode.
ANALYSIS_SIDE = 256
SIXTEEN_BIT_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})


@dataclass(frozen=True)
class OrientedImage:
    """Pixels as displayed (EXIF orientation applied), in RGB or RGBA, at most `side` (ANALYSIS_SIDE) a side."""

    pixels: Image.Image
    # Full-resolution size as displayed, whatever the analysis pixels were reduced to.
    width: int
    height: int


def open_oriented(data: bytes, *, max_pixels: int, side: int = ANALYSIS_SIDE) -> OrientedImage:
    """Raises pixtract.common.imaging.ImageRejected for unreadable bytes or too many pixels."""
    with open_image(data, max_pixels=max_pixels, draft_side=side) as image:
        # Reduce first, then turn: the same picture for a fraction of the work. The decoded
        # pixels are this block's own, so they are reduced in place (no full-size copy).
        reduced = image.pixels
        reduced.thumbnail((side, side))
        pixels = _to_rgb(image.upright(reduced))
        width, height = image.size
    return OrientedImage(pixels, width, height)


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in SIXTEEN_BIT_GREY_MODES:
        # Pillow's conversion clips 16-bit values at 255 (all white); keep the high byte instead.
        return Image.fromarray((np.asarray(image, dtype=np.uint16) >> 8).astype(np.uint8)).convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
