"""How much of the pipeline's work is still queued in Kafka (the reconciler waits for none).

Each consumer group is named after its service, and the topic registry says which services
read each topic, so the backlog is what those groups have not committed yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import kafka_security
from pixtract.events.topics import IMAGES_INDEXED, IMAGES_TAGGED, IMAGES_TEXT_EXTRACTED, IMAGES_UPLOADED, Topic

# The topics an image's processing flows through, from its upload to its indexed facts.
PIPELINE_TOPICS: tuple[Topic[Any], ...] = (IMAGES_UPLOADED, IMAGES_TAGGED, IMAGES_TEXT_EXTRACTED, IMAGES_INDEXED)


class KafkaBacklog:
    """Events of `topics` that a consumer group of theirs has not committed (dead-lettered
    events are committed: they count as done)."""

    def __init__(self, settings: KafkaSettings, topics: Sequence[Topic[Any]] = PIPELINE_TOPICS) -> None:
        self._settings = settings
        self._topics = tuple(topics)

    def _consumer(self, group_id: str | None = None) -> AIOKafkaConsumer:
        # Never subscribes, so it never joins a group: it only reads offsets.
        return AIOKafkaConsumer(
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=group_id,
            client_id="upload-backlog",
            enable_auto_commit=False,
            **kafka_security(self._settings),
        )

    async def queued(self) -> int:
        return sum(sum(per_partition) for per_partition in (await self.by_group()).values())

    async def by_group(self) -> dict[tuple[str, str], list[int]]:
        """(topic, group) -> events not committed yet, per partition."""
        reader = self._consumer()
        await reader.start()
        try:
            partitions = {
                topic.name: [
                    TopicPartition(topic.name, p) for p in sorted(reader.partitions_for_topic(topic.name) or ())
                ]
                for topic in self._topics
            }
            ends = await reader.end_offsets([tp for tps in partitions.values() for tp in tps])
        finally:
            await reader.stop()
        queued: dict[tuple[str, str], list[int]] = {}
        for group in sorted({group for topic in self._topics for group in topic.consumers}):
            member = self._consumer(group)
            await member.start()
            try:
                for topic in self._topics:
                    if group in topic.consumers:
                        # None: the group never committed here, so everything is still to do.
                        # (Tansu's end offsets may trail a commit by a few records: never below 0.)
                        queued[(topic.name, group)] = [
                            max(0, ends[tp] - (await member.committed(tp) or 0)) for tp in partitions[topic.name]
                        ]
            finally:
                await member.stop()
        return queued
