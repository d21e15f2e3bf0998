"""The consumer runner outlives a broker that goes away: failed commits never end the poll loop."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import ConsumedEvent, EventConsumer, event_headers
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.events.v1 import images_pb2
from tests.unit.common.records import consumer_record

TP = TopicPartition("images.uploaded", 0)


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    message = images_pb2.ImageUploaded(image_id=f"img-{offset}")
    return consumer_record(
        message.SerializeToString(),
        event_headers(message),
        topic=TP.topic,
        partition=TP.partition,
        offset=offset,
        key=b"k",
    )


class BrokerGoneConsumer:
    """An aiokafka consumer whose broker vanished after the first batch was fetched."""

    def __init__(self) -> None:
        self.batches = [{TP: [_record(0), _record(1)]}, {TP: [_record(2)]}]
        self.commits: list[dict[TopicPartition, int]] = []
        self.failing = 1

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, Any]:
        await asyncio.sleep(0)
        return self.batches.pop(0) if self.batches else {}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failing:
            self.failing -= 1
            raise NodeNotReadyError("broker gone")
        self.commits.append(offsets)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int:
        return 3

    async def position(self, tp: TopicPartition) -> int:
        raise KafkaConnectionError("broker gone")

    def seek(self, tp: TopicPartition, offset: int) -> None:
        raise AssertionError("nothing should be rewound: every handler succeeded")


async def test_the_poll_loop_survives_failed_commits_and_commits_again_later() -> None:
    handled: list[str] = []

    async def handler(event: ConsumedEvent[images_pb2.ImageUploaded]) -> None:
        handled.append(event.message.image_id)

    consumer = EventConsumer(KafkaSettings(bootstrap_servers="unused:9092"), group_id="g", publisher=None)  # type: ignore[arg-type]
    consumer.on(IMAGES_UPLOADED, handler)
    fake = BrokerGoneConsumer()
    consumer._consumer = fake
    task = asyncio.create_task(consumer._run())
    for _ in range(200):
        if fake.commits:
            break
        await asyncio.sleep(0.01)
    assert not task.done(), task
    assert handled == ["img-0", "img-1", "img-2"]
    # The first commit failed (broker gone); the next one covers everything handled before it.
    assert fake.commits == [{TP: 3}]
    consumer._stopping.set()
    await asyncio.wait_for(task, 5)


class AssignedConsumer:
    """Only what the lag metric reads: the assignment, high-water marks and positions."""

    def __init__(self, assigned: set[TopicPartition]) -> None:
        self.assigned = assigned

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def highwater(self, tp: TopicPartition) -> int:
        return 10

    async def position(self, tp: TopicPartition) -> int:
        return 7


def test_lag_is_reported_only_for_partitions_still_assigned() -> None:
    from pixtract.common.metrics import CONSUMER_LAG

    consumer = EventConsumer(KafkaSettings(), group_id="lag-test", publisher=None)  # type: ignore[arg-type]
    first, second = TopicPartition("images.uploaded", 0), TopicPartition("images.uploaded", 1)

    def reported() -> dict[str, float]:
        return {
            sample.labels["partition"]: sample.value
            for metric in CONSUMER_LAG.collect()
            for sample in metric.samples
            if sample.labels["group"] == "lag-test"
        }

    fake: Any = AssignedConsumer({first, second})
    asyncio.run(consumer._record_lag(fake))
    assert reported() == {"0": 3, "1": 3}
    fake.assigned = {second}  # a rebalance gave partition 0 to another replica
    asyncio.run(consumer._record_lag(fake))
    assert reported() == {"1": 3}
