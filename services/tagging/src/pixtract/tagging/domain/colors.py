"""Dominant colours of an image, each with a human colour name.

Pillow's median-cut quantisation (refined by k-means) on a small thumbnail finds the
clusters; each is named after the nearest reference colour in OKLab. OKLab is CIELAB
redone (Ottosson, 2020) so that Euclidean distance follows perceived difference; CIELAB
itself bends saturated blues towards purple (#1414cc came out "purple" there). The names
are the eleven basic colour terms (Berlin and Kay), the words people type into a search
box; each has a few reference shades so that navy, sky blue and teal all come out "blue".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image

MAX_COLORS = 5
THUMBNAIL_SIDE = 128
# Pixels at most this opaque are background, not colour (transparent PNG and WebP).
OPAQUE_ALPHA = 128
# Pillow's median cut always splits the most populous box, so a small but distinct colour
# (a white sign on a lawn) ends up averaged into a neighbour. k-means refinement of the
# median-cut palette separates it again; Pillow iterates until at most this many pixels
# change cluster. Typical photos take ~2 ms at 128 px, pure noise ~70 ms.
KMEANS_SETTLED_PIXELS = 16
# Smaller clusters are mostly blended edges and JPEG ringing: colours nobody sees in the
# picture, often with names it does not deserve (a purple seam between red and blue).
MIN_FRACTION = 0.01

REFERENCE_SHADES: Mapping[str, Sequence[str]] = {
    "black": ("000000", "1c1c1c"),
    "grey": ("808080", "4d4d4d", "b3b3b3"),
    "white": ("ffffff", "f2f2f2"),
    "red": ("ff0000", "b22222", "dc143c", "8b0000"),
    "orange": ("ffa500", "ff8c00", "e67e22", "ff7f50"),
    "yellow": ("ffff00", "ffd700", "fff176"),
    "green": ("008000", "00ff00", "228b22", "556b2f", "90ee90", "006400"),
    "blue": ("0000ff", "000080", "4169e1", "87ceeb", "add8e6", "1e90ff", "00ffff", "008080"),
    "purple": ("800080", "8a2be2", "9370db", "4b0082", "ff00ff", "b19cd9"),
    "pink": ("ffc0cb", "ff69b4", "ff1493", "db7093", "fa8072", "f4c2c2"),
    "brown": ("8b4513", "a0522d", "654321", "d2691e", "d2b48c", "deb887"),
}

# OKLab's two matrices: linear sRGB -> cone responses (LMS), cube-rooted LMS -> Lab.
_LINEAR_SRGB_TO_LMS = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_OKLAB = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)


@dataclass(frozen=True)
class DominantColor:
    name: str
    hex: str
    fraction: float


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def srgb_to_oklab(rgb: NDArray[np.integer] | NDArray[np.floating]) -> NDArray[np.float64]:
    """OKLab of sRGB colours given as 0-255 values in the last axis."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lab: NDArray[np.float64] = np.cbrt(linear @ _LINEAR_SRGB_TO_LMS.T) @ _LMS_TO_OKLAB.T
    return lab


_REFERENCE_NAMES = [name for name, shades in REFERENCE_SHADES.items() for _ in shades]
_REFERENCE_OKLAB = srgb_to_oklab(np.array([hex_to_rgb(h) for shades in REFERENCE_SHADES.values() for h in shades]))


def color_name(rgb: tuple[int, int, int]) -> str:
    """The basic colour term whose reference shade is nearest in OKLab."""
    distances = np.linalg.norm(_REFERENCE_OKLAB - srgb_to_oklab(np.array(rgb)), axis=1)
    return _REFERENCE_NAMES[int(np.argmin(distances))]


def dominant_colors(image: Image.Image, max_colors: int = MAX_COLORS) -> list[DominantColor]:
    """Up to `max_colors` named colours, largest first, with the fraction of the image each covers.

    Fractions are of the opaque pixels, over the colours returned, so they sum to 1.
    Clusters that get the same name are merged (two shades of sky are one "blue"), keeping
    the hex of the larger one.
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    thumbnail = image.convert("RGBA" if has_alpha else "RGB")
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    if has_alpha:
        opaque = np.asarray(thumbnail.getchannel("A")) > OPAQUE_ALPHA
        thumbnail = thumbnail.convert("RGB")
    else:
        opaque = np.ones((thumbnail.height, thumbnail.width), dtype=bool)
    quantised = thumbnail.quantize(colors=max_colors, method=Image.Quantize.MEDIANCUT, kmeans=KMEANS_SETTLED_PIXELS)
    counts = np.bincount(np.asarray(quantised)[opaque].ravel(), minlength=max_colors)
    palette = quantised.getpalette() or []
    # Clusters come largest first, so the first of each name gives its hex.
    by_name: dict[str, tuple[int, str]] = {}
    for index in np.argsort(-counts, kind="stable"):
        pixels = int(counts[index])
        if pixels == 0:
            break
        red, green, blue = palette[3 * index : 3 * index + 3]
        name = color_name((red, green, blue))
        merged, hex_value = by_name.get(name, (0, f"#{red:02x}{green:02x}{blue:02x}"))
        by_name[name] = (merged + pixels, hex_value)
    total = int(counts.sum())
    kept = [
        (name, pixels, hex_value)
        for name, (pixels, hex_value) in sorted(by_name.items(), key=lambda item: item[1][0], reverse=True)
        if pixels >= MIN_FRACTION * total
    ][:max_colors]
    kept_total = sum(pixels for _, pixels, _ in kept)
    return [DominantColor(name, hex_value, pixels / kept_total) for name, pixels, hex_value in kept]
