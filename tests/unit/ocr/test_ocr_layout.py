"""Row grouping: prices stay on their description's row on level, tilted and warped pages."""

from __future__ import annotations

import math

import pytest

from pixtract.ocr.domain.layout import group_rows
from pixtract.ocr.domain.ocr import OcrLine, reading_order


def _line(text: str, x0: float, y0: float, x1: float, y1: float) -> OcrLine:
    return OcrLine(text, 0.9, (x0, y0, x1, y1), ((x0, y0), (x1, y0), (x1, y1), (x0, y1)))


def _turned(line: OcrLine, degrees: float, centre: tuple[float, float] = (300, 300)) -> OcrLine:
    """The line as it appears on a page turned by `degrees` (counter-clockwise on screen)."""
    angle = math.radians(degrees)
    quad = []
    for x, y in line.quad:
        dx, dy = x - centre[0], y - centre[1]
        quad.append(
            (
                centre[0] + dx * math.cos(angle) + dy * math.sin(angle),
                centre[1] - dx * math.sin(angle) + dy * math.cos(angle),
            )
        )
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    return OcrLine(line.text, line.confidence, (min(xs), min(ys), max(xs), max(ys)), tuple(quad))


RECEIPT = [
    _line("CORNER CAFE", 200, 40, 400, 70),
    _line("Cappuccino", 50, 150, 230, 180),
    _line("3.20", 520, 150, 590, 180),
    _line("Croissant", 50, 200, 210, 230),
    _line("2.50", 520, 200, 590, 230),
    _line("Orange juice", 50, 250, 260, 280),
    _line("4.10", 520, 250, 590, 280),
    _line("TOTAL EUR", 50, 320, 220, 350),
    _line("9.80", 520, 320, 590, 350),
]
EXPECTED_ROWS = [
    ["CORNER CAFE"],
    ["Cappuccino", "3.20"],
    ["Croissant", "2.50"],
    ["Orange juice", "4.10"],
    ["TOTAL EUR", "9.80"],
]


def _texts(rows: list[list[OcrLine]]) -> list[list[str]]:
    return [[line.text for line in row] for row in rows]


def test_level_receipt_rows_pair_descriptions_with_prices() -> None:
    assert _texts(group_rows(list(reversed(RECEIPT)))) == EXPECTED_ROWS


@pytest.mark.parametrize("degrees", [-5.0, -3.0, 3.0, 5.0])
def test_tilted_receipt_keeps_each_price_on_its_row(degrees: float) -> None:
    # At 5° a price 400 px to the right sits 35 px (more than a row height) off its description.
    tilted = [_turned(line, degrees) for line in RECEIPT]
    assert _texts(group_rows(tilted)) == EXPECTED_ROWS


def test_centre_comparison_alone_would_fail_at_this_tilt() -> None:
    tilted = [_turned(line, 5.0) for line in RECEIPT]
    cappuccino = next(line for line in tilted if line.text == "Cappuccino")
    price = next(line for line in tilted if line.text == "3.20")
    offset = abs((cappuccino.box[1] + cappuccino.box[3]) / 2 - (price.box[1] + price.box[3]) / 2)
    assert offset > 30  # more than the 30 px row height: the old grouping's failure


def test_boxes_without_quads_still_group_by_centres() -> None:
    lines = [OcrLine(line.text, line.confidence, line.box) for line in RECEIPT]
    assert _texts(group_rows(lines)) == EXPECTED_ROWS


def test_overlapping_boxes_are_never_one_row() -> None:
    # Two lines close together vertically but over the same x range are two rows.
    rows = group_rows([_line("upper", 50, 100, 300, 130), _line("lower", 60, 112, 310, 142)])
    assert _texts(rows) == [["upper"], ["lower"]]


def test_reading_order_flattens_rows() -> None:
    assert [line.text for line in reading_order(RECEIPT[::-1])][:3] == ["CORNER CAFE", "Cappuccino", "3.20"]


def test_empty_page_has_no_rows() -> None:
    assert group_rows([]) == []
