"""Pixel preparation before the engine: facts about the picture, upscaling tiny images, and an
optional projection-profile deskew. Every transform returns what is needed to map boxes back
to original-image pixels."""

from __future__ import annotations

import io
import math

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps

from pixtract.ocr.domain.classify import PictureFacts
from pixtract.ocr.domain.layout import Point

# Upscaling stops here: more only slows the detector without sharper glyphs.
MAX_UPSCALE = 3.0
SKEW_SEARCH_DEGREES = 8.0
SKEW_STEP_DEGREES = 0.5


def original_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as displayed (EXIF orientation applied), from the header alone."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            orientation = img.getexif().get(0x0112, 1)
            width, height = img.size
    except (OSError, ValueError, SyntaxError):
        return None
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def picture_facts(pixels: NDArray[np.uint8], size: tuple[int, int]) -> PictureFacts:
    image = Image.fromarray(pixels)
    image.thumbnail((256, 256))
    quantised = (np.asarray(image.convert("RGB"), dtype=np.uint8) >> 4).reshape(-1, 3).astype(np.int32)
    codes = quantised[:, 0] << 8 | quantised[:, 1] << 4 | quantised[:, 2]
    counts = np.sort(np.bincount(codes))[::-1]
    flat = float(counts[:8].sum() / max(int(counts.sum()), 1))
    return PictureFacts(size[0], size[1], flat)


def upscale_small(pixels: NDArray[np.uint8], min_long_side: int) -> tuple[NDArray[np.uint8], float]:
    """Enlarge a picture whose long side is under `min_long_side` (tiny scans, thumbnails):
    the recogniser reads glyphs a few pixels tall badly, and Lanczos beats its own resize."""
    long_side = max(pixels.shape[0], pixels.shape[1])
    if min_long_side <= 0 or long_side >= min_long_side:
        return pixels, 1.0
    factor = min(MAX_UPSCALE, min_long_side / long_side)
    image = Image.fromarray(pixels).resize(
        (round(pixels.shape[1] * factor), round(pixels.shape[0] * factor)), Image.Resampling.LANCZOS
    )
    return np.asarray(image, dtype=np.uint8), factor


def estimate_skew(pixels: NDArray[np.uint8]) -> float:
    """The rotation (degrees, counter-clockwise) that levels the text rows, by projection profile:
    the rotation that makes row sums of ink the most peaked is the one that levels the rows."""
    grey = Image.fromarray(pixels).convert("L")
    grey.thumbnail((600, 600))
    ink = ImageOps.invert(ImageOps.autocontrast(grey))
    values = np.asarray(ink, dtype=np.float32)
    threshold = values.mean() + values.std()
    binary = Image.fromarray(((values > threshold) * 255).astype(np.uint8))
    best_angle, best_score = 0.0, -1.0
    steps = int(SKEW_SEARCH_DEGREES / SKEW_STEP_DEGREES)
    for step in range(-steps, steps + 1):
        angle = step * SKEW_STEP_DEGREES
        rotated = np.asarray(binary.rotate(angle, resample=Image.Resampling.NEAREST), dtype=np.float32)
        profile = rotated.sum(axis=1)
        score = float(np.square(np.diff(profile)).sum())
        if score > best_score:
            best_angle, best_score = angle, score
    return best_angle


def rotate(pixels: NDArray[np.uint8], degrees: float) -> NDArray[np.uint8]:
    """Counter-clockwise by `degrees`, canvas expanded, corners filled with the border colour."""
    image = Image.fromarray(pixels)
    border = tuple(int(v) for v in np.median(np.concatenate([pixels[0], pixels[-1]]), axis=0))
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=border)
    return np.asarray(turned, dtype=np.uint8)


def unrotate_point(point: Point, degrees: float, before: tuple[int, int], after: tuple[int, int]) -> Point:
    """Where a point of the rotated (expanded) picture was in the picture before `rotate`.

    `before` and `after` are (width, height) of the picture before and after rotating.
    """
    radians = math.radians(degrees)
    x = point[0] - after[0] / 2
    y = point[1] - after[1] / 2
    # Pillow rotates counter-clockwise on screen (y down): undo with the opposite turn.
    ox = x * math.cos(radians) - y * math.sin(radians)
    oy = x * math.sin(radians) + y * math.cos(radians)
    return (ox + before[0] / 2, oy + before[1] / 2)
