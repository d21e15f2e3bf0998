"""Faces with libfacedetection (the `yuface` wheel, BSD-3-Clause; its CNN weights are
compiled into the library, so nothing is downloaded or loaded from disk).

libfacedetection runs its convolutions with OpenMP: `OMP_NUM_THREADS` (default 1 here, set
before the library loads) keeps it from taking every core while the thread pool already
runs one image per worker.
"""

from __future__ import annotations

import os
import threading
from importlib.metadata import version

import numpy as np
from numpy.typing import NDArray

from pixtract.tagging.domain.faces import FaceBox

os.environ.setdefault("OMP_NUM_THREADS", "1")

import yuface

# Its own scores below this were mostly textures and patterns (a star field, a knit).
DEFAULT_MIN_CONFIDENCE = 0.75
# Faces smaller than this fraction of the shorter side are noise at analysis size.
MIN_FACE_FRACTION = 0.02


def face_detector_version() -> str:
    return f"yuface-{version('yuface')}"


class YuFaceDetector:
    def __init__(self, *, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> None:
        self.min_confidence = min_confidence
        self.version = face_detector_version()
        # The C library keeps per-call buffers only, but has never promised reentrancy.
        self._lock = threading.Lock()

    def detect(self, rgb: NDArray[np.uint8]) -> list[FaceBox]:
        height, width = rgb.shape[:2]
        if height < 16 or width < 16:
            return []
        bgr = np.ascontiguousarray(rgb[:, :, 2::-1])
        with self._lock:
            confidences, boxes, _ = yuface.detect(bgr, conf=self.min_confidence)
        minimum = MIN_FACE_FRACTION * min(width, height)
        found = [
            FaceBox(float(x), float(y), float(min(width, x + w)), float(min(height, y + h)), round(int(c) / 100, 4))
            for c, (x, y, w, h) in zip(confidences.tolist(), boxes.tolist(), strict=True)
            if w >= minimum and h >= minimum
        ]
        return sorted(found, key=lambda box: -box.confidence)
