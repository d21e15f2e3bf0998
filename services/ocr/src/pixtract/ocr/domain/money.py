"""Amounts and currencies as printed on receipts.

An amount has exactly two decimals after `.` or `,` ("3.20", "2,40", "1,234.50",
"1.234,50", "$3.49", "27,00 €"): prices on receipts always do, and requiring them keeps
quantities, percentages, phone numbers and dates out. Amounts come back normalised as
"1234.50" (dot decimal, no grouping), the form search and the Image JSON use.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

# Symbols that name one currency. "$" is read as US dollars (the commonest by far; a
# Canadian or Australian receipt normally prints its code too, and a code wins over a symbol).
SYMBOLS = {"€": "EUR", "£": "GBP", "$": "USD", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "zł": "PLN"}
CODES = frozenset(
    [
        "EUR",
        "USD",
        "GBP",
        "CHF",
        "JPY",
        "CNY",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "INR",
        "KRW",
        "RUB",
        "TRY",
        "BRL",
        "MXN",
        "ZAR",
        "SGD",
        "HKD",
    ]
)
_CODE = re.compile(r"(?<![A-Za-z])(" + "|".join(sorted(CODES)) + r")(?![A-Za-z])")
_SYMBOL = re.compile("|".join(re.escape(symbol) for symbol in sorted(SYMBOLS, key=len, reverse=True)))
_AMOUNT = re.compile(
    r"(?<![\d.,])(?P<sign>-\s?)?(?P<int>\d{1,3}(?:[.,']\d{3})+|\d+)(?P<dec>[.,])(?P<frac>\d{2})(?![\d%])(?!\s?%)"
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    start: int
    end: int

    @property
    def text(self) -> str:
        return format_amount(self.value)


def format_amount(value: Decimal) -> str:
    return f"{value:.2f}"


def find_amounts(text: str) -> list[Amount]:
    amounts = []
    for match in _AMOUNT.finditer(text):
        whole = match["int"]
        separators = {ch for ch in whole if not ch.isdigit()}
        # "1,234.50" and "1.234,50": a grouping separator must differ from the decimal one.
        if match["dec"] in separators:
            continue
        digits = "".join(ch for ch in whole if ch.isdigit())
        value = Decimal(f"{digits}.{match['frac']}")
        if match["sign"]:
            value = -value
        amounts.append(Amount(value, match.start(), match.end()))
    return amounts


def parse_amount(text: str) -> str | None:
    """The last amount in `text` (a row's price is at its right end), normalised."""
    amounts = find_amounts(text)
    return amounts[-1].text if amounts else None


def currencies_in(text: str) -> list[str]:
    found = [match.group(1) for match in _CODE.finditer(text.upper())]
    found.extend(SYMBOLS[match.group(0)] for match in _SYMBOL.finditer(text))
    return found


def pick_currency(preferred: Iterable[str], everywhere: Iterable[str]) -> str | None:
    """The currency named on the total's row if any, else the one named most often."""
    for text in preferred:
        if found := currencies_in(text):
            return found[0]
    counts = Counter(code for text in everywhere for code in currencies_in(text))
    if not counts:
        return None
    return counts.most_common(1)[0][0]
