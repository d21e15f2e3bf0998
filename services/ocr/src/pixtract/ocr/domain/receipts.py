"""Receipt fields from rows in reading order: vendor, date, total, currency, tax, subtotal
and line items. A field the rows do not clearly show is left out, never guessed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pixtract.ocr.domain.dates import parse_date
from pixtract.ocr.domain.money import (
    SYMBOLS,
    Amount,
    currencies_in,
    find_amounts,
    format_amount,
    pick_currency,
)
from pixtract.ocr.domain.text import LineItem, TextRow

# Words are compared upper-cased, letters only; OCR's usual slips (0 for O, 1 for I) are undone.
_WORD = re.compile(r"[A-Za-zÀ-ÿ0-9]+")
_DIGIT_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})

# Strong phrases first: when a receipt prints both "TOTAL" and "AMOUNT DUE", the latter is the charge.
TOTAL_PHRASES: tuple[tuple[str, ...], ...] = (
    ("GRAND", "TOTAL"),
    ("AMOUNT", "DUE"),
    ("TOTAL", "DUE"),
    ("BALANCE", "DUE"),
    ("ZU", "ZAHLEN"),
    ("TOTAL", "TTC"),
)
TOTAL_WORDS = frozenset({"TOTAL", "SUMME", "GESAMT", "GESAMTBETRAG", "TOTALE", "IMPORTE", "MONTANT", "BETRAG"})
SUBTOTAL_WORDS = frozenset({"SUBTOTAL", "ZWISCHENSUMME", "NETTO", "SUBTOTALE", "NET"})
TAX_WORDS = frozenset({"TAX", "VAT", "MWST", "UST", "IVA", "TVA", "GST", "HST", "PST", "STEUER", "MEHRWERTSTEUER"})
INCLUDED_WORDS = frozenset({"INCL", "INKL", "INC", "INCLUDED", "ENTHALTEN"})
# Rows about payment, not purchases: never items, never the total.
PAYMENT_WORDS = frozenset(
    {
        "CASH",
        "CHANGE",
        "CARD",
        "VISA",
        "MASTERCARD",
        "AMEX",
        "DEBIT",
        "CREDIT",
        "TIP",
        "BAR",
        "RUCKGELD",
        "RÜCKGELD",
        "GEGEBEN",
        "PAID",
        "TENDER",
        "TENDERED",
        "EC",
        "GIROCARD",
        "SAVINGS",
        "SAVED",
        "ITEMS",
        "QTY",
    }
)
# Headings that are no shop's name.
NOT_VENDOR_WORDS = frozenset(
    {
        "RECEIPT",
        "INVOICE",
        "WELCOME",
        "KASSENBON",
        "RECHNUNG",
        "QUITTUNG",
        "BON",
        "TICKET",
        "COPY",
        "ORDER",
        "CUSTOMER",
        "KUNDENBELEG",
        "BELEG",
        "FACTURE",
        "RICEVUTA",
        "SCONTRINO",
        "RECIBO",
        "TEL",
        "PHONE",
        "FAX",
    }
)
STREET_WORDS = frozenset(
    {
        "STREET",
        "ST",
        "ROAD",
        "RD",
        "AVENUE",
        "AVE",
        "ROUTE",
        "LANE",
        "BLVD",
        "BOULEVARD",
        "DRIVE",
        "DR",
        "WAY",
        "STRASSE",
        "STRAßE",
        "STR",
        "PLATZ",
        "WEG",
        "GASSE",
        "ALLEE",
        "RUE",
        "VIA",
        "CALLE",
        "PLAZA",
        "SQUARE",
        "SQ",
    }
)
_STREET_SUFFIX = re.compile(r"(STRASSE|STRAßE|STR|WEG|GASSE|PLATZ|ALLEE)$")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b")
_URL_OR_MAIL = re.compile(r"(www\.|https?:|@|\.com\b|\.de\b|\.org\b)", re.IGNORECASE)


def words(text: str) -> list[str]:
    out = []
    for word in _WORD.findall(text.upper()):
        letters = sum(ch.isalpha() for ch in word)
        # "T0TAL" → "TOTAL", but "1234" stays a number.
        out.append(word.translate(_DIGIT_LOOKALIKES) if letters >= len(word) / 2 and letters > 0 else word)
    return out


def _near(word: str, target: str) -> bool:
    """Equal, or one edit apart for words of five letters or more (OCR drops or swaps one)."""
    if word == target:
        return True
    if len(target) < 5 or abs(len(word) - len(target)) > 1:
        return False
    previous = list(range(len(target) + 1))
    for i, a in enumerate(word, start=1):
        current = [i]
        for j, b in enumerate(target, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return previous[-1] <= 1


def _has(row_words: Sequence[str], vocabulary: frozenset[str]) -> bool:
    return any(_near(word, target) for word in row_words for target in vocabulary)


def _has_phrase(row_words: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(all(_near(row_words[i + k], phrase[k]) for k in range(n)) for i in range(len(row_words) - n + 1))


def is_subtotal_row(row_words: Sequence[str]) -> bool:
    return _has(row_words, SUBTOTAL_WORDS) or _has_phrase(row_words, ("SUB", "TOTAL"))


def is_tax_row(row_words: Sequence[str]) -> bool:
    if not _has(row_words, TAX_WORDS):
        return False
    # "TOTAL incl. VAT" is the total; "TOTAL TAX" is tax.
    return not (_has(row_words, TOTAL_WORDS) and _has(row_words, INCLUDED_WORDS))


def total_priority(row_words: Sequence[str]) -> int:
    """2 for "AMOUNT DUE"-like phrases, 1 for a plain TOTAL, 0 for anything else."""
    if is_subtotal_row(row_words) or is_tax_row(row_words) or _has(row_words, PAYMENT_WORDS):
        return 0
    if any(_has_phrase(row_words, phrase) for phrase in TOTAL_PHRASES):
        return 2
    return 1 if _has(row_words, TOTAL_WORDS) else 0


def is_payment_row(row_words: Sequence[str]) -> bool:
    return _has(row_words, PAYMENT_WORDS)


def _only_amount(text: str) -> bool:
    """A row that holds an amount and nothing else but currency marks."""
    amounts = find_amounts(text)
    if len(amounts) != 1:
        return False
    rest = text[: amounts[0].start] + text[amounts[0].end :]
    rest = re.sub(r"[A-Z]{3}", "", rest)
    for symbol in SYMBOLS:
        rest = rest.replace(symbol, "")
    return not any(ch.isalnum() for ch in rest)


def _row_amount(rows: Sequence[TextRow], index: int) -> Amount | None:
    amounts = find_amounts(rows[index].text)
    if amounts:
        return amounts[-1]
    # Some receipts print the amount under its label.
    if index + 1 < len(rows) and _only_amount(rows[index + 1].text):
        return find_amounts(rows[index + 1].text)[-1]
    return None


def _looks_like_address(text: str, row_words: Sequence[str]) -> bool:
    has_digit = any(ch.isdigit() for ch in text)
    street = any(w in STREET_WORDS or _STREET_SUFFIX.search(w) for w in row_words)
    return (has_digit and street) or bool(re.search(r"\b\d{5}\b", text))


def vendor_of(rows: Sequence[TextRow], first_priced: int) -> str | None:
    """The first plausible shop name among the rows above the first price (at most five)."""
    for row in rows[: min(first_priced, 5)]:
        text = row.text.strip(" .,:;-*#=")
        row_words = words(text)
        letters = sum(ch.isalpha() for ch in text)
        if letters < 3 or letters < 0.5 * sum(not ch.isspace() for ch in text):
            continue
        if find_amounts(text) or parse_date(text) or _TIME.search(text) or _URL_OR_MAIL.search(text):
            continue
        if sum(ch.isdigit() for ch in text) >= 7 or _looks_like_address(text, row_words):
            continue
        if _has(row_words, NOT_VENDOR_WORDS) and len(row_words) <= 3:
            continue
        return text
    return None


def _description(text: str, amount: Amount) -> str:
    left = text[: amount.start]
    for code in currencies_in(left):
        left = left.replace(code, " ")
    for symbol in SYMBOLS:
        left = left.replace(symbol, " ")
    return " ".join(left.split()).strip(" .:-*")


@dataclass(frozen=True)
class Receipt:
    fields: dict[str, str] = field(default_factory=dict)
    items: list[LineItem] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def read_receipt(rows: Sequence[TextRow]) -> Receipt:
    texts = [row.text for row in rows]
    row_words = [words(text) for text in texts]
    evidence: list[str] = []
    fields: dict[str, str] = {}

    # The total: the strongest keyword row, and among equals the largest amount (a "TOTAL"
    # row for savings or items is smaller than the charge).
    best: tuple[int, Amount, int] | None = None
    for index, row in enumerate(row_words):
        priority = total_priority(row)
        if not priority or (amount := _row_amount(rows, index)) is None:
            continue
        if best is None or (priority, amount.value) > (best[0], best[1].value):
            best = (priority, amount, index)
    total_index = best[2] if best else None
    if best is not None:
        fields["total"] = best[1].text
        evidence.append(f"total from row {texts[best[2]]!r}")

    currency = pick_currency([texts[total_index]] if total_index is not None else [], texts)
    if currency:
        fields["currency"] = currency

    tax_values = []
    for index, row in enumerate(row_words):
        if is_tax_row(row) and (amounts := [a for a in find_amounts(texts[index]) if a.value > 0]):
            tax_values.append(min(a.value for a in amounts))
        elif is_subtotal_row(row) and "subtotal" not in fields and (amount := _row_amount(rows, index)):
            fields["subtotal"] = amount.text
    if tax_values:
        fields["tax"] = format_amount(sum(tax_values, start=tax_values[0] * 0))

    # US receipts (dollars) write the month first when a date is ambiguous.
    month_first = currency == "USD"
    for text in texts:
        if (iso := parse_date(text, month_first=month_first)) is not None:
            fields["date"] = iso
            break

    priced = [i for i, text in enumerate(texts) if find_amounts(text)]
    # The shop's name heads its prices: with no price at all, no row is known to be a shop.
    if priced and (vendor := vendor_of(rows, priced[0])) is not None:
        fields["vendor"] = vendor

    items = []
    end = total_index if total_index is not None else len(rows)
    for index in priced:
        if index >= end:
            break
        row = row_words[index]
        if total_priority(row) or is_subtotal_row(row) or is_tax_row(row) or is_payment_row(row):
            continue
        amount = find_amounts(texts[index])[-1]
        description = _description(texts[index], amount)
        if sum(ch.isalpha() for ch in description) >= 2 and parse_date(texts[index]) is None:
            items.append(LineItem(description, amount.text))

    if {"subtotal", "tax", "total"} <= fields.keys() and Decimal(fields["subtotal"]) + Decimal(
        fields["tax"]
    ) == Decimal(fields["total"]):
        evidence.append("subtotal + tax = total")
    sums = {Decimal(fields[name]) for name in ("total", "subtotal") if name in fields}
    if items and sum(Decimal(item.amount) for item in items) in sums:
        evidence.append("items add up to the total")
    return Receipt(fields, items, evidence)
