"""The OCR service against real servers: an upload in, an images.text_extracted out with the
receipt's fields; the handled-image record behind `reprocess`; deletions forget it."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from bench.ocr_set import DOCUMENTS, render
from pixtract.common.clients import s3_client
from pixtract.common.kafka import EventPublisher
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_DELETED, IMAGES_TEXT_EXTRACTED, IMAGES_UPLOADED
from pixtract.events.v1 import common_pb2, images_pb2
from pixtract.ocr.adapters.mongo_handled import MongoHandledStore
from pixtract.ocr.app import create_app
from pixtract.ocr.config import Settings
from pixtract.ocr.consumers.uploaded import OcrHandler
from pixtract.ocr.providers import text_reader
from pixtract.ocr.reprocess import reprocess_stale
from tests.integration.settings import kafka_settings, mongo_settings, running, s3_settings, started_publisher

pytestmark = pytest.mark.integration

WaitForText = Callable[..., Awaitable[images_pb2.TextExtracted]]


@pytest.fixture
def settings(lite_servers: Any) -> Settings:
    return Settings(
        kafka=kafka_settings(lite_servers),
        mongo=mongo_settings(lite_servers, database=f"ocr_{uuid.uuid4().hex[:8]}"),
        s3=s3_settings(lite_servers),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings)) as application:
        yield application


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[EventPublisher]:
    async with started_publisher(settings.kafka, client_id="ocr-test") as pub:
        yield pub


@pytest.fixture
async def handled(settings: Settings) -> AsyncIterator[MongoHandledStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo.url.get_secret_value(), tz_aware=True)
    yield MongoHandledStore(client[settings.mongo.database])
    await client.close()


@pytest.fixture
async def extracted(settings: Settings) -> AsyncIterator[WaitForText]:
    """Waits for an images.text_extracted of one image id (the `count`-th one seen)."""
    consumer = AIOKafkaConsumer(
        IMAGES_TEXT_EXTRACTED.name,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, list[images_pb2.TextExtracted]] = {}

    async def wait_for(image_id: str, count: int = 1, timeout: float = 90.0) -> images_pb2.TextExtracted:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(seen.get(image_id, [])) < count:
            assert asyncio.get_running_loop().time() < deadline, f"no images.text_extracted #{count} for {image_id}"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = images_pb2.TextExtracted.FromString(record.value)
                    seen.setdefault(message.image_id, []).append(message)
        return seen[image_id][count - 1]

    try:
        yield wait_for
    finally:
        await consumer.stop()


def _receipt_png() -> bytes:
    import io

    doc = next(d for d in DOCUMENTS if d.name == "receipt-corner-cafe")
    out = io.BytesIO()
    render(doc).save(out, format="PNG")
    return out.getvalue()


def _uploaded(image_id: str, owner_id: str, key: str, bucket: str) -> images_pb2.ImageUploaded:
    message = images_pb2.ImageUploaded(
        image_id=image_id,
        owner_id=owner_id,
        original=common_pb2.ObjectRef(bucket=bucket, key=key),
        content_type="image/png",
    )
    message.uploaded_at.FromDatetime(datetime.now(UTC))
    return message


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


async def test_a_receipt_is_read_published_remembered_and_reprocessed(
    app: FastAPI,
    settings: Settings,
    publisher: EventPublisher,
    extracted: WaitForText,
    handled: MongoHandledStore,
) -> None:
    owner, image_id = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    key = f"originals/{owner}/{image_id}"
    async with s3_client(settings.s3) as s3:
        await ObjectStore(s3, settings.s3.bucket).put_bytes(key, _receipt_png(), "image/png")

    await publisher.publish(IMAGES_UPLOADED, _uploaded(image_id, owner, key, settings.s3.bucket), key=image_id)
    result = await extracted(image_id)

    assert (result.owner_id, result.engine) == (owner, "rapidocr")
    assert result.model_version.startswith("rapidocr-3.10.0+p")
    assert result.document_type == "receipt"
    assert dict(result.fields) == {
        "vendor": "CORNER CAFE",
        "date": "2026-11-19",
        "total": "9.80",
        "currency": "EUR",
        "tax": "0.89",
        "subtotal": "8.91",
    }
    assert [(item.description, item.amount) for item in result.items][:2] == [
        ("Cappuccino", "3.20"),
        ("Croissant", "2.50"),
    ]
    assert result.language == "en"
    assert result.evidence[0].startswith("receipt:")
    assert "Cappuccino 3.20" in result.content.splitlines()
    assert result.HasField("extracted_at")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ocr") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "s3": "ok", "mongo": "ok", "consumer": "ok"}

    # The record `reprocess` reads: nothing is stale for the current version ...
    async def recorded() -> bool:
        return [i.image_id async for i in handled.older_than("some-older-version")] == [image_id]

    await _eventually(recorded)
    assert [i async for i in handled.older_than(result.model_version)] == []

    # ... and after a pipeline change the image is read again and published anew.
    async with text_reader(settings) as reader, s3_client(settings.s3) as s3:
        handler = OcrHandler(reader, ObjectStore(s3, settings.s3.bucket).get_bytes_or_none, publisher, handled)
        assert (await reprocess_stale(handler, handled, dry_run=True)).stale == 0
        await handled.record(dataclasses.replace(await _only(handled), model_version="rapidocr-0+p0"))
        report = await reprocess_stale(handler, handled)
    assert (report.stale, report.published, report.gone) == (1, 1, 0)
    again = await extracted(image_id, count=2)
    assert again.fields["total"] == "9.80"

    # Deleting the image forgets its record.
    deleted = images_pb2.ImageDeleted(image_id=image_id, owner_id=owner)
    await publisher.publish(IMAGES_DELETED, deleted, key=image_id)

    async def forgotten() -> bool:
        return [i async for i in handled.older_than("some-older-version")] == []

    await _eventually(forgotten)


async def _only(handled: MongoHandledStore) -> Any:
    images = [i async for i in handled.older_than("some-older-version")]
    assert len(images) == 1
    return images[0]
