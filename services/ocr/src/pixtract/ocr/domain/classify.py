"""Document type from layout and content, with the reasons kept as evidence.

Each type gathers points from cues; the first type in the order screenshot, receipt, form,
note that reaches its threshold wins, else "other" ("none" when there is no text at all):

- screenshot: the exact pixel size of a common screen; flat colours; UI words; a status-bar clock.
- receipt: a TOTAL-like row with an amount; SUBTOTAL/VAT/TAX rows; a price column (amounts
  ending rows, right edges aligned); currency marks; a date.
- form: "Label: value" rows and aligned label/value columns making a good share of the rows.
- note: rows of prose (four or more words, mostly letters).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pixtract.ocr.domain.dates import parse_date
from pixtract.ocr.domain.forms import FormReading
from pixtract.ocr.domain.money import currencies_in, find_amounts
from pixtract.ocr.domain.receipts import is_subtotal_row, is_tax_row, total_priority, words
from pixtract.ocr.domain.text import TextRow


class DocumentType(StrEnum):
    RECEIPT = "receipt"
    NOTE = "note"
    FORM = "form"
    SCREENSHOT = "screenshot"
    OTHER = "other"
    NONE = "none"


# Screen sizes of common phones, tablets and monitors (width x height, either orientation).
# fmt: off
_SCREENS = (
    (1280, 720), (1280, 800), (1366, 768), (1440, 900), (1536, 864), (1600, 900), (1680, 1050),
    (1920, 1080), (1920, 1200), (2560, 1440), (2560, 1600), (2880, 1800), (3024, 1964), (3456, 2234),
    (3840, 2160), (1024, 768), (2048, 1536), (2732, 2048), (2388, 1668), (2360, 1640), (2224, 1668),
    (750, 1334), (1080, 1920), (1242, 2208), (1125, 2436), (828, 1792), (1242, 2688), (1170, 2532),
    (1284, 2778), (1179, 2556), (1290, 2796), (1206, 2622), (1320, 2868), (1080, 2400), (1080, 2340),
    (1080, 2280), (1080, 2412), (1080, 2424), (1440, 3200), (1440, 3120), (1440, 2960), (720, 1600),
    (720, 1280), (1260, 2800), (1344, 2992), (1280, 2856), (640, 1136),
)
UI_WORDS = frozenset({
    "SETTINGS", "CANCEL", "OK", "SAVE", "FILE", "EDIT", "VIEW", "HELP", "WI", "FI", "BLUETOOTH", "BATTERY",
    "SEARCH", "MENU", "HOME", "BACK", "NEXT", "LOGIN", "LOGOUT", "SIGN", "SUBMIT", "NOTIFICATIONS", "PRIVACY",
    "ACCOUNT", "PROFILE", "SHARE", "DOWNLOAD", "UPLOAD", "DELETE", "INBOX", "SEND", "REPLY", "EINSTELLUNGEN",
    "ABBRECHEN", "SPEICHERN", "PARAMÈTRES", "ANNULER", "AJUSTES", "CANCELAR",
})
# fmt: on
# Screen sizes of common phones, tablets and monitors, either orientation.
SCREEN_SIZES = frozenset(size for w, h in _SCREENS for size in ((w, h), (h, w)))
_CLOCK = re.compile(r"^\d{1,2}:\d{2}$")
FLAT_COLOURS = 0.9

SCREENSHOT_THRESHOLD = 3.0
RECEIPT_THRESHOLD = 3.0
FORM_MIN_ROWS = 3
FORM_MIN_SHARE = 0.4
NOTE_MIN_PROSE_ROWS = 2
NOTE_MIN_SHARE = 0.4


@dataclass(frozen=True)
class PictureFacts:
    """What the pixels say, measured before OCR."""

    width: int
    height: int
    # Share of pixels in the eight commonest colours (16 levels a channel): near 1 for UI
    # renderings and clean digital documents, far lower for photos and scans.
    flat_colours: float


@dataclass
class Verdict:
    document_type: DocumentType
    evidence: list[str] = field(default_factory=list)


def _screenshot(rows: Sequence[TextRow], facts: PictureFacts | None, evidence: list[str]) -> float:
    score = 0.0
    if facts is not None:
        if (facts.width, facts.height) in SCREEN_SIZES:
            score += 2
            evidence.append(f"screenshot: {facts.width}x{facts.height} is a screen size")
        if facts.flat_colours >= FLAT_COLOURS:
            score += 1
            evidence.append(f"screenshot: flat colours ({facts.flat_colours:.0%} of pixels in 8 colours)")
    found = sorted({w for row in rows for w in words(row.text) if w in UI_WORDS})
    if len(found) >= 2:
        score += 1
        evidence.append(f"screenshot: UI words {', '.join(found[:6])}")
    if rows and any(_CLOCK.match(segment.text.strip()) for segment in rows[0].segments):
        score += 1
        evidence.append("screenshot: status-bar clock in the top row")
    return score


def _price_column(rows: Sequence[TextRow]) -> int:
    """How many rows end in an amount whose right edges line up (the receipt price column)."""
    ends = [row.segments[-1].box[2] for row in rows if find_amounts(row.segments[-1].text)]
    if len(ends) < 3:
        return 0
    heights = [row.height for row in rows]
    centre = statistics.median(ends)
    return sum(abs(end - centre) <= 1.5 * statistics.median(heights) for end in ends)


def _receipt(rows: Sequence[TextRow], evidence: list[str]) -> tuple[float, bool]:
    score = 0.0
    strong = False
    row_words = [words(row.text) for row in rows]
    totals = [i for i, w in enumerate(row_words) if total_priority(w)]
    # The amount sits on the total's row, or alone on the next one.
    priced = [i for i in totals if find_amounts(" ".join(row.text for row in rows[i : i + 2]))]
    if priced:
        score += 2
        strong = True
        evidence.append(f"receipt: total row {rows[priced[0]].text!r}")
    elif totals:
        score += 1
    extra = [row.text for row, w in zip(rows, row_words, strict=True) if is_subtotal_row(w) or is_tax_row(w)]
    if extra:
        score += 1
        evidence.append(f"receipt: subtotal/tax rows {extra[:3]!r}")
    column = _price_column(rows)
    if column >= 3:
        score += 2
        strong = True
        evidence.append(f"receipt: price column of {column} aligned amounts")
    elif sum(bool(find_amounts(row.text)) for row in rows) >= 2:
        score += 0.5
    if any(currencies_in(row.text) for row in rows):
        score += 0.5
        evidence.append("receipt: currency marks")
    if any(parse_date(row.text) for row in rows):
        score += 0.5
    return score, strong


def _prose_rows(rows: Sequence[TextRow]) -> int:
    count = 0
    for row in rows:
        tokens = row.text.split()
        alphabetic = sum(sum(ch.isalpha() for ch in t) >= max(1, len(t) // 2) for t in tokens)
        if len(tokens) >= 4 and alphabetic >= 0.7 * len(tokens):
            count += 1
    return count


def classify(rows: Sequence[TextRow], form: FormReading, facts: PictureFacts | None = None) -> Verdict:
    if not rows:
        return Verdict(DocumentType.NONE, ["no text found"])
    evidence: list[str] = []
    screenshot = _screenshot(rows, facts, evidence)
    receipt, strong_receipt = _receipt(rows, evidence)
    pairs = form.labelled_rows + form.aligned_rows
    if pairs:
        evidence.append(f"form: {form.labelled_rows} 'Label: value' rows, {form.aligned_rows} aligned pairs")
    prose = _prose_rows(rows)
    if prose:
        evidence.append(f"note: {prose} prose rows of {len(rows)}")
    evidence.append(f"scores: screenshot {screenshot:g}, receipt {receipt:g}, form {pairs}/{len(rows)} rows")

    if screenshot >= SCREENSHOT_THRESHOLD:
        chosen = DocumentType.SCREENSHOT
    elif receipt >= RECEIPT_THRESHOLD and strong_receipt:
        chosen = DocumentType.RECEIPT
    elif pairs >= FORM_MIN_ROWS and pairs >= FORM_MIN_SHARE * len(rows):
        chosen = DocumentType.FORM
    elif prose >= NOTE_MIN_PROSE_ROWS and prose >= NOTE_MIN_SHARE * len(rows):
        chosen = DocumentType.NOTE
    else:
        chosen = DocumentType.OTHER
    # The chosen type's reasons first, then the rest for comparison.
    evidence.sort(key=lambda reason: not reason.startswith(chosen.value))
    return Verdict(chosen, evidence)
