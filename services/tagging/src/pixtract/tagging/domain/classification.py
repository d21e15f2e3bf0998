"""Turning pixels into the classifier's input tensor.

EfficientNet-Lite0 takes 224x224 RGB: the image's shorter side is scaled to 256 and the
centre 224x224 cut out (the usual 0.875 crop), values normalised as `(x - 127) / 128`, the
TensorFlow Lite models' own normalisation (sharper here than ImageNet's mean and std).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

INPUT_SIDE = 224
RESIZE_SIDE = 256
MEAN = 127.0
SCALE = 128.0


def model_input(image: Image.Image) -> NDArray[np.float32]:
    """A 3 x 224 x 224 float32 array (CHW) from an RGB or RGBA image."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    factor = RESIZE_SIDE / min(width, height)
    resized = rgb.resize(
        (max(INPUT_SIDE, round(width * factor)), max(INPUT_SIDE, round(height * factor))),
        Image.Resampling.BILINEAR,
    )
    left = (resized.width - INPUT_SIDE) // 2
    top = (resized.height - INPUT_SIDE) // 2
    crop = resized.crop((left, top, left + INPUT_SIDE, top + INPUT_SIDE))
    pixels = (np.asarray(crop, dtype=np.float32) - MEAN) / SCALE
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))
