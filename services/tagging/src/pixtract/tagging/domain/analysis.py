"""What the tagging service learns from one image: the CPU-bound part, run in a thread pool."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from pixtract.tagging.domain.classification import model_input
from pixtract.tagging.domain.colors import DominantColor, dominant_colors
from pixtract.tagging.domain.decoding import ANALYSIS_SIDE, open_oriented
from pixtract.tagging.domain.faces import FaceBox, FaceDetector
from pixtract.tagging.domain.perceptual_hash import perceptual_hash

# Decoded once at this size: faces of a group photo need more pixels than colours and the
# hash (ANALYSIS_SIDE), and the classifier's 224 px crop is cut from it too.
DETECTION_SIDE = 640


@dataclass(frozen=True)
class ImageAnalysis:
    width: int
    height: int
    colors: list[DominantColor] = field(default_factory=list)
    # 16 hex digits; empty when the image could not be read.
    phash: str = ""
    # Boxes in original pixels as displayed, most confident first.
    faces: tuple[FaceBox, ...] = ()
    # The classifier's input (3 x 224 x 224); None when the image could not be read.
    tensor: NDArray[np.float32] | None = None


UNREADABLE = ImageAnalysis(width=0, height=0)


def analyse_image(data: bytes, *, max_pixels: int, faces: FaceDetector | None = None) -> ImageAnalysis:
    """Size, dominant colours, perceptual hash, faces and the classifier's input.

    Raises ImageRejected for unreadable bytes.
    """
    image = open_oriented(data, max_pixels=max_pixels, side=DETECTION_SIDE)
    small = image.pixels.copy()
    small.thumbnail((ANALYSIS_SIDE, ANALYSIS_SIDE))
    found: tuple[FaceBox, ...] = ()
    if faces is not None:
        rgb = np.asarray(image.pixels.convert("RGB"), dtype=np.uint8)
        factor = image.width / image.pixels.width if image.pixels.width else 1.0
        found = tuple(box.scaled(factor) for box in faces.detect(rgb))
    return ImageAnalysis(
        width=image.width,
        height=image.height,
        colors=dominant_colors(small),
        phash=perceptual_hash(small),
        faces=found,
        tensor=model_input(image.pixels),
    )
