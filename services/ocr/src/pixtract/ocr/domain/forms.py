"""Key-value pairs of forms: "Label: value" rows, and aligned two-column layouts where the
labels share one left edge and the values another."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from pixtract.ocr.domain.money import find_amounts
from pixtract.ocr.domain.text import KeyValue, OcrLine, TextRow

# A label: starts with a letter, no digits, at most five words; then a colon and a value.
_LABELLED = re.compile(r"^\s*(?P<key>[^\W\d_][^\d:\uff1a]{0,40}?)\s*[:\uff1a]\s*(?P<value>\S.*)$")
MAX_LABEL_WORDS = 5
# Values aligned when their left edges lie within this many row heights of each other.
ALIGN_TOLERANCE = 0.8
MIN_ALIGNED_ROWS = 3


@dataclass(frozen=True)
class FormReading:
    pairs: list[KeyValue]
    labelled_rows: int
    aligned_rows: int


def labelled(text: str) -> KeyValue | None:
    """`Label: value`, unless the colon belongs to a time, a URL or a ratio."""
    match = _LABELLED.match(text)
    if match is None:
        return None
    value = match["value"].strip()
    if value.startswith("//") or len(match["key"].split()) > MAX_LABEL_WORDS:
        return None
    return KeyValue(" ".join(match["key"].split()), value)


def _split_pair(row: TextRow) -> tuple[OcrLine, OcrLine] | None:
    """The label and value boxes of a two-box row whose gap is clearly wider than a space."""
    if len(row.segments) != 2:
        return None
    left, right = row.segments
    gap = right.box[0] - left.box[2]
    return (left, right) if gap > 0.8 * row.height else None


def _aligned(edges: Sequence[float], height: float) -> list[bool]:
    """Which edges lie near the median edge."""
    if not edges:
        return []
    centre = statistics.median(edges)
    return [abs(edge - centre) <= ALIGN_TOLERANCE * height for edge in edges]


def read_form(rows: Sequence[TextRow]) -> FormReading:
    pairs: list[tuple[int, KeyValue]] = []
    labelled_rows = 0
    taken: set[int] = set()
    for index, row in enumerate(rows):
        if (pair := labelled(row.text)) is not None:
            pairs.append((index, pair))
            taken.add(index)
            labelled_rows += 1

    candidates = []
    for index, row in enumerate(rows):
        if index in taken or (split := _split_pair(row)) is None:
            continue
        label, value = split
        # Prices make a receipt's item column, not a form's value column.
        if find_amounts(value.text) or not any(ch.isalpha() for ch in label.text):
            continue
        candidates.append((index, label, value, row.height))
    aligned_rows = 0
    if len(candidates) >= MIN_ALIGNED_ROWS:
        height = statistics.median(c[3] for c in candidates)
        labels_ok = _aligned([c[1].box[0] for c in candidates], height)
        values_ok = _aligned([c[2].box[0] for c in candidates], height)
        chosen = [c for c, a, b in zip(candidates, labels_ok, values_ok, strict=True) if a and b]
        if len(chosen) >= MIN_ALIGNED_ROWS:
            aligned_rows = len(chosen)
            for index, label, value, _ in chosen:
                pairs.append((index, KeyValue(label.text.strip().rstrip(":"), value.text.strip())))
    pairs.sort(key=lambda pair: pair[0])
    return FormReading([pair for _, pair in pairs], labelled_rows, aligned_rows)
