"""The values OCR works with: detected lines, rows of them, and what is read from rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from pixtract.ocr.domain.layout import Point, geometry


@dataclass(frozen=True)
class OcrLine:
    """One detector box and its recognised text, in original-image pixels."""

    text: str
    confidence: float
    # Axis-aligned: x0, y0, x1, y1.
    box: tuple[float, float, float, float]
    # The detector's quadrilateral (top-left, top-right, bottom-right, bottom-left) when the
    # engine gives one; its slope is what row grouping follows on a tilted page.
    quad: tuple[Point, ...] = ()

    def scaled(self, factor: float) -> OcrLine:
        """The same line in a picture `factor` times as large."""
        x0, y0, x1, y1 = self.box
        return OcrLine(
            self.text,
            self.confidence,
            (x0 * factor, y0 * factor, x1 * factor, y1 * factor),
            tuple((x * factor, y * factor) for x, y in self.quad),
        )


@dataclass(frozen=True)
class TextRow:
    """Boxes that sit on one printed row, left to right."""

    segments: tuple[OcrLine, ...]

    @property
    def text(self) -> str:
        return " ".join(segment.text.strip() for segment in self.segments)

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (
            min(s.box[0] for s in self.segments),
            min(s.box[1] for s in self.segments),
            max(s.box[2] for s in self.segments),
            max(s.box[3] for s in self.segments),
        )

    @property
    def height(self) -> float:
        return max(geometry(s).height for s in self.segments)


@dataclass(frozen=True)
class LineItem:
    description: str
    amount: str


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: str


@dataclass(frozen=True)
class OcrResult:
    content: str
    lines: list[OcrLine] = field(default_factory=list)
    document_type: str = "none"
    language: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    items: list[LineItem] = field(default_factory=list)
    key_values: list[KeyValue] = field(default_factory=list)
    # Why the document type was chosen (and what else scored), for debugging.
    evidence: list[str] = field(default_factory=list)
