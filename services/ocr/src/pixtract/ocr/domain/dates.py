"""Dates as printed on receipts and forms, normalised to ISO 8601 (YYYY-MM-DD).

Rules (documented in docs/design.md):
- A four-digit year first is year-month-day: 2026-11-19, 2026/11/19, 2026.11.19.
- Year last, numeric: a part above 12 decides (19/11/2026 is day-first, 11/19/2026
  month-first). When both could be months, dots mean day-first (19.11.26, the European
  habit); slashes and dashes are day-first too unless the caller says the document is
  American (`month_first=True`, e.g. a receipt in US dollars).
- Two-digit years are 20YY. Years outside 1990 to 2099 are not dates.
- Month names and abbreviations in English, German, French, Spanish and Italian, either
  order: "Nov 19 2026", "November 19, 2026", "19 Nov 2026", "19. November 2026", "19-Nov-26".
- Nothing is guessed: a string that fits none of these is not a date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

MONTHS: dict[str, int] = {}
for number, names in enumerate(
    (
        "january jan januar janv janvier enero ene gennaio gen jänner",
        "february feb februar fév fev février fevrier febrero febbraio",
        "march mar märz maerz mars marzo",
        "april apr avril abril aprile avr",
        "may mai mayo maggio mag",
        "june jun juni juin junio giugno giu",
        "july jul juli juil juillet julio luglio lug",
        "august aug août aout agosto ago",
        "september sep sept septembre septiembre settembre set",
        "october oct oktober okt octobre octubre ottobre ott",
        "november nov novembre noviembre",
        "december dec dez dezember déc decembre décembre diciembre dic dicembre",
    ),
    start=1,
):
    for name in names.split():
        MONTHS[name] = number

_MONTH = r"(?P<month_name>[A-Za-zÀ-ÿ]{3,10})\.?"
# The year may run into a time when OCR drops the space ("19/11/202608:42").
_NUMERIC = re.compile(
    r"(?<![\d/.-])(?P<a>\d{1,4})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{2,4})(?:(?=\d{2}:\d{2})|(?![\d/.-]*\d))"
)
_NAME_FIRST = re.compile(
    rf"(?<![A-Za-z]){_MONTH}[\s.-]+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?[\s.-]+(?P<year>\d{{2,4}})\b"
)
_DAY_FIRST = re.compile(rf"(?<!\d)(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\.?[\s.-]*{_MONTH}[\s.,-]+(?P<year>\d{{2,4}})\b")

MIN_YEAR, MAX_YEAR = 1990, 2099


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int

    @property
    def iso(self) -> str:
        return self.value.isoformat()


def _year(raw: str) -> int | None:
    if len(raw) == 2:
        return 2000 + int(raw)
    if len(raw) == 4:
        return int(raw)
    return None


def _make(year: int | None, month: int, day: int) -> date | None:
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _numeric(match: re.Match[str], month_first: bool) -> date | None:
    a, b, c, sep = match["a"], match["b"], match["c"], match["sep"]
    if len(a) == 4:
        return _make(int(a), int(b), int(c)) if len(c) <= 2 else None
    if len(a) > 2:
        return None
    first, second, year = int(a), int(b), _year(c)
    if first > 12:
        return _make(year, second, first)
    if second > 12:
        return _make(year, first, second)
    if month_first and sep != ".":
        return _make(year, first, second)
    return _make(year, second, first)


def _named(match: re.Match[str]) -> date | None:
    month = MONTHS.get(match["month_name"].lower())
    if month is None:
        return None
    return _make(_year(match["year"]), month, int(match["day"]))


def find_dates(text: str, *, month_first: bool = False) -> Iterator[FoundDate]:
    """Every date in `text`, in order of position."""
    found: list[FoundDate] = []
    for match in _NUMERIC.finditer(text):
        if (value := _numeric(match, month_first)) is not None:
            found.append(FoundDate(value, match.start(), match.end()))
    for pattern in (_NAME_FIRST, _DAY_FIRST):
        for match in pattern.finditer(text):
            if (value := _named(match)) is not None:
                found.append(FoundDate(value, match.start(), match.end()))
    taken: list[FoundDate] = []
    for item in sorted(found, key=lambda f: (f.start, -(f.end - f.start))):
        if all(item.start >= other.end or item.end <= other.start for other in taken):
            taken.append(item)
    yield from taken


def parse_date(text: str, *, month_first: bool = False) -> str | None:
    """The first date in `text` as YYYY-MM-DD, or None."""
    for found in find_dates(text, month_first=month_first):
        return found.iso
    return None
