"""The OCR evaluation set: documents rendered here, with exact ground truth, in several
degradations, plus one real scanned page.

Deterministic (no randomness, fonts from pinned PyPI packages, no Debian fonts), so the
bench and the accuracy tests measure the same images on every machine:

- fonts: Pillow's bundled default (Aileron), DM Mono and IBM Plex Mono (receipt printers),
  Noto Serif (print), Kalam, Caveat and Indie Flower (handwriting-like), each shipped in a
  `fontpkg-*` wheel;
- 16 documents: receipts, notes (English, German, French, Spanish), forms ("Label: value"
  and aligned columns) and screenshots, each as clean PNG, rotated a few degrees, blurred,
  JPEG quality 30 and photographed in perspective on a table: 80 images;
- `skimage.data.page()`, a real scan, transcribed by reading it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

VARIANTS = ("clean", "rotated", "blurred", "jpeg", "perspective")
PAPER = (250, 249, 244)
INK = (22, 22, 26)


def _font_file(package: str, name: str) -> Path:
    root: Path = import_module(package).ROOT
    return root / "files" / name


FONT_FILES = {
    "dm-mono": ("fontpkg_dm_mono", "DMMono-Regular.ttf"),
    "plex-mono": ("fontpkg_ibm_plex_mono", "IBMPlexMono-Regular.ttf"),
    "noto-serif": ("fontpkg_noto_serif", "NotoSerif[wdth,wght].ttf"),
    "kalam": ("fontpkg_kalam", "Kalam-Regular.ttf"),
    "caveat": ("fontpkg_caveat", "Caveat[wght].ttf"),
    "indie-flower": ("fontpkg_indie_flower", "IndieFlower-Regular.ttf"),
}


@cache
def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    if name == "default":
        loaded = ImageFont.load_default(size=size)
        assert isinstance(loaded, ImageFont.FreeTypeFont), "Pillow without FreeType"
        return loaded
    package, filename = FONT_FILES[name]
    return ImageFont.truetype(str(_font_file(package, filename)), size)


@dataclass(frozen=True)
class Row:
    """One printed row: `left` text, optionally `right` text flush with the right margin."""

    left: str
    right: str = ""
    centred: bool = False
    gap: float = 0.45  # blank space after the row, in line heights

    @property
    def text(self) -> str:
        return f"{self.left} {self.right}".strip()


@dataclass(frozen=True)
class Document:
    name: str
    kind: str  # receipt | note | form | screenshot
    font: str
    size: int
    width: int
    rows: tuple[Row, ...]
    fields: dict[str, str] = field(default_factory=dict)
    key_values: tuple[tuple[str, str], ...] = ()
    language: str | None = None
    # Screenshots: exact canvas size, background and bars drawn before the text.
    canvas: tuple[int, int] | None = None
    column: int = 0  # x of aligned values (forms), 0 = right-aligned `right`

    @property
    def lines(self) -> tuple[str, ...]:
        return tuple(row.text for row in self.rows if row.text)


@dataclass(frozen=True)
class Sample:
    name: str
    kind: str
    variant: str
    image: bytes
    lines: tuple[str, ...]
    fields: dict[str, str]
    key_values: tuple[tuple[str, str], ...]
    language: str | None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _rows(*items: str | tuple[str, str] | Row) -> tuple[Row, ...]:
    out = []
    for item in items:
        if isinstance(item, Row):
            out.append(item)
        elif isinstance(item, tuple):
            out.append(Row(item[0], item[1]))
        else:
            out.append(Row(item))
    return tuple(out)


def _centre(text: str, gap: float = 0.45) -> Row:
    return Row(text, centred=True, gap=gap)


DOCUMENTS: tuple[Document, ...] = (
    Document(
        "receipt-corner-cafe",
        "receipt",
        "dm-mono",
        26,
        620,
        _rows(
            _centre("CORNER CAFE"),
            _centre("12 Harbour Street, Leith"),
            _centre("19/11/2026 08:42", gap=1.2),
            ("Cappuccino", "3.20"),
            ("Croissant", "2.50"),
            (
                "Orange juice",
                "4.10",
            ),
            Row("SUBTOTAL", "8.91", gap=0.3),
            ("VAT 10%", "0.89"),
            Row("TOTAL EUR", "9.80", gap=1.2),
            _centre("Thank you for your visit"),
        ),
        fields={"vendor": "CORNER CAFE", "date": "2026-11-19", "total": "9.80", "currency": "EUR", "tax": "0.89"},
        language="en",
    ),
    Document(
        "receipt-green-grocer",
        "receipt",
        "plex-mono",
        24,
        640,
        _rows(
            _centre("GREEN GROCER MARKET"),
            _centre("Date: 2026-03-07", gap=1.2),
            ("Apples 1kg", "$3.49"),
            ("Bananas", "$1.99"),
            ("Whole milk", "$2.79"),
            ("Sourdough bread", "$5.49"),
            ("Free range eggs", "$7.95"),
            Row("Subtotal", "$21.71", gap=0.3),
            ("Tax", "$1.74"),
            Row("TOTAL", "$23.45", gap=1.2),
            _centre("VISA **** 4421"),
        ),
        fields={
            "vendor": "GREEN GROCER MARKET",
            "date": "2026-03-07",
            "total": "23.45",
            "currency": "USD",
            "tax": "1.74",
        },
        language="en",
    ),
    Document(
        "receipt-baeckerei",
        "receipt",
        "default",
        28,
        620,
        _rows(
            _centre("BÄCKEREI MÜLLER"),
            _centre("Hauptstraße 5, Berlin"),
            _centre("Datum: 05.10.26", gap=1.2),
            ("Brötchen", "2,40"),
            ("Roggenbrot", "4,50"),
            ("Apfelkuchen", "6,00"),
            Row("SUMME EUR", "12,90", gap=0.3),
            ("MwSt 7%", "0,84"),
        ),
        fields={"vendor": "BÄCKEREI MÜLLER", "date": "2026-10-05", "total": "12.90", "currency": "EUR", "tax": "0.84"},
        language="de",
    ),
    Document(
        "receipt-book-nook",
        "receipt",
        "noto-serif",
        26,
        640,
        _rows(
            _centre("THE BOOK NOOK"),
            _centre("Nov 19 2026", gap=1.2),
            ("Paperback novel", "£9.99"),
            ("Notebook", "£4.50"),
            ("Bookmark", "£1.20"),
            Row("Subtotal", "£15.69", gap=0.3),
            ("VAT", "£2.81"),
            ("TOTAL", "£18.50"),
        ),
        fields={"vendor": "THE BOOK NOOK", "date": "2026-11-19", "total": "18.50", "currency": "GBP", "tax": "2.81"},
        language="en",
    ),
    Document(
        "receipt-fuel-stop",
        "receipt",
        "dm-mono",
        24,
        600,
        _rows(
            _centre("FUEL STOP 24"),
            _centre("Route 9, Springfield"),
            _centre("11/19/2026 17:05", gap=1.2),
            ("Unleaded 11.2 gal", "40.12"),
            ("Snacks", "5.55"),
            Row("TOTAL USD", "45.67", gap=1.2),
            _centre("Have a safe trip"),
        ),
        fields={"vendor": "FUEL STOP 24", "date": "2026-11-19", "total": "45.67", "currency": "USD"},
        language="en",
    ),
    Document(
        "receipt-pizzeria",
        "receipt",
        "kalam",
        30,
        620,
        _rows(
            _centre("Pizzeria Napoli"),
            _centre("24 Dec 2026", gap=1.2),
            ("Margherita", "9,50"),
            ("Quattro formaggi", "12,00"),
            ("Tiramisu", "5,50"),
            ("Total", "27,00 €"),
        ),
        fields={"vendor": "Pizzeria Napoli", "date": "2026-12-24", "total": "27.00", "currency": "EUR"},
        # Italian dishes, an English month and "Total": no one language is right.
        language=None,
    ),
    Document(
        "note-meeting",
        "note",
        "noto-serif",
        26,
        900,
        _rows(
            Row("Meeting notes", gap=0.9),
            "We agreed to move the product launch to the second week of",
            "March. Anna will prepare the budget and the press release,",
            "and Tom will check whether the warehouse can ship the first",
            "orders on time. The next meeting is on Thursday morning.",
        ),
        language="en",
    ),
    Document(
        "note-einkauf",
        "note",
        "default",
        28,
        900,
        _rows(
            Row("Liebe Grüße aus Hamburg", gap=0.9),
            "Das Wetter ist heute kalt und windig, aber wir waren trotzdem",
            "am Hafen spazieren. Morgen fahren wir mit dem Zug nach Lübeck",
            "und besuchen die Altstadt. Wir sehen uns nächste Woche.",
        ),
        language="de",
    ),
    Document(
        "note-lettre",
        "note",
        "kalam",
        30,
        900,
        _rows(
            Row("Chère Claire,", gap=0.7),
            "merci beaucoup pour ta lettre et les photos de vacances.",
            "Nous avons passé une très belle semaine à la montagne avec",
            "les enfants. Je t'appelle ce week-end pour tout te raconter.",
            Row("Bisous, Marie", gap=0.2),
        ),
        language="fr",
    ),
    Document(
        "note-shopping",
        "note",
        "caveat",
        40,
        760,
        _rows(
            Row("Things to do this weekend", gap=0.7),
            "Pick up the parcel from the post office",
            "Call the plumber about the kitchen sink",
            "Buy flowers for the birthday dinner",
            "Water the plants on the balcony",
        ),
        language="en",
    ),
    Document(
        "note-receta",
        "note",
        "indie-flower",
        34,
        860,
        _rows(
            Row("Receta de la abuela", gap=0.7),
            "Mezclar la harina con los huevos y la leche hasta que",
            "la masa quede suave. Dejar reposar media hora y cocinar",
            "en una sartén caliente con un poco de mantequilla.",
        ),
        language="es",
    ),
    Document(
        "form-contact",
        "form",
        "default",
        28,
        860,
        _rows(
            Row("MEMBERSHIP APPLICATION", gap=0.9),
            "Name: Jane Doe",
            "Date of birth: 04/07/1990",
            "Address: 12 High Street",
            "City: Springfield",
            "Phone: 555 0142",
            "Email: jane.doe@example.org",
            "Membership: Family",
        ),
        key_values=(
            ("Name", "Jane Doe"),
            ("Date of birth", "04/07/1990"),
            ("Address", "12 High Street"),
            ("City", "Springfield"),
            ("Phone", "555 0142"),
            ("Email", "jane.doe@example.org"),
            ("Membership", "Family"),
        ),
        language="en",
    ),
    Document(
        "form-patient",
        "form",
        "plex-mono",
        26,
        900,
        _rows(
            Row("PATIENT REGISTRATION", gap=0.9),
            ("Surname", "Smith"),
            ("First name", "John"),
            ("Insurance number", "AB 123 456"),
            ("Doctor", "Dr. Evans"),
            ("Blood type", "A positive"),
            ("Allergies", "None known"),
        ),
        key_values=(
            ("Surname", "Smith"),
            ("First name", "John"),
            ("Insurance number", "AB 123 456"),
            ("Doctor", "Dr. Evans"),
            ("Blood type", "A positive"),
            ("Allergies", "None known"),
        ),
        column=380,
        language="en",
    ),
    Document(
        "form-anmeldung",
        "form",
        "noto-serif",
        26,
        860,
        _rows(
            Row("Anmeldung zum Sportkurs", gap=0.9),
            "Vorname: Lukas",
            "Nachname: Becker",
            "Kurs: Schwimmen für Anfänger",
            "Beginn: 12.01.2027",
            "Telefon: 030 1234567",
        ),
        key_values=(
            ("Vorname", "Lukas"),
            ("Nachname", "Becker"),
            ("Kurs", "Schwimmen für Anfänger"),
            ("Beginn", "12.01.2027"),
            ("Telefon", "030 1234567"),
        ),
        language="de",
    ),
    Document(
        "screenshot-desktop",
        "screenshot",
        "default",
        22,
        1280,
        _rows(
            Row("File   Edit   View   Help", gap=1.5),
            Row("Account settings", gap=1.0),
            "Display name",
            "Notifications",
            "Privacy and security",
            Row("Save changes", gap=0.6),
            "Cancel",
        ),
        canvas=(1280, 720),
        language="en",
    ),
    Document(
        "screenshot-phone",
        "screenshot",
        "default",
        30,
        750,
        _rows(
            Row("9:41", gap=2.0),
            Row("Settings", gap=1.0),
            "Wi-Fi",
            "Bluetooth",
            "Mobile Data",
            "Battery",
            "General",
        ),
        canvas=(750, 1334),
        language="en",
    ),
)


def _draw_screenshot(doc: Document) -> Image.Image:
    assert doc.canvas is not None
    width, height = doc.canvas
    image = Image.new("RGB", doc.canvas, (243, 244, 246))
    draw = ImageDraw.Draw(image)
    face = font(doc.font, doc.size)
    line_height = doc.size * 1.5
    if width > height:
        draw.rectangle((0, 0, width, int(line_height * 1.6)), fill=(38, 50, 72))
        draw.rectangle((0, int(line_height * 1.6), 260, height), fill=(226, 230, 236))
    else:
        draw.rectangle((0, 0, width, int(line_height * 1.4)), fill=(250, 250, 250))
    y = line_height * 0.4
    for index, row in enumerate(doc.rows):
        x = 40 if index == 0 or width < height else 300
        if width > height and index == 0:
            draw.text((x, y), row.left, font=face, fill=(240, 240, 240))
        elif row.left in {"Save changes", "Cancel"}:
            box = draw.textbbox((x, y), row.left, font=face)
            fill = (37, 99, 235) if row.left == "Save changes" else (209, 213, 219)
            draw.rectangle((box[0] - 16, box[1] - 10, box[2] + 16, box[3] + 10), fill=fill)
            draw.text((x, y), row.left, font=face, fill=(255, 255, 255) if row.left == "Save changes" else INK)
        else:
            if width < height and index > 1:
                top = int(y - line_height * 0.35)
                draw.rectangle((20, top, width - 20, int(top + line_height * 1.5)), fill=(255, 255, 255))
            draw.text((x, y), row.left, font=face, fill=INK)
        y += line_height * (1 + row.gap)
    return image


def render(doc: Document) -> Image.Image:
    """The document as a clean image (paper colour, dark ink, generous margins)."""
    if doc.canvas is not None:
        return _draw_screenshot(doc)
    face = font(doc.font, doc.size)
    line_height = doc.size * 1.35
    margin = 48
    height = int(margin * 2 + sum(line_height * (1 + row.gap) for row in doc.rows))
    image = Image.new("RGB", (doc.width, height), PAPER)
    draw = ImageDraw.Draw(image)
    y = float(margin)
    for row in doc.rows:
        if row.centred:
            x = (doc.width - draw.textlength(row.left, font=face)) / 2
            draw.text((x, y), row.left, font=face, fill=INK)
        else:
            draw.text((margin, y), row.left, font=face, fill=INK)
        if row.right:
            x = margin + doc.column if doc.column else doc.width - margin - draw.textlength(row.right, font=face)
            draw.text((x, y), row.right, font=face, fill=INK)
        y += line_height * (1 + row.gap)
    return image


def _encode(image: Image.Image, fmt: str = "PNG", quality: int = 90) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, format="JPEG", quality=quality)
    else:
        image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _perspective_coefficients(
    source: Sequence[tuple[float, float]], target: Sequence[tuple[float, float]]
) -> list[float]:
    """Coefficients Pillow's PERSPECTIVE transform wants: target pixel → source pixel."""
    import numpy as np

    rows = []
    rhs = []
    for (sx, sy), (tx, ty) in zip(source, target, strict=True):
        rows.append([tx, ty, 1, 0, 0, 0, -sx * tx, -sx * ty])
        rows.append([0, 0, 0, tx, ty, 1, -sy * tx, -sy * ty])
        rhs.extend([sx, sy])
    solved = np.linalg.solve(np.array(rows, dtype=float), np.array(rhs, dtype=float))
    return [float(v) for v in solved]


def degrade(image: Image.Image, variant: str, index: int) -> bytes:
    """One of VARIANTS; `index` varies the angle and direction deterministically."""
    if variant == "clean":
        return _encode(image)
    if variant == "rotated":
        angle = (3.0 + index % 3) * (1 if index % 2 == 0 else -1)
        rotated = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=PAPER)
        return _encode(rotated, "JPEG", 90)
    if variant == "blurred":
        return _encode(image.filter(ImageFilter.GaussianBlur(1.6)), "JPEG", 90)
    if variant == "jpeg":
        return _encode(image, "JPEG", 30)
    if variant == "perspective":
        width, height = image.size
        pad = int(0.08 * max(width, height))
        table = Image.new("RGB", (width + 2 * pad, height + 2 * pad), (120, 104, 88))
        table.paste(image, (pad, pad))
        tw, th = table.size
        dx, dy = 0.06 * width, 0.04 * height
        flip = index % 2 == 0
        # The far edge of the page looks narrower, as in a phone photo taken at an angle.
        corners = [(pad, pad), (pad + width, pad), (pad + width, pad + height), (pad, pad + height)]
        if flip:
            moved = [
                (pad + dx, pad + dy),
                (pad + width - dx, pad + dy),
                (pad + width, pad + height),
                (pad, pad + height),
            ]
        else:
            moved = [
                (pad, pad),
                (pad + width - dx, pad + dy),
                (pad + width - dx, pad + height - dy),
                (pad, pad + height),
            ]
        coefficients = _perspective_coefficients(corners, moved)
        warped = table.transform(
            (tw, th), Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC, fillcolor=(120, 104, 88)
        )
        return _encode(warped.filter(ImageFilter.GaussianBlur(0.6)), "JPEG", 85)
    raise ValueError(f"unknown variant {variant!r}")


# skimage.data.page(), read by a person. The last, cut-off line (a URL) is left out: it
# cannot be read and no engine should be asked to.
PAGE_LINES = (
    "Region-based segmentation",
    "Let us first determine markers of the coins and the",
    "background. These markers are pixels that we can label",
    "unambiguously as either object or background. Here,",
    "the markers are found at the two extreme parts of the",
    "histogram of grey values:",
    ">>> markers = np.zeros_like(coins)",
)


def scanned_page() -> Sample:
    from skimage import data

    image = Image.fromarray(data.page())
    return Sample("page", "note", "scan", _encode(image), PAGE_LINES, {}, (), "en")


def samples(variants: Sequence[str] = VARIANTS, *, with_page: bool = True) -> Iterator[Sample]:
    for index, doc in enumerate(DOCUMENTS):
        clean = render(doc)
        for variant in variants:
            yield Sample(
                f"{doc.name}/{variant}",
                doc.kind,
                variant,
                degrade(clean, variant, index),
                doc.lines,
                doc.fields,
                doc.key_values,
                doc.language,
            )
    if with_page:
        yield scanned_page()


def sampled() -> list[Sample]:
    """A smaller set for timed tests: every document clean, plus one degradation each, in turn."""
    chosen = []
    for index, doc in enumerate(DOCUMENTS):
        clean = render(doc)
        for variant in ("clean", VARIANTS[1 + index % (len(VARIANTS) - 1)]):
            chosen.append(
                Sample(
                    f"{doc.name}/{variant}",
                    doc.kind,
                    variant,
                    degrade(clean, variant, index),
                    doc.lines,
                    doc.fields,
                    doc.key_values,
                    doc.language,
                )
            )
    chosen.append(scanned_page())
    return chosen
