"""The DCT perceptual hash: stable under resizing and recompression, far apart for different images."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from pixtract.tagging.domain.analysis import analyse_image
from pixtract.tagging.domain.perceptual_hash import dct_matrix, hamming_distance, perceptual_hash

MAX_PIXELS = 100_000_000


def _scene(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A photo-like picture: soft overlapping shapes of random colours."""
    rng = np.random.default_rng(seed)

    def colour() -> tuple[int, int, int]:
        red, green, blue = (int(v) for v in rng.integers(0, 256, 3))
        return red, green, blue

    image = Image.new("RGB", size, colour())
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(60, 400, 2))
        draw.ellipse([x - w // 2, y - h // 2, x + w // 2, y + h // 2], fill=colour())
    return image.filter(ImageFilter.GaussianBlur(3))


def _encode(image: Image.Image, image_format: str, **options: int) -> bytes:
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()


def test_hash_is_sixteen_hex_digits_and_deterministic() -> None:
    first = perceptual_hash(_scene(1))
    assert len(first) == 16
    int(first, 16)
    assert perceptual_hash(_scene(1)) == first


def test_resized_and_recompressed_copies_stay_within_four_bits() -> None:
    for seed in range(8):
        original = analyse_image(_encode(_scene(seed), "PNG"), max_pixels=MAX_PIXELS).phash
        smaller = _scene(seed).resize((400, 300), Image.Resampling.BILINEAR)
        copy = analyse_image(_encode(smaller, "JPEG", quality=60), max_pixels=MAX_PIXELS).phash
        assert hamming_distance(original, copy) <= 4, seed


def test_different_images_are_far_apart() -> None:
    hashes = [perceptual_hash(_scene(seed)) for seed in range(8)]
    distances = [hamming_distance(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) >= 16
    assert np.mean(distances) > 24


def test_dct_matrix_is_orthonormal() -> None:
    dct = dct_matrix(32)
    assert np.allclose(dct @ dct.T, np.eye(32))


def test_hamming_distance_counts_differing_bits() -> None:
    assert hamming_distance("0000000000000000", "0000000000000000") == 0
    assert hamming_distance("0000000000000000", "ffffffffffffffff") == 64
    assert hamming_distance("8000000000000001", "0000000000000000") == 2
