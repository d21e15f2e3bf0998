"""A photographed receipt through the whole system: upload → OCR → the Image JSON shows a
receipt with vendor, date and total → search finds it by its vendor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bench.ocr_set import DOCUMENTS, degrade, render
from tests.e2e.client import PixtractClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def test_a_receipt_photo_becomes_typed_fields_and_is_found_by_vendor(client: PixtractClient) -> None:
    client.sign_up()
    index, doc = next((i, d) for i, d in enumerate(DOCUMENTS) if d.name == "receipt-corner-cafe")
    # A phone photo: the page in perspective on a table, JPEG.
    photo = degrade(render(doc), "perspective", index)

    uploaded = client.upload(("receipt.jpg", photo, "image/jpeg"))
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["images"][0]["id"]

    text = client.wait_ready(image_id)["text"]
    assert text["document_type"] == "receipt"
    assert text["fields"]["vendor"] == "CORNER CAFE"
    assert text["fields"]["date"] == "2026-11-19"  # printed 19/11/2026
    assert text["fields"]["total"] == "9.80"  # not the SUBTOTAL 8.91
    assert text["fields"]["currency"] == "EUR"
    assert text["fields"]["tax"] == "0.89"
    assert {"description": "Croissant", "amount": "2.50"} in text["items"]
    assert text["language"] == "en"
    assert text["key_values"] == []
    assert all(len(line["box"]) == 4 for line in text["lines"])

    assert image_id in client.search_ids("corner cafe")
    assert image_id in client.search_ids('vendor:"CORNER CAFE"')
    assert image_id not in client.search_ids('vendor:"GREEN GROCER"')
    by_type = client.http.get(
        "/api/v1/search", params={"q": "cafe", "document_type": "receipt"}, headers=client.auth
    ).json()
    assert image_id in [hit["image_id"] for hit in by_type["items"]]
