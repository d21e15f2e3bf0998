"""Dates, amounts, currencies and receipt fields, in the many ways receipts print them."""

from __future__ import annotations

import pytest

from pixtract.ocr.domain.dates import parse_date
from pixtract.ocr.domain.money import find_amounts, parse_amount, pick_currency
from pixtract.ocr.domain.receipts import read_receipt
from pixtract.ocr.domain.text import LineItem, OcrLine, TextRow


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19/11/2026", "2026-11-19"),
        ("2026-11-19", "2026-11-19"),
        ("2026/11/19 14:02", "2026-11-19"),
        ("Nov 19 2026", "2026-11-19"),
        ("Nov. 19, 2026", "2026-11-19"),
        ("November 19th, 2026", "2026-11-19"),
        ("19 Nov 2026", "2026-11-19"),
        ("19-Nov-26", "2026-11-19"),
        ("19. November 2026", "2026-11-19"),
        ("19 novembre 2026", "2026-11-19"),
        ("5 dic 2026", "2026-12-05"),
        ("19.11.26", "2026-11-19"),
        ("Datum: 05.10.26 10:14", "2026-10-05"),
        ("11/19/2026", "2026-11-19"),  # 19 cannot be a month: month first
        ("03/04/2026", "2026-04-03"),  # ambiguous: day first unless told otherwise
        ("Date 2026.03.07", "2026-03-07"),
        ("19/11/202608:42", "2026-11-19"),  # OCR dropped the space before the time
    ],
)
def test_dates_are_normalised_to_iso(text: str, expected: str) -> None:
    assert parse_date(text) == expected


def test_ambiguous_slash_dates_are_month_first_when_asked() -> None:
    assert parse_date("03/04/2026", month_first=True) == "2026-03-04"
    # Dots stay day-first even on an American receipt.
    assert parse_date("03.04.2026", month_first=True) == "2026-04-03"


@pytest.mark.parametrize(
    "text",
    ["31/02/2026", "2026-13-01", "12.50", "Tel 030 1234567", "1.2.3.4", "Table 12", "19/11/1850", "13/13/2026"],
)
def test_non_dates_are_not_dates(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.20", "3.20"),
        ("2,40", "2.40"),
        ("$3.49", "3.49"),
        ("27,00 €", "27.00"),
        ("TOTAL 1,234.50", "1234.50"),
        ("SUMME 1.234,50", "1234.50"),
        ("Refund -5.00", "-5.00"),
        ("Qty 2 x 3.50 7.00", "7.00"),
        ("CHF 1'250.00", "1250.00"),
    ],
)
def test_amounts_take_the_last_price_on_a_row(text: str, expected: str) -> None:
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["VAT 20.00%", "Table 12", "Tel 555 0142", "2026-11-19", "1.234.5"])
def test_non_amounts(text: str) -> None:
    assert find_amounts(text) == []


def test_currency_prefers_the_total_row_then_the_majority() -> None:
    assert pick_currency(["TOTAL CHF 12.00"], ["€ 3.00", "€ 4.00"]) == "CHF"
    assert pick_currency(["TOTAL 12.00"], ["£3.00", "£4.00", "EUR"]) == "GBP"
    assert pick_currency([], ["no money here"]) is None
    assert pick_currency(["TOTAL $ 9.00"], []) == "USD"


def _rows(*texts: str | tuple[str, str]) -> list[TextRow]:
    rows = []
    for index, text in enumerate(texts):
        y = 40.0 * index
        if isinstance(text, tuple):
            left, right = text
            rows.append(TextRow((OcrLine(left, 0.9, (10, y, 200, y + 30)), OcrLine(right, 0.9, (420, y, 500, y + 30)))))
        else:
            rows.append(TextRow((OcrLine(text, 0.9, (10, y, 300, y + 30)),)))
    return rows


def test_receipt_fields_and_items() -> None:
    receipt = read_receipt(
        _rows(
            "CORNER CAFE",
            "12 Harbour Street, Leith",
            "19/11/2026 08:42",
            ("Cappuccino", "3.20"),
            ("Croissant", "2.50"),
            ("Orange juice", "4.10"),
            ("SUBTOTAL", "8.91"),
            ("VAT 10%", "0.89"),
            ("TOTAL EUR", "9.80"),
            ("CASH", "20.00"),
            ("CHANGE", "10.20"),
        )
    )
    assert receipt.fields == {
        "vendor": "CORNER CAFE",
        "date": "2026-11-19",
        "total": "9.80",
        "currency": "EUR",
        "tax": "0.89",
        "subtotal": "8.91",
    }
    assert receipt.items == [
        LineItem("Cappuccino", "3.20"),
        LineItem("Croissant", "2.50"),
        LineItem("Orange juice", "4.10"),
    ]
    assert "subtotal + tax = total" in receipt.evidence


def test_total_is_never_the_subtotal_and_tolerates_one_ocr_slip() -> None:
    receipt = read_receipt(_rows("SHOP", ("Item", "5.00"), ("SUB TOTAL", "5.00"), ("T0TAI", "5.50")))
    assert receipt.fields["total"] == "5.50"


def test_amount_due_beats_a_plain_total_and_us_dates_read_month_first() -> None:
    receipt = read_receipt(
        _rows("FUEL STOP 24", "03/04/2026", ("Unleaded", "$40.12"), ("TOTAL", "$40.12"), ("AMOUNT DUE", "$38.12"))
    )
    assert receipt.fields["total"] == "38.12"
    assert receipt.fields["currency"] == "USD"
    assert receipt.fields["date"] == "2026-03-04"


def test_total_amount_on_the_next_row() -> None:
    receipt = read_receipt(_rows("KIOSK", ("Paper", "2.00"), "Gesamtbetrag", "2,00 EUR"))
    assert receipt.fields["total"] == "2.00"
    assert receipt.fields["currency"] == "EUR"


def test_vendor_skips_headings_addresses_and_phone_numbers() -> None:
    receipt = read_receipt(
        _rows("RECEIPT", "Tel. 030 1234567", "Hauptstraße 5, 10115 Berlin", "Bäckerei Müller", ("Brot", "3,50"))
    )
    assert receipt.fields["vendor"] == "Bäckerei Müller"


def test_missing_fields_are_absent_never_invented() -> None:
    receipt = read_receipt(_rows("Just a line of text", "and another"))
    assert receipt.fields == {}
    assert receipt.items == []


def test_several_tax_rows_are_added_and_percentages_ignored() -> None:
    receipt = read_receipt(_rows("SHOP", ("A", "10.70"), ("MwSt 7%", "0,70"), ("MwSt 19%", "1,90"), ("SUMME", "12,60")))
    assert receipt.fields["tax"] == "2.60"
    assert receipt.fields["total"] == "12.60"
