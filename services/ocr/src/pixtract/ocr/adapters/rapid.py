"""RapidOCR (PP-OCR ONNX models shipped inside the wheel) behind the LineEngine protocol."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from rapidocr import RapidOCR
from rapidocr.utils.output import RapidOCROutput

from pixtract.ocr.domain.text import OcrLine

if TYPE_CHECKING:
    from pixtract.ocr.config import EngineSettings

# Bumped whenever post-processing (rows, types, fields) changes what a result says, so
# `reprocess` can tell old results from current ones even when the models did not change.
PIPELINE_VERSION = 2


@dataclass(frozen=True)
class RapidOptions:
    """The engine settings compared in bench/ocr.py; defaults are the chosen ones."""

    # The detector resizes so that the min (or max) side is `det_limit_side_len`.
    det_limit_type: Literal["min", "max"] = "min"
    det_limit_side_len: int = 736
    # Lines recognised with less confidence are dropped.
    text_score: float = 0.5
    # The 0/180° classifier: upside-down lines are rare in photos of documents.
    use_cls: bool = True
    # onnxruntime threads inside one engine; workers x threads should not exceed the cores.
    threads: int = 1

    @classmethod
    def of(cls, settings: EngineSettings, *, threads: int | None = None) -> RapidOptions:
        """The options the service's settings choose (`threads` overrides theirs)."""
        return cls(
            det_limit_type=settings.det_limit_type,
            det_limit_side_len=settings.det_limit_side_len,
            text_score=settings.text_score,
            use_cls=settings.use_cls,
            threads=settings.threads if threads is None else threads,
        )

    def params(self) -> dict[str, Any]:
        return {
            "Global.log_level": "warning",
            "Global.text_score": self.text_score,
            "Global.use_cls": self.use_cls,
            "Det.limit_type": self.det_limit_type,
            "Det.limit_side_len": self.det_limit_side_len,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }


def model_version() -> str:
    return f"rapidocr-{version('rapidocr')}+p{PIPELINE_VERSION}"


class RapidOcrEngine:
    """One RapidOCR instance: not known to be thread-safe (it keeps per-call state), so
    each worker thread owns its own (see pool.py)."""

    def __init__(self, options: RapidOptions | None = None) -> None:
        self.options = options or RapidOptions()
        self._engine = RapidOCR(params=self.options.params())
        self.model_version = model_version()

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]:
        result = self._engine(image)
        if not isinstance(result, RapidOCROutput):
            raise TypeError(f"unexpected RapidOCR output {type(result).__name__}")
        if result.txts is None or result.boxes is None or result.scores is None:
            return []
        lines = []
        for text, score, quad in zip(result.txts, result.scores, result.boxes, strict=True):
            corners = tuple((float(p[0]), float(p[1])) for p in quad)
            xs = [x for x, _ in corners]
            ys = [y for _, y in corners]
            lines.append(OcrLine(str(text), float(score), (min(xs), min(ys), max(xs), max(ys)), corners))
        return lines
