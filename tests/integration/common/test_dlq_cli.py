"""`python -m pixtract.common.topics dlq ...` against a real broker and a real consumer runner:
a poison event is dead-lettered without stalling its partition, listed, shown, and re-driven
exactly once after the handler is fixed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import ConsumedEvent, EventConsumer, EventPublisher, PermanentError
from pixtract.common.topics import main
from pixtract.events.topics import Topic
from pixtract.events.v1 import images_pb2
from pixtract.localstack import InfraEndpoints
from tests.integration.settings import kafka_settings, started_publisher


@pytest.fixture
def kafka(lite_servers: InfraEndpoints, monkeypatch: pytest.MonkeyPatch) -> KafkaSettings:
    # The CLI reads the same broker from its environment.
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__BOOTSTRAP_SERVERS", lite_servers.kafka_bootstrap)
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__ENABLE_IDEMPOTENCE", "false")
    return kafka_settings(lite_servers, max_retries=1)


@pytest.fixture
async def publisher(kafka: KafkaSettings) -> AsyncIterator[EventPublisher]:
    async with started_publisher(kafka, client_id="test") as pub:
        yield pub


def _topic() -> Topic[images_pb2.ImageUploaded]:
    """A fresh topic (and so a fresh .dlq) per test: re-driving never touches another test's messages."""
    return Topic(
        name=f"test.dlq-cli.{uuid.uuid4().hex[:8]}",
        key="image_id",
        message_type=images_pb2.ImageUploaded,
        producers=("upload",),
        consumers=("test",),
        partitions=4,
        retention_hours=1,
    )


async def _wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    # In a thread: the command runs its own event loop, while the consumer goes on in this one.
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def _row(table: str, topic: str) -> tuple[int, int]:
    """(messages, not re-driven) of `topic` in `dlq list`'s table."""
    [line] = [line for line in table.splitlines() if line.split()[0] == topic]
    _, messages, not_redriven = line.split()
    return int(messages), int(not_redriven)


async def _messages_in(kafka: KafkaSettings, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(4)]
        starts, ends = await consumer.beginning_offsets(tps), await consumer.end_offsets(tps)
        return sum(ends[tp] - starts[tp] for tp in tps)
    finally:
        await consumer.stop()


async def test_a_poison_event_is_dead_lettered_shown_and_redriven_once(
    kafka: KafkaSettings, publisher: EventPublisher, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = _topic()
    group = f"g-{uuid.uuid4().hex[:6]}"
    fixed = False
    handled: list[tuple[str, str | None]] = []  # image id, redrive-count header

    async def handler(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        if event.message.filename == "poison.png" and not fixed:
            raise PermanentError("cannot ever process this image")
        handled.append((event.message.image_id, event.headers.get("redrive-count")))

    # One key: one partition, in this order (offsets 0, 1, 2).
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="a"), key="k")
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="b", filename="poison.png"), key="k")
    await publisher.publish(topic, images_pb2.ImageUploaded(image_id="c"), key="k")

    consumer = EventConsumer(kafka, group_id=group, publisher=publisher)
    consumer.on(topic, handler)
    await consumer.start()
    try:
        # "c" comes after the poison event on the same partition: the partition did not stall.
        await _wait_for(lambda: [image for image, _ in handled] == ["a", "c"])

        assert _row(await _cli(capsys, "dlq", "list"), topic.dlq) == (1, 1)

        [shown] = [json.loads(line) for line in (await _cli(capsys, "dlq", "show", topic.dlq)).splitlines()]
        headers: dict[str, Any] = shown["headers"]
        assert shown["key"] == "k"
        assert shown["redriven"] is False
        assert shown["value"] == {"imageId": "b", "filename": "poison.png"}
        assert "cannot ever process this image" in headers["dlq-error"]
        assert headers["dlq-error-type"] == "PermanentError"
        assert headers["dlq-original-topic"] == topic.name
        assert headers["dlq-original-offset"] == "1"
        assert headers["dlq-original-partition"] == str(shown["partition"])
        assert headers["dlq-consumer-group"] == group
        assert headers["dlq-attempts"] == "1"
        assert headers["event-type"] == "pixtract.events.v1.ImageUploaded"

        dry = await _cli(capsys, "dlq", "redrive", topic.dlq, "--dry-run")
        assert (
            dry.strip() == f"{topic.dlq}: would re-drive 1 message ({topic.name} 1); 0 left; nothing sent or committed"
        )
        assert _row(await _cli(capsys, "dlq", "list"), topic.dlq) == (1, 1)

        fixed = True
        sent = await _cli(capsys, "dlq", "redrive", topic.dlq)
        assert sent.strip() == f"{topic.dlq}: re-drove 1 message ({topic.name} 1); 0 left"
        await _wait_for(lambda: ("b", "1") in handled)

        again = await _cli(capsys, "dlq", "redrive", topic.dlq)
        assert again.strip() == f"{topic.dlq}: re-drove 0 messages; 0 left"
        assert await _messages_in(kafka, topic.name) == 4  # a, b, c and the one re-driven b
        assert _row(await _cli(capsys, "dlq", "list"), topic.dlq) == (1, 0)
        [shown_after] = [json.loads(line) for line in (await _cli(capsys, "dlq", "show", topic.dlq)).splitlines()]
        assert shown_after["redriven"] is True
    finally:
        await consumer.stop()
    assert handled == [("a", None), ("c", None), ("b", "1")]


async def test_redrive_sends_one_copy_per_original_record_and_stops_at_the_limit(
    kafka: KafkaSettings, publisher: EventPublisher, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = _topic()
    value = images_pb2.ImageUploaded(image_id="x").SerializeToString()

    def failed(group: str, offset: int) -> list[tuple[str, bytes]]:
        return [
            ("event-id", f"ev-{offset}".encode()),
            ("dlq-original-topic", topic.name.encode()),
            ("dlq-original-partition", b"0"),
            ("dlq-original-offset", str(offset).encode()),
            ("dlq-consumer-group", group.encode()),
        ]

    # Two groups failed on original offset 5, one on offset 6 (one key: one DLQ partition, in order).
    for headers in (failed("tagging", 5), failed("ocr", 5), failed("tagging", 6)):
        await publisher.publish_raw(topic.dlq, value, key=b"x", headers=headers)

    first = await _cli(capsys, "dlq", "redrive", topic.dlq, "--limit", "2")
    assert first.strip() == (
        f"{topic.dlq}: re-drove 1 message ({topic.name} 1), "
        "skipped 1 already re-driven in this run (same original record); 1 left"
    )
    rest = await _cli(capsys, "dlq", "redrive", topic.dlq)
    assert rest.strip() == f"{topic.dlq}: re-drove 1 message ({topic.name} 1); 0 left"

    consumer = AIOKafkaConsumer(topic.name, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        records: list[Any] = []
        deadline = asyncio.get_running_loop().time() + 20
        while len(records) < 2 and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
    finally:
        await consumer.stop()
    assert [(r.key, r.value) for r in records] == [(b"x", value)] * 2
    assert [list(r.headers) for r in records] == [
        [("event-id", b"ev-5"), ("redrive-count", b"1")],
        [("event-id", b"ev-6"), ("redrive-count", b"1")],
    ]


@pytest.mark.parametrize("command", [["list"], ["show", "images.uploaded.dlq"], ["redrive", "images.uploaded.dlq"]])
def test_commands_fail_with_a_clear_message_when_kafka_is_unreachable(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    with pytest.raises(SystemExit) as exited:
        main(["dlq", *command])
    assert exited.value.code == 1
    # aiokafka logs its connection errors to stderr too; the command's own report is the last line.
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["event"] == "dlq_failed"
    assert error["error"].startswith("Kafka at 127.0.0.1:1 did not answer")


def test_env_prefix_reads_a_services_own_kafka_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIXTRACT_TOPICS_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:2")
    monkeypatch.setenv("PIXTRACT_SEARCH_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:1")
    with pytest.raises(SystemExit) as exited:
        main(["--env-prefix", "PIXTRACT_SEARCH_", "dlq", "list"])
    assert exited.value.code == 1
    error = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert error["error"].startswith("Kafka at 127.0.0.1:1 did not answer")
