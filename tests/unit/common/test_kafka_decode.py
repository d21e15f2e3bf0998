"""How the consumer runner classifies records before any handler runs (pure, no broker)."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord

from pixtract.common.config import KafkaSettings
from pixtract.common.kafka import EventConsumer, PermanentError, event_headers
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.events.v1 import images_pb2
from tests.unit.common.records import consumer_record


def _record(value: bytes | None, headers: list[tuple[str, bytes]]) -> ConsumerRecord[bytes, bytes]:
    return consumer_record(value, headers)


def _headers(record_headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    return {k: v.decode() for k, v in record_headers}


def test_decodes_a_valid_event_with_its_headers() -> None:
    message = images_pb2.ImageUploaded(image_id="img-1", owner_id="u1", filename="a.png")
    headers = event_headers(message, event_id="ev-1")
    event = EventConsumer._decode(IMAGES_UPLOADED, _record(message.SerializeToString(), headers), _headers(headers))
    assert event.message == message
    assert event.key == "img-1"
    assert event.event_id == "ev-1"
    assert event.headers["event-type"] == "pixtract.events.v1.ImageUploaded"
    assert event.headers["schema-version"] == "1"


def test_garbage_bytes_are_permanent_errors() -> None:
    headers = event_headers(images_pb2.ImageUploaded())
    with pytest.raises(PermanentError, match="cannot decode"):
        EventConsumer._decode(IMAGES_UPLOADED, _record(b"\xff\xff\xff\xff", headers), _headers(headers))


def test_wrong_event_type_is_a_permanent_error() -> None:
    wrong = images_pb2.ImageDeleted(image_id="img-1")
    headers = event_headers(wrong)
    with pytest.raises(PermanentError, match="does not belong"):
        EventConsumer._decode(IMAGES_UPLOADED, _record(wrong.SerializeToString(), headers), _headers(headers))


def test_tombstone_without_value_is_a_permanent_error() -> None:
    with pytest.raises(PermanentError, match="no value"):
        EventConsumer._decode(IMAGES_UPLOADED, _record(None, []), {})


def test_backoff_grows_and_is_capped() -> None:
    consumer = EventConsumer(KafkaSettings(retry_backoff_s=0.5), "g", publisher=None)  # type: ignore[arg-type]
    delays = [consumer._backoff(n) for n in range(10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 30.0
