"""The internal export against the real servers: every live record of every owner, as events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from pydantic import SecretStr

from pixtract.common.kafka import EventPublisher
from pixtract.events.topics import IMAGES_TAGGED, IMAGES_TEXT_EXTRACTED
from pixtract.events.v1 import images_pb2
from pixtract.upload.config import Settings
from tests.integration.upload.test_upload_service import auth, eventually, jpeg, upload

TOKEN = "internal-token-for-tests-0123456789abcdef"
INTERNAL = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def upload_settings(upload_settings: Settings) -> Settings:
    return upload_settings.model_copy(update={"internal_token": SecretStr(TOKEN)})


async def _export_all(client: httpx.AsyncClient, limit: int) -> tuple[list[dict[str, Any]], int]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit}
    pages = 0
    while True:
        response = await client.get("/internal/v1/images", params=params, headers=INTERNAL)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        pages += 1
        if body["next_cursor"] is None:
            return items, pages
        params["cursor"] = body["next_cursor"]


async def test_the_export_pages_through_every_live_image_as_the_events_that_built_it(
    client: httpx.AsyncClient, publisher: EventPublisher
) -> None:
    alice, bob = "export-alice", "export-bob"
    ids = {}
    for n, (owner, name) in enumerate([(alice, "beach.jpg"), (alice, "receipt.jpg"), (bob, "cat.jpg"), (bob, "x.jpg")]):
        response = await upload(client, owner, (name, jpeg(100 + n)))
        ids[name] = response.json()["images"][0]["id"]
    gone = await client.delete(f"/api/v1/images/{ids['x.jpg']}", headers=auth(bob))
    assert gone.status_code == 204

    tagged = images_pb2.ImageTagged(image_id=ids["cat.jpg"], owner_id=bob, model_version="tag@1", faces=0)
    tagged.labels.add(name="tabby", confidence=0.9, parents=["cat"])
    tagged.tagged_at.FromDatetime(datetime.now(UTC))
    text = images_pb2.TextExtracted(
        image_id=ids["receipt.jpg"], owner_id=alice, content="TOTAL 9.99", document_type="receipt"
    )
    text.fields["total"] = "9.99"
    text.lines.add(text="TOTAL 9.99", confidence=0.9, box=[1, 2, 3, 4])
    await publisher.publish(IMAGES_TAGGED, tagged, key=tagged.image_id)
    await publisher.publish(IMAGES_TEXT_EXTRACTED, text, key=text.image_id)

    async def results_stored() -> bool:
        cat = (await client.get(f"/api/v1/images/{ids['cat.jpg']}", headers=auth(bob))).json()
        receipt = (await client.get(f"/api/v1/images/{ids['receipt.jpg']}", headers=auth(alice))).json()
        return bool(cat["stages"]["tagging"] == "done" and receipt["stages"]["ocr"] == "done")

    await eventually(results_stored, what="tagging and OCR results stored")

    items, pages = await _export_all(client, limit=2)
    exported = {item["image_id"]: item for item in items}
    live = {ids["beach.jpg"], ids["receipt.jpg"], ids["cat.jpg"]}
    assert live <= set(exported)
    assert ids["x.jpg"] not in exported
    assert len(items) == len(exported)  # no image twice across pages
    assert [item["image_id"] for item in items] == sorted(exported)
    assert pages >= 2

    cat = exported[ids["cat.jpg"]]
    assert cat["owner_id"] == bob
    assert json_format.ParseDict(cat["uploaded"], images_pb2.ImageUploaded()).filename == "cat.jpg"
    assert [label.name for label in json_format.ParseDict(cat["tagged"], images_pb2.ImageTagged()).labels] == ["tabby"]
    assert cat["text_extracted"] is None
    receipt = exported[ids["receipt.jpg"]]
    extracted = json_format.ParseDict(receipt["text_extracted"], images_pb2.TextExtracted())
    assert (extracted.content, dict(extracted.fields)) == ("TOTAL 9.99", {"total": "9.99"})
    assert not extracted.lines
    assert receipt["tagged"] is None


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer export-alice"}, {"Authorization": f"Bearer {TOKEN[::-1]}"}],
)
async def test_the_export_refuses_anyone_without_the_internal_token(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    # The stand-in verifier would take "export-alice" as a user: user credentials open nothing here.
    response = await client.get("/internal/v1/images", headers=headers)
    assert response.status_code == 401


async def test_a_cursor_the_export_did_not_make_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/internal/v1/images", params={"cursor": "!!"}, headers=INTERNAL)
    assert response.status_code == 400
