"""The engine pool, the upload handler and reprocessing, with fakes (no servers)."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from pixtract.events.topics import IMAGES_TEXT_EXTRACTED
from pixtract.events.v1 import common_pb2, images_pb2
from pixtract.ocr.adapters.pool import EnginePool, PooledReader
from pixtract.ocr.consumers.uploaded import OcrHandler
from pixtract.ocr.domain.handled import HandledImage
from pixtract.ocr.domain.ocr import OcrLine, Preprocessing
from pixtract.ocr.reprocess import reprocess_stale


class ThreadRecordingEngine:
    model_version = "fake-1"
    created: list[int] = []

    def __init__(self) -> None:
        ThreadRecordingEngine.created.append(threading.get_ident())
        self.used_by: set[int] = set()

    def read_lines(self, image: NDArray[np.uint8]) -> list[OcrLine]:
        self.used_by.add(threading.get_ident())
        time.sleep(0.01)
        return [
            OcrLine("CORNER CAFE", 0.99, (10, 10, 200, 40)),
            OcrLine("Cappuccino", 0.99, (10, 60, 150, 90)),
            OcrLine("3.20", 0.99, (300, 60, 360, 90)),
            OcrLine("TOTAL EUR", 0.99, (10, 110, 150, 140)),
            OcrLine("3.20", 0.99, (300, 110, 360, 140)),
        ]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 200), "white").save(out, format="PNG")
    return out.getvalue()


async def test_pool_gives_each_thread_its_own_engine_and_bounds_admission() -> None:
    ThreadRecordingEngine.created = []
    pool = EnginePool(ThreadRecordingEngine, workers=2, queue_size=1)
    await asyncio.to_thread(pool.start)
    assert len(set(ThreadRecordingEngine.created)) == 2  # loaded up front, one per thread
    assert pool.model_version == "fake-1"
    running = 0
    most = 0

    def work(engine: Any) -> int:
        nonlocal running, most
        running += 1
        most = max(most, running)
        time.sleep(0.02)
        running -= 1
        return threading.get_ident()

    threads = await asyncio.gather(*(pool.run(work) for _ in range(8)))
    assert set(threads) <= set(ThreadRecordingEngine.created)
    assert most <= 2
    pool.shutdown()


@dataclass
class FakePublisher:
    sent: list[tuple[str, Any, str]] = field(default_factory=list)

    async def publish(self, topic: Any, message: Any, key: str) -> None:
        self.sent.append((topic.name, message, key))


@dataclass
class FakeHandled:
    images: dict[str, HandledImage] = field(default_factory=dict)

    async def record(self, image: HandledImage) -> None:
        self.images[image.image_id] = image

    async def forget_image(self, image_id: str) -> None:
        self.images.pop(image_id, None)

    async def forget_owner(self, owner_id: str) -> None:
        self.images = {k: v for k, v in self.images.items() if v.owner_id != owner_id}

    async def older_than(self, model_version: str, *, limit: int | None = None) -> AsyncIterator[HandledImage]:
        for image in list(self.images.values())[:limit]:
            if image.model_version != model_version:
                yield image


@dataclass
class Event:
    message: images_pb2.ImageUploaded


@pytest.fixture
async def reader() -> AsyncIterator[PooledReader]:
    pool = EnginePool(ThreadRecordingEngine, workers=1, queue_size=0)
    await asyncio.to_thread(pool.start)
    yield PooledReader(pool, max_pixels=10_000_000, max_side=2000, preprocessing=Preprocessing())
    pool.shutdown()


def _objects(data: dict[tuple[str, str], bytes]) -> Any:
    async def read(bucket: str, key: str) -> bytes | None:
        return data.get((bucket, key))

    return read


async def test_handler_publishes_fields_and_remembers_the_image(reader: PooledReader) -> None:
    publisher, handled = FakePublisher(), FakeHandled()
    handler = OcrHandler(reader, _objects({("b", "k"): _png()}), publisher, handled)  # type: ignore[arg-type]
    uploaded = images_pb2.ImageUploaded(
        image_id="img", owner_id="own", original=common_pb2.ObjectRef(bucket="b", key="k"), attempt=2
    )
    await handler(Event(uploaded))  # type: ignore[arg-type]
    [(topic, message, key)] = publisher.sent
    assert (topic, key) == (IMAGES_TEXT_EXTRACTED.name, "img")
    assert message.document_type == "receipt"
    assert dict(message.fields) == {"vendor": "CORNER CAFE", "total": "3.20", "currency": "EUR"}
    assert [(i.description, i.amount) for i in message.items] == [("Cappuccino", "3.20")]
    assert message.evidence[0].startswith("receipt:")
    assert (message.engine, message.model_version) == ("rapidocr", "fake-1")
    assert handled.images["img"] == HandledImage("img", "own", "b", "k", "fake-1", 2)


async def test_unreadable_bytes_publish_an_empty_result_and_gone_originals_nothing(reader: PooledReader) -> None:
    publisher, handled = FakePublisher(), FakeHandled()
    handler = OcrHandler(reader, _objects({("b", "bad"): b"not an image"}), publisher, handled)  # type: ignore[arg-type]
    await handler.process(HandledImage("bad", "own", "b", "bad", ""))
    assert publisher.sent[0][1].document_type == "none"
    assert publisher.sent[0][1].evidence[0].startswith("unreadable:")
    handled.images["gone"] = HandledImage("gone", "own", "b", "gone", "old")
    assert await handler.process(HandledImage("gone", "own", "b", "gone", "")) is False
    assert "gone" not in handled.images
    assert len(publisher.sent) == 1


async def test_reprocess_reads_only_images_of_other_versions(reader: PooledReader) -> None:
    publisher, handled = FakePublisher(), FakeHandled()
    handled.images = {
        "old": HandledImage("old", "own", "b", "k", "fake-0", 1),
        "current": HandledImage("current", "own", "b", "k", "fake-1", 1),
        "deleted": HandledImage("deleted", "own", "b", "missing", "fake-0", 1),
    }
    handler = OcrHandler(reader, _objects({("b", "k"): _png()}), publisher, handled)  # type: ignore[arg-type]
    dry = await reprocess_stale(handler, handled, dry_run=True)
    assert (dry.stale, dry.published, publisher.sent) == (2, 0, [])
    report = await reprocess_stale(handler, handled)
    assert (report.stale, report.published, report.gone) == (2, 1, 1)
    assert [key for _, _, key in publisher.sent] == ["old"]
    assert handled.images["old"].model_version == "fake-1"
    assert handled.images["old"].attempt == 2
    assert "deleted" not in handled.images
