"""Outbox entries: events stored inside the record they describe, published later by the relay.

Writing the record and its event in one document write is what makes "stored but never
announced" impossible; the relay publishes each entry at least once and then removes it.
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict, TypeVar

from google.protobuf.message import Message

from pixtract.common.tracing import inject_trace_context
from pixtract.events.topics import TOPICS, Topic

M = TypeVar("M", bound=Message)


class OutboxEntry(TypedDict):
    event_id: str
    topic: str
    key: str
    payload: bytes
    # W3C trace context of the request that wrote the entry, so the trace continues.
    trace: dict[str, str]


class UndeliverableEntry(Exception):
    """An entry that can never be published (unknown topic, undecodable payload)."""


def outbox_entry(topic: Topic[M], message: M, *, key: str) -> OutboxEntry:
    trace: dict[str, str] = {}
    inject_trace_context(trace)
    return {
        "event_id": uuid.uuid4().hex,
        "topic": topic.name,
        "key": key,
        "payload": message.SerializeToString(),
        "trace": trace,
    }


def decode_entry(entry: OutboxEntry) -> tuple[Topic[Any], Message]:
    """The topic and message an entry stands for."""
    topic = TOPICS.get(entry["topic"])
    if topic is None:
        raise UndeliverableEntry(f"unknown topic {entry['topic']!r}")
    try:
        message = topic.message_type.FromString(bytes(entry["payload"]))
    except Exception as exc:
        raise UndeliverableEntry(f"payload is not a {topic.message_type.__name__}: {exc}") from exc
    return topic, message
