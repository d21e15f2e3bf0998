"""The optional Textract provider, on Textract answers in the documented shapes (no AWS)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from pixtract.ocr.adapters.textract import TextractReader, expense_fields, lines_from_blocks
from pixtract.ocr.domain.text import LineItem

ANSWERS = Path(__file__).resolve().parents[2] / "data" / "ocr" / "textract"


def _answer(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ANSWERS / f"{name}.json").read_text())
    return data


class FakeTextract:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.sizes: list[tuple[int, int]] = []

    async def detect_document_text(self, Document: dict[str, bytes]) -> dict[str, Any]:  # noqa: N803 (boto's name)
        self.calls.append("detect_document_text")
        self.sizes.append(Image.open(io.BytesIO(Document["Bytes"])).size)
        return _answer("detect_document_text")

    async def analyze_expense(self, Document: dict[str, bytes]) -> dict[str, Any]:  # noqa: N803
        self.calls.append("analyze_expense")
        return _answer("analyze_expense")


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def test_line_blocks_become_pixel_boxes() -> None:
    lines = lines_from_blocks(_answer("detect_document_text")["Blocks"], 600, 400)
    assert [line.text for line in lines][:3] == ["CORNER CAFE", "19/11/2026 08:42", "Cappuccino"]
    assert lines[0].box == (200.0, 30.0, 400.0, 60.0)
    assert lines[0].confidence == 0.992
    assert len(lines[0].quad) == 4


def test_expense_summary_fields_are_normalised() -> None:
    fields, items = expense_fields(_answer("analyze_expense"))
    assert fields == {
        "vendor": "CORNER CAFE",
        "date": "2026-11-19",
        "subtotal": "5.18",
        "tax": "0.52",
        "total": "5.70",
        "currency": "EUR",
    }
    assert items == [LineItem("Cappuccino", "3.20"), LineItem("Croissant", "2.50")]
    assert expense_fields({"ExpenseDocuments": []}) == ({}, [])


async def test_reader_maps_a_receipt_to_the_common_schema() -> None:
    client = FakeTextract()
    reader = TextractReader(client, max_pixels=100_000_000, analyze_expense=True)
    # Sent at half size (the picture is downscaled to 2400 px), boxes come back in original pixels.
    result = await reader.read(_png(4800, 3200))
    assert client.calls == ["detect_document_text", "analyze_expense"]
    assert client.sizes == [(2400, 1600)]
    assert result.document_type == "receipt"
    assert result.fields["total"] == "5.70"
    assert result.fields["tax"] == "0.52"  # from AnalyzeExpense: the lines print no tax
    assert result.lines[0].box == (1600.0, 240.0, 3200.0, 480.0)
    assert result.content.splitlines()[2] == "Cappuccino 3.20"
    assert result.evidence[-1].startswith("textract AnalyzeExpense:")


async def test_no_expense_call_when_disabled() -> None:
    client = FakeTextract()
    result = await TextractReader(client, max_pixels=10_000_000, analyze_expense=False).read(_png(600, 400))
    assert client.calls == ["detect_document_text"]
    assert "tax" not in result.fields
    assert TextractReader.engine_name == "textract"
