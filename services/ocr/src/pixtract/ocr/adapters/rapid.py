"""RapidOCR (PP-OCR ONNX models shipped inside the wheel) behind the LineEngine protocol."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
from numpy.typing import NDArray
from rapidocr import RapidOCR
from rapidocr.utils.output import RapidOCROutput

from pixtract.ocr.domain.ocr import OcrLine


class RapidOcrEngine:
    def __init__(self) -> None:
        self._engine = RapidOCR()
        self.model_version = f"rapidocr-{version('rapidocr')}"

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]:
        result = self._engine(image)
        if not isinstance(result, RapidOCROutput):
            raise TypeError(f"unexpected RapidOCR output {type(result).__name__}")
        if result.txts is None or result.boxes is None or result.scores is None:
            return []
        lines = []
        for text, score, quad in zip(result.txts, result.scores, result.boxes, strict=True):
            xs = [float(p[0]) for p in quad]
            ys = [float(p[1]) for p in quad]
            lines.append(OcrLine(str(text), float(score), (min(xs), min(ys), max(xs), max(ys))))
        return lines
