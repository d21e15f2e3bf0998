"""Faces: how many, and where. ImageNet has no "person" class, so people come from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class FaceBox:
    """An axis-aligned box in the pixels it was found in (analysis scales it to the original)."""

    x0: float
    y0: float
    x1: float
    y1: float
    confidence: float

    def scaled(self, factor: float) -> FaceBox:
        return FaceBox(
            round(self.x0 * factor, 1),
            round(self.y0 * factor, 1),
            round(self.x1 * factor, 1),
            round(self.y1 * factor, 1),
            self.confidence,
        )


class FaceDetector(Protocol):
    version: str

    def detect(self, rgb: NDArray[np.uint8]) -> list[FaceBox]:
        """Faces in an H x W x 3 RGB image, most confident first."""
        ...
