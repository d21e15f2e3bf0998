"""Kafka records as aiokafka hands them to a consumer, for tests that need no broker."""

from __future__ import annotations

from aiokafka import ConsumerRecord


def consumer_record(
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    *,
    topic: str = "images.uploaded",
    partition: int = 1,
    offset: int = 7,
    key: bytes = b"img-1",
    timestamp: int = 0,
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=timestamp,
        timestamp_type=0,
        key=key,
        value=value,
        checksum=None,
        serialized_key_size=len(key),
        serialized_value_size=len(value or b""),
        headers=headers,
    )
