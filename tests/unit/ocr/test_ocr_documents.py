"""Document types with their evidence, form key-values, language, and the whole interpretation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from pixtract.ocr.domain.classify import PictureFacts, classify
from pixtract.ocr.domain.forms import labelled, read_form
from pixtract.ocr.domain.language import detect_language
from pixtract.ocr.domain.ocr import interpret
from pixtract.ocr.domain.preprocess import estimate_skew, picture_facts, rotate, unrotate_point, upscale_small
from pixtract.ocr.domain.text import KeyValue, OcrLine, TextRow


def _row(*segments: tuple[str, float], y: float, height: float = 30) -> TextRow:
    return TextRow(tuple(OcrLine(text, 0.9, (x, y, x + 12 * len(text), y + height)) for text, x in segments))


def _rows(*texts: str) -> list[TextRow]:
    return [_row((text, 20), y=40 * i) for i, text in enumerate(texts)]


def _lines(rows: list[TextRow]) -> list[OcrLine]:
    return [segment for row in rows for segment in row.segments]


RECEIPT_ROWS = [
    _row(("GREEN GROCER", 150), y=0),
    _row(("2026-03-07", 180), y=40),
    _row(("Apples", 20), ("$3.49", 500), y=100),
    _row(("Bananas", 20), ("$1.99", 500), y=140),
    _row(("Whole milk", 20), ("$2.79", 500), y=180),
    _row(("Tax", 20), ("$0.66", 500), y=220),
    _row(("TOTAL", 20), ("$8.93", 500), y=260),
]


def test_receipt_from_keywords_and_price_column_with_evidence() -> None:
    rows = RECEIPT_ROWS
    verdict = classify(rows, read_form(rows))
    assert verdict.document_type == "receipt"
    assert verdict.evidence[0].startswith("receipt:")
    assert any("price column of 5 aligned amounts" in reason for reason in verdict.evidence)
    assert any("total row 'TOTAL $8.93'" in reason for reason in verdict.evidence)


def test_form_from_label_value_rows() -> None:
    rows = _rows(
        "MEMBERSHIP APPLICATION", "Name: Jane Doe", "Date of birth: 04/07/1990", "City: Springfield", "Phone: 555 0142"
    )
    form = read_form(rows)
    assert form.pairs[:2] == [KeyValue("Name", "Jane Doe"), KeyValue("Date of birth", "04/07/1990")]
    verdict = classify(rows, form)
    assert verdict.document_type == "form"
    assert "form: 4 'Label: value' rows, 0 aligned pairs" in verdict.evidence


def test_form_from_aligned_columns_without_colons() -> None:
    rows = [_row(("PATIENT REGISTRATION", 20), y=0)] + [
        _row((label, 20), (value, 380), y=60 + 40 * i)
        for i, (label, value) in enumerate([("Surname", "Smith"), ("First name", "John"), ("Doctor", "Dr. Evans")])
    ]
    form = read_form(rows)
    assert form.pairs == [KeyValue("Surname", "Smith"), KeyValue("First name", "John"), KeyValue("Doctor", "Dr. Evans")]
    assert classify(rows, form).document_type == "form"


def test_price_columns_are_not_form_columns() -> None:
    assert read_form(RECEIPT_ROWS).aligned_rows == 0


@pytest.mark.parametrize(
    "text", ["08:42 departure", "http://example.org", "Note 3: something", "A very long label that goes on: x"]
)
def test_colons_that_are_no_labels(text: str) -> None:
    assert labelled(text) is None


def test_note_from_prose_rows() -> None:
    rows = _rows(
        "Meeting notes",
        "We agreed to move the product launch to March.",
        "Anna will prepare the budget and the press release.",
        "The next meeting is on Thursday morning.",
    )
    assert classify(rows, read_form(rows)).document_type == "note"


def test_screenshot_from_screen_size_flat_colours_and_ui_words() -> None:
    rows = _rows("9:41", "Settings", "Wi-Fi", "Bluetooth", "Battery")
    verdict = classify(rows, read_form(rows), PictureFacts(1170, 2532, 0.97))
    assert verdict.document_type == "screenshot"
    assert "screenshot: 1170x2532 is a screen size" in verdict.evidence
    assert "screenshot: status-bar clock in the top row" in verdict.evidence


def test_a_photo_of_few_words_is_other_and_no_text_is_none() -> None:
    rows = _rows("EXIT")
    assert classify(rows, read_form(rows), PictureFacts(4032, 3024, 0.2)).document_type == "other"
    assert classify([], read_form([])).document_type == "none"


def test_interpretation_fills_receipt_fields_only_for_receipts() -> None:
    result = interpret(_lines(RECEIPT_ROWS))
    assert result.document_type == "receipt"
    assert result.fields == {
        "vendor": "GREEN GROCER",
        "date": "2026-03-07",
        "total": "8.93",
        "currency": "USD",
        "tax": "0.66",
    }
    assert [item.description for item in result.items] == ["Apples", "Bananas", "Whole milk"]
    assert result.content.splitlines()[2] == "Apples $3.49"
    assert result.key_values == []

    note = interpret(_lines(_rows("Total eclipse of the heart", "is a song we sang all night", "on the long way home")))
    assert note.fields == {}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("We agreed to move the product launch to the second week of March.", "en"),
        ("Das Wetter ist heute kalt und windig, aber wir waren trotzdem am Hafen.", "de"),
        ("Merci beaucoup pour ta lettre et les photos de vacances.", "fr"),
        ("Mezclar la harina con los huevos y la leche hasta que la masa quede suave.", "es"),
        ("BÄCKEREI MÜLLER BRÖTCHEN ROGGENBROT APFELKUCHEN SUMME MWST", "de"),
        ("TOTAL 9.80", ""),  # too short to tell
    ],
)
def test_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_tiny_pictures_are_upscaled_and_large_ones_left_alone() -> None:
    small = np.zeros((191, 384, 3), dtype=np.uint8)
    upscaled, factor = upscale_small(small, 1200)
    assert factor == pytest.approx(3.0)  # capped
    assert upscaled.shape == (573, 1152, 3)
    big = np.zeros((1300, 900, 3), dtype=np.uint8)
    assert upscale_small(big, 1200)[1] == 1.0


def _text_block() -> np.ndarray:
    image = Image.new("RGB", (600, 400), "white")
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.rectangle((40, 40 + 40 * i, 560, 56 + 40 * i), fill="black")
    return np.asarray(image)


def test_projection_profile_finds_the_tilt() -> None:
    tilted = rotate(_text_block(), 4.0)
    assert estimate_skew(tilted) == pytest.approx(-4.0, abs=0.6)
    assert estimate_skew(_text_block()) == pytest.approx(0.0, abs=0.6)


def test_points_of_a_rotated_picture_map_back() -> None:
    pixels = _text_block()
    turned = rotate(pixels, 7.0)
    before, after = (pixels.shape[1], pixels.shape[0]), (turned.shape[1], turned.shape[0])
    # The picture's centre stays the centre; a corner moves by the rotation.
    assert unrotate_point((after[0] / 2, after[1] / 2), 7.0, before, after) == pytest.approx((300, 200))
    radians = math.radians(7.0)
    dx, dy = -300, -200
    rotated_corner = (
        after[0] / 2 + dx * math.cos(radians) + dy * math.sin(radians),
        after[1] / 2 - dx * math.sin(radians) + dy * math.cos(radians),
    )
    assert unrotate_point(rotated_corner, 7.0, before, after) == pytest.approx((0, 0), abs=1e-6)


def test_picture_facts_tell_flat_renderings_from_photos() -> None:
    flat = np.full((400, 300, 3), 240, dtype=np.uint8)
    flat[50:100] = (30, 60, 200)
    noisy = np.random.default_rng(7).integers(0, 255, size=(400, 300, 3), dtype=np.uint8)
    assert picture_facts(flat, (300, 400)).flat_colours > 0.99
    assert picture_facts(noisy, (300, 400)).flat_colours < 0.1
