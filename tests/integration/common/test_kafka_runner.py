"""The consumer runner against a real broker: commit after success, retries, DLQ, drain on stop."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import ConsumedEvent, EventConsumer, EventPublisher, PermanentError, TransientError
from pixtract.events.topics import IMAGES_UPLOADED, Topic
from pixtract.events.v1 import images_pb2
from tests.integration.settings import kafka_settings, started_publisher

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka(lite_servers: Any) -> KafkaSettings:
    return kafka_settings(lite_servers, max_retries=2)


@pytest.fixture
async def publisher(kafka: KafkaSettings) -> AsyncIterator[EventPublisher]:
    async with started_publisher(kafka, client_id="test") as pub:
        yield pub


def _topic() -> Topic[images_pb2.ImageUploaded]:
    """A fresh topic per test (same message type as images.uploaded) so tests never share offsets."""
    name = f"test.uploaded.{uuid.uuid4().hex[:8]}"
    return Topic(
        name=name,
        key="image_id",
        message_type=images_pb2.ImageUploaded,
        producers=("upload",),
        consumers=("test",),
        partitions=IMAGES_UPLOADED.partitions,
        retention_hours=1,
    )


async def _wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _read_all(kafka: KafkaSettings, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(records) < expected and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for recs in batch.values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def _committed(kafka: KafkaSettings, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        total = 0
        for partition in range(IMAGES_UPLOADED.partitions):
            total += await consumer.committed(TopicPartition(topic, partition)) or 0
        return total
    finally:
        await consumer.stop()


async def test_poison_message_is_dead_lettered_and_consumer_keeps_going(
    kafka: KafkaSettings, publisher: EventPublisher
) -> None:
    topic = _topic()
    handled: list[str] = []

    async def handler(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        if event.message.filename == "poison.png":
            raise PermanentError("cannot ever process this image")
        handled.append(event.message.image_id)

    # Same key for all, so they share a partition and their order is fixed.
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="a"), key="k")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    await producer.send_and_wait(topic.name, b"\x08\x96\x01\xff garbage", key=b"k")
    await producer.stop()
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="b", filename="poison.png"), key="k")
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="c"), key="k")

    consumer = EventConsumer(kafka, group_id=f"g-{uuid.uuid4().hex[:6]}", publisher=publisher)
    consumer.on(topic, handler)
    await consumer.start()
    try:
        await _wait_for(lambda: handled == ["a", "c"])
    finally:
        await consumer.stop()

    dead = await _read_all(kafka, topic.dlq, expected=2)
    assert len(dead) == 2
    errors = [dict(r.headers)["dlq-error"].decode() for r in dead]
    assert any("cannot decode" in e for e in errors)
    assert any("cannot ever process this image" in e for e in errors)
    for record in dead:
        h = {k: v.decode() for k, v in record.headers}
        assert h["dlq-original-topic"] == topic.name
        assert h["dlq-error-type"] == "PermanentError"
        assert h["dlq-consumer-group"].startswith("g-")
        assert record.key == b"k"


async def test_retries_then_dead_letters_a_failing_handler(kafka: KafkaSettings, publisher: EventPublisher) -> None:
    topic = _topic()
    attempts: list[str] = []

    async def flaky(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        attempts.append(event.message.image_id)
        if event.message.image_id == "always-fails":
            raise ValueError("bug in handler")
        if attempts.count(event.message.image_id) < 2:
            raise ValueError("fails once")

    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="always-fails"), key="k")
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="ok-second-time"), key="k")
    consumer = EventConsumer(kafka, group_id=f"g-{uuid.uuid4().hex[:6]}", publisher=publisher)
    consumer.on(topic, flaky)
    await consumer.start()
    try:
        await _wait_for(lambda: attempts.count("ok-second-time") == 2)
    finally:
        await consumer.stop()
    assert attempts.count("always-fails") == kafka.max_retries + 1
    dead = await _read_all(kafka, topic.dlq, expected=1)
    assert [r.key for r in dead] == [b"k"]
    assert {k: v.decode() for k, v in dead[0].headers}["dlq-attempts"] == str(kafka.max_retries + 1)


async def test_transient_errors_retry_until_the_dependency_is_back(
    kafka: KafkaSettings, publisher: EventPublisher
) -> None:
    topic = _topic()
    calls = 0

    async def needs_dependency(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        nonlocal calls
        calls += 1
        if calls < kafka.max_retries + 3:  # more failures than the retry budget
            raise TransientError("mongo is down")

    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="x"), key="k")
    consumer = EventConsumer(kafka, group_id=f"g-{uuid.uuid4().hex[:6]}", publisher=publisher)
    consumer.on(topic, needs_dependency)
    await consumer.start()
    try:
        await _wait_for(lambda: calls == kafka.max_retries + 3)
    finally:
        await consumer.stop()
    assert await _read_all(kafka, topic.dlq, expected=1, timeout=3) == []


async def test_offsets_are_committed_only_after_success(kafka: KafkaSettings, publisher: EventPublisher) -> None:
    """A consumer stopped mid-way redelivers exactly what it did not finish to the next member."""
    topic = _topic()
    group = f"g-{uuid.uuid4().hex[:6]}"
    for n in range(6):
        await publisher.publish(topic, images_pb2.ImageUploaded(image_id=f"img-{n}"), key="k")

    release = asyncio.Event()
    first_run: list[str] = []

    async def slow(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        first_run.append(event.message.image_id)
        if event.message.image_id == "img-2":
            await release.wait()  # hangs until the consumer is told to stop
            raise TransientError("stopping")

    consumer = EventConsumer(kafka, group_id=group, publisher=publisher)
    consumer.on(topic, slow)
    await consumer.start()
    await _wait_for(lambda: "img-2" in first_run)
    stop = asyncio.create_task(consumer.stop())
    await asyncio.sleep(0.1)
    release.set()
    await stop
    assert await _committed(kafka, group, topic.name) == 2  # img-0 and img-1 only

    second_run: list[str] = []

    async def record(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        second_run.append(event.message.image_id)

    consumer = EventConsumer(kafka, group_id=group, publisher=publisher)
    consumer.on(topic, record)
    await consumer.start()
    try:
        await _wait_for(lambda: len(second_run) == 4)
    finally:
        await consumer.stop()
    assert second_run == ["img-2", "img-3", "img-4", "img-5"]
    assert await _committed(kafka, group, topic.name) == 6


async def test_trace_context_travels_in_headers(kafka: KafkaSettings, publisher: EventPublisher) -> None:
    from pixtract.common.tracing import configure_tracing, tracer

    configure_tracing("test")
    topic = _topic()
    with tracer().start_as_current_span("upload request") as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
        await publisher.publish(topic, images_pb2.ImageUploaded(image_id="t"), key="k")
    records = await _read_all(kafka, topic.name, expected=1)
    headers = {k: v.decode() for k, v in records[0].headers}
    assert headers["traceparent"].split("-")[1] == trace_id
    assert headers["event-type"] == "pixtract.events.v1.ImageUploaded"
    assert len(headers["event-id"]) == 32
