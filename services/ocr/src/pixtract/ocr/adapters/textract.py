"""Optional provider: AWS Textract through aioboto3 (`PIXTRACT_OCR_PROVIDER=textract`).

Not used unless configured; needs AWS credentials from the environment or an IAM role, and
sends every image to AWS. DetectDocumentText gives the lines (boxes as fractions of the
page, mapped back to original pixels); rows, document type, language and fields then come
from the same post-processing as RapidOCR's lines, so results share one schema. For
receipts, AnalyzeExpense (a second, dearer call) supplies vendor, date, total, tax,
currency and line items; its values are normalised like ours and win where they parse.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aioboto3
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from pixtract.ocr.adapters.rapid import PIPELINE_VERSION
from pixtract.ocr.config import Settings
from pixtract.ocr.domain.dates import parse_date
from pixtract.ocr.domain.money import CODES, currencies_in, parse_amount
from pixtract.ocr.domain.ocr import interpret, load_image
from pixtract.ocr.domain.preprocess import picture_facts
from pixtract.ocr.domain.text import LineItem, OcrLine, OcrResult

ENGINE_NAME = "textract"
# Textract takes JPEG or PNG up to 10 MB (5 MB inline for AnalyzeExpense): send a JPEG of
# the decoded, upright, downscaled picture (this also covers HEIC, which Textract refuses).
SEND_MAX_SIDE = 2400
SEND_QUALITY = 90

SUMMARY_FIELDS = {
    "VENDOR_NAME": "vendor",
    "INVOICE_RECEIPT_DATE": "date",
    "TOTAL": "total",
    "TAX": "tax",
    "SUBTOTAL": "subtotal",
}


def lines_from_blocks(blocks: Sequence[Mapping[str, Any]], width: int, height: int) -> list[OcrLine]:
    """LINE blocks of a DetectDocumentText answer as OcrLine in pixels of a width x height picture."""
    lines = []
    for block in blocks:
        if block.get("BlockType") != "LINE" or not str(block.get("Text", "")).strip():
            continue
        geometry = block.get("Geometry", {})
        polygon = geometry.get("Polygon") or []
        quad = tuple((float(p["X"]) * width, float(p["Y"]) * height) for p in polygon[:4])
        if len(quad) == 4:
            xs, ys = [x for x, _ in quad], [y for _, y in quad]
            box = (min(xs), min(ys), max(xs), max(ys))
        else:
            bb = geometry.get("BoundingBox", {})
            left, top = float(bb.get("Left", 0)) * width, float(bb.get("Top", 0)) * height
            box = (left, top, left + float(bb.get("Width", 0)) * width, top + float(bb.get("Height", 0)) * height)
            quad = ()
        lines.append(OcrLine(str(block["Text"]), float(block.get("Confidence", 0.0)) / 100, box, quad))
    return lines


def _text(field: Mapping[str, Any], part: str) -> str:
    return str(field.get(part, {}).get("Text", "")).strip()


def expense_fields(response: Mapping[str, Any]) -> tuple[dict[str, str], list[LineItem]]:
    """Summary fields and line items of an AnalyzeExpense answer (first document), normalised."""
    documents = response.get("ExpenseDocuments") or []
    if not documents:
        return {}, []
    document = documents[0]
    fields: dict[str, str] = {}
    for field in document.get("SummaryFields", []):
        name = SUMMARY_FIELDS.get(_text(field, "Type"))
        value = _text(field, "ValueDetection")
        if name is None or not value or name in fields:
            continue
        if name == "vendor":
            fields[name] = value
        elif name == "date":
            if (iso := parse_date(value)) is not None:
                fields[name] = iso
        elif (amount := parse_amount(value)) is not None:
            fields[name] = amount
            code = str(field.get("Currency", {}).get("Code", "")).upper()
            if name == "total" and code in CODES:
                fields["currency"] = code
            elif name == "total" and (named := currencies_in(value)):
                fields.setdefault("currency", named[0])
    items = []
    for group in document.get("LineItemGroups", []):
        for line_item in group.get("LineItems", []):
            parts = {_text(f, "Type"): _text(f, "ValueDetection") for f in line_item.get("LineItemExpenseFields", [])}
            description = parts.get("ITEM", "")
            amount = parse_amount(parts.get("PRICE", "")) if parts.get("PRICE") else None
            if description and amount is not None:
                items.append(LineItem(description, amount))
    return fields, items


class TextractReader:
    engine_name = ENGINE_NAME
    model_version = f"textract+p{PIPELINE_VERSION}"

    def __init__(self, client: Any, *, max_pixels: int, analyze_expense: bool) -> None:
        self._client = client
        self._max_pixels = max_pixels
        self._analyze_expense = analyze_expense

    def _prepare(self, data: bytes) -> tuple[NDArray[np.uint8], float, bytes]:
        pixels, scale = load_image(data, max_pixels=self._max_pixels, max_side=SEND_MAX_SIDE)
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="JPEG", quality=SEND_QUALITY)
        return pixels, scale, out.getvalue()

    async def read(self, data: bytes) -> OcrResult:
        # Decoding and post-processing are CPU work: off the event loop.
        pixels, scale, jpeg = await asyncio.to_thread(self._prepare, data)
        document = {"Bytes": jpeg}
        height, width = pixels.shape[:2]
        detected = await self._client.detect_document_text(Document=document)
        lines = [line.scaled(1 / scale) for line in lines_from_blocks(detected.get("Blocks", []), width, height)]
        size = (round(width / scale), round(height / scale))
        result = await asyncio.to_thread(interpret, lines, picture_facts(pixels, size))
        if not (self._analyze_expense and result.document_type == "receipt"):
            return result
        fields, items = expense_fields(await self._client.analyze_expense(Document=document))
        return OcrResult(
            content=result.content,
            lines=result.lines,
            document_type=result.document_type,
            language=result.language,
            fields={**result.fields, **fields},
            items=items or result.items,
            key_values=result.key_values,
            evidence=[*result.evidence, f"textract AnalyzeExpense: {', '.join(sorted(fields)) or 'no fields'}"],
        )


@asynccontextmanager
async def textract_reader(settings: Settings) -> AsyncIterator[TextractReader]:
    session = aioboto3.Session()
    async with session.client(
        "textract", region_name=settings.textract.region, endpoint_url=settings.textract.endpoint_url
    ) as client:
        yield TextractReader(client, max_pixels=settings.max_pixels, analyze_expense=settings.textract.analyze_expense)
