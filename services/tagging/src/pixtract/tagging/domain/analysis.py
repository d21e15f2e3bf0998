"""What the tagging service learns from one image: the CPU-bound part, run in a thread pool."""

from __future__ import annotations

from dataclasses import dataclass, field

from pixtract.tagging.domain.colors import DominantColor, dominant_colors
from pixtract.tagging.domain.decoding import open_oriented
from pixtract.tagging.domain.perceptual_hash import perceptual_hash


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    colors: list[DominantColor] = field(default_factory=list)
    # 16 hex digits; empty when the image could not be read.
    phash: str = ""


UNREADABLE = ImageAnalysis(width=0, height=0)


def analyse_image(data: bytes, *, max_pixels: int) -> ImageAnalysis:
    """Size, dominant colours and perceptual hash. Raises ImageRejected for unreadable bytes."""
    image = open_oriented(data, max_pixels=max_pixels)
    return ImageAnalysis(
        width=image.width,
        height=image.height,
        colors=dominant_colors(image.pixels),
        phash=perceptual_hash(image.pixels),
    )
