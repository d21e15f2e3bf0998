"""64-bit DCT perceptual hash (pHash): 32x32 grey, 2-D DCT, 8x8 lowest frequencies, median threshold.

Near-duplicates (resized, recompressed, lightly edited copies) differ in a few bits;
unrelated images differ in about half of them. Computed with numpy alone: a 2-D DCT of
32x32 pixels is two small matrix products, so scipy is not worth a dependency.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIDE = 8
SAMPLE_SIDE = 32


@cache
def dct_matrix(size: int) -> NDArray[np.float64]:
    """The orthonormal DCT-II matrix: `D @ x` transforms the columns of `x`."""
    k = np.arange(size)[:, np.newaxis]
    n = np.arange(size)[np.newaxis, :]
    matrix: NDArray[np.float64] = np.sqrt(2 / size) * np.cos(np.pi * (2 * n + 1) * k / (2 * size))
    matrix[0, :] = np.sqrt(1 / size)
    return matrix


def perceptual_hash(image: Image.Image) -> str:
    """16 hex digits: the signs of the 8x8 lowest DCT frequencies against their median."""
    grey = image.convert("L").resize((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    dct = dct_matrix(SAMPLE_SIDE)
    low_frequencies = (dct @ pixels @ dct.T)[:HASH_SIDE, :HASH_SIDE]
    bits = (low_frequencies > np.median(low_frequencies)).ravel()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return f"{value:0{HASH_SIDE * HASH_SIDE // 4}x}"


def hamming_distance(first: str, second: str) -> int:
    """How many of the 64 bits differ between two hashes."""
    return (int(first, 16) ^ int(second, 16)).bit_count()
