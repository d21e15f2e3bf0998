"""The Kafka layer: a typed publisher and a consumer runner that owns delivery policy.

Handlers are plain async functions of one decoded event (getsentry/arroyo's split): the
runner polls, decodes, retries with backoff, dead-letters poison messages to
`<topic>.dlq` with the error in headers, commits offsets only after a message was
handled (or dead-lettered), carries trace context in headers, and on stop finishes the
batch in hand, commits and leaves the group.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.helpers import create_ssl_context
from google.protobuf.message import DecodeError, Message
from opentelemetry.trace import SpanKind

from pixtract.common.config import KafkaSettings
from pixtract.common.dependencies import unavailable_dependency
from pixtract.common.logging import get_logger
from pixtract.common.metrics import (
    CONSUMER_LAG,
    EVENT_HANDLER_SECONDS,
    EVENTS_CONSUMED,
    EVENTS_DEAD_LETTERED,
    EVENTS_PUBLISHED,
)
from pixtract.common.tracing import inject_trace_context, span_from_carrier
from pixtract.events.topics import Topic

M = TypeVar("M", bound=Message)

SCHEMA_VERSION = "1"
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 25.0

log = get_logger(__name__)


class PermanentError(Exception):
    """The event can never be handled (bad data): dead-letter it without retrying."""


class TransientError(Exception):
    """A dependency is down: retry the same event with backoff until it works, never dead-letter.
    (The client libraries' own connection errors count too: `unavailable_dependency`.)"""


def kafka_security(settings: KafkaSettings) -> dict[str, Any]:
    """Connection options for any aiokafka client (producer, consumer, admin) from the settings."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in {"SSL", "SASL_SSL"}:
        # aiokafka refuses TLS without a context; managed clusters (MSK, Confluent Cloud)
        # present public-CA certificates, so the system trust store is the right default.
        options["ssl_context"] = create_ssl_context(cafile=settings.ssl_cafile)
    if settings.sasl_mechanism:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return options


def event_headers(message: Message, event_id: str | None = None) -> list[tuple[str, bytes]]:
    carrier: dict[str, str] = {}
    inject_trace_context(carrier)
    headers = {
        "event-id": event_id or uuid.uuid4().hex,
        "event-type": message.DESCRIPTOR.full_name,
        "schema-version": SCHEMA_VERSION,
        **carrier,
    }
    return [(k, v.encode()) for k, v in headers.items()]


class EventPublisher:
    """Publishes protobuf events with acks=all, keyed, with the standard headers."""

    def __init__(self, settings: KafkaSettings, client_id: str) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=settings.enable_idempotence,
            linger_ms=5,
            request_timeout_ms=15_000,
            **kafka_security(settings),
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, topic: Topic[M], message: M, *, key: str, event_id: str | None = None) -> None:
        if not isinstance(message, topic.message_type):
            raise TypeError(f"{topic.name} carries {topic.message_type.__name__}, not {type(message).__name__}")
        await self._producer.send_and_wait(
            topic.name,
            value=message.SerializeToString(),
            key=key.encode(),
            headers=event_headers(message, event_id),
        )
        EVENTS_PUBLISHED.labels(topic.name).inc()

    async def publish_raw(
        self, topic_name: str, value: bytes | None, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        """Publish bytes as they are (dead-lettering, re-driving)."""
        await self._producer.send_and_wait(topic_name, value=value, key=key, headers=headers)
        EVENTS_PUBLISHED.labels(topic_name).inc()

    async def ping(self) -> None:
        """Readiness: a broker answers a metadata request now (aiokafka's cached metadata,
        and `force_metadata_update`, which reports failure as False, would hide an outage)."""
        cluster = await self._producer.client.fetch_all_metadata()
        if not cluster.brokers():
            raise KafkaError("no brokers known")


@dataclass(frozen=True)
class ConsumedEvent(Generic[M]):
    message: M
    key: str
    headers: Mapping[str, str]
    topic: str
    partition: int
    offset: int

    @property
    def event_id(self) -> str:
        return self.headers.get("event-id", f"{self.topic}/{self.partition}/{self.offset}")


Handler = Callable[[ConsumedEvent[Any]], Awaitable[None]]


@dataclass(frozen=True)
class _Route:
    topic: Topic[Any]
    handler: Handler


class EventConsumer:
    """Runs handlers for a set of topics in one consumer group with at-least-once delivery."""

    def __init__(self, settings: KafkaSettings, group_id: str, publisher: EventPublisher) -> None:
        self._settings = settings
        self._group_id = group_id
        self._publisher = publisher
        self._routes: dict[str, _Route] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lag_reported: set[TopicPartition] = set()
        self._stopping = asyncio.Event()

    def on(self, topic: Topic[M], handler: Callable[[ConsumedEvent[M]], Awaitable[None]]) -> None:
        self._routes[topic.name] = _Route(topic, handler)

    async def check_running(self) -> None:
        """Readiness: the poll loop is alive."""
        if self._task is None or self._task.done():
            raise RuntimeError(f"consumer {self._group_id} is not running")

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            *self._routes,
            bootstrap_servers=self._settings.bootstrap_servers,
            group_id=self._group_id,
            client_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self._settings.session_timeout_ms,
            heartbeat_interval_ms=self._settings.heartbeat_interval_ms,
            max_poll_interval_ms=600_000,
            fetch_max_wait_ms=self._settings.fetch_max_wait_ms,
            **kafka_security(self._settings),
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self._group_id}")

    async def stop(self) -> None:
        """Finish the batch in hand, commit, leave the group."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_S)
            except TimeoutError:
                log.warning("consumer did not drain in time; uncommitted events are redelivered", group=self._group_id)
                self._task.cancel()
            except Exception:
                log.exception("consumer loop ended with an error", group=self._group_id)
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        failures = 0
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=64)
            except KafkaError:
                log.exception("poll failed; retrying", group=self._group_id)
                await self._sleep_unless_stopping(1.0)
                continue
            if not batches:
                await self._record_lag(consumer)  # idle: caught up, or partitions moved away
                continue
            # Partitions are independent: handle them concurrently, each one in order.
            results = await asyncio.gather(*(self._handle_partition(tp, records) for tp, records in batches.items()))
            offsets = {tp: offset for tp, offset, _ in results if offset is not None}
            if offsets:
                await self._commit(offsets)
            await self._record_lag(consumer)
            if any(failed for _, _, failed in results):
                # Something below the handlers broke (e.g. the DLQ could not be written while
                # Kafka is down): back off, then the rewound records are polled again.
                failures += 1
                await self._sleep_unless_stopping(self._backoff(failures))
            else:
                failures = 0

    async def _handle_partition(
        self, tp: TopicPartition, records: list[ConsumerRecord[bytes, bytes]]
    ) -> tuple[TopicPartition, int | None, bool]:
        """Handle records in order; return the offset to commit (None if none was handled) and
        whether an unexpected failure stopped the partition early."""
        assert self._consumer is not None
        next_offset: int | None = None
        for record in records:
            try:
                done = await self._handle_record(record)
            except Exception:
                log.exception("could not handle or dead-letter an event; will retry", topic=record.topic)
                self._consumer.seek(tp, record.offset)
                return tp, next_offset, True
            if not done:
                # Stopping while a dependency is down: leave this record uncommitted, and
                # rewind so a later poll (if any) starts again from it.
                self._consumer.seek(tp, record.offset)
                break
            next_offset = record.offset + 1
        return tp, next_offset, False

    async def _handle_record(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handle or dead-letter one record. False only when stopping before it could be handled."""
        route = self._routes[record.topic]
        headers = {k: v.decode("utf-8", "replace") for k, v in record.headers}
        with span_from_carrier(f"consume {record.topic}", headers, SpanKind.CONSUMER):
            try:
                event = self._decode(route.topic, record, headers)
            except PermanentError as exc:
                await self._dead_letter(record, exc, attempts=0)
                return True
            attempt = 0
            while True:
                started = time.perf_counter()
                try:
                    await route.handler(event)
                except PermanentError as exc:
                    await self._dead_letter(record, exc, attempts=attempt + 1)
                    return True
                except Exception as exc:
                    if isinstance(exc, TransientError) or unavailable_dependency(exc):
                        # A dependency is down, not the event: retry for as long as it takes.
                        if self._stopping.is_set():
                            return False
                        delay = self._backoff(attempt)
                        log.warning(
                            "dependency unavailable; will retry", topic=record.topic, error=str(exc), delay=delay
                        )
                        EVENTS_CONSUMED.labels(record.topic, self._group_id, "retried").inc()
                        await self._sleep_unless_stopping(delay)
                        attempt += 1
                        continue
                    attempt += 1
                    if attempt > self._settings.max_retries:
                        await self._dead_letter(record, exc, attempts=attempt)
                        return True
                    delay = self._backoff(attempt - 1)
                    log.warning("handler failed; retrying", topic=record.topic, attempt=attempt, error=repr(exc))
                    EVENTS_CONSUMED.labels(record.topic, self._group_id, "retried").inc()
                    await asyncio.sleep(delay)
                    continue
                EVENT_HANDLER_SECONDS.labels(record.topic, self._group_id).observe(time.perf_counter() - started)
                EVENTS_CONSUMED.labels(record.topic, self._group_id, "ok").inc()
                return True

    @staticmethod
    def _decode(topic: Topic[Any], record: ConsumerRecord[bytes, bytes], headers: dict[str, str]) -> ConsumedEvent[Any]:
        expected_type = topic.message_type.DESCRIPTOR.full_name
        event_type = headers.get("event-type", expected_type)
        if event_type != expected_type:
            raise PermanentError(f"event-type {event_type!r} does not belong on {topic.name} ({expected_type})")
        if record.value is None:
            raise PermanentError("message has no value")
        try:
            message = topic.message_type.FromString(record.value)
        except DecodeError as exc:
            raise PermanentError(f"cannot decode {expected_type}: {exc}") from exc
        key = record.key.decode("utf-8", "replace") if record.key is not None else ""
        return ConsumedEvent(message, key, headers, record.topic, record.partition, record.offset)

    def _backoff(self, attempt: int) -> float:
        return float(min(MAX_BACKOFF_S, self._settings.retry_backoff_s * (2**attempt)))

    async def _sleep_unless_stopping(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], exc: BaseException, attempts: int) -> None:
        error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        headers = [
            *[(k, v) for k, v in record.headers if not k.startswith("dlq-")],
            ("dlq-error", error.encode()),
            ("dlq-error-type", type(exc).__name__.encode()),
            ("dlq-original-topic", record.topic.encode()),
            ("dlq-original-partition", str(record.partition).encode()),
            ("dlq-original-offset", str(record.offset).encode()),
            ("dlq-consumer-group", self._group_id.encode()),
            ("dlq-attempts", str(attempts).encode()),
            ("dlq-failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        log.error("dead-lettering event", topic=record.topic, offset=record.offset, error=error, attempts=attempts)
        # If the DLQ itself cannot be written, this raises: nothing is committed and the
        # event is redelivered, so a poison message is never silently dropped.
        await self._publisher.publish_raw(f"{record.topic}.dlq", record.value, key=record.key, headers=headers)
        EVENTS_DEAD_LETTERED.labels(record.topic, self._group_id).inc()
        EVENTS_CONSUMED.labels(record.topic, self._group_id, "dead_lettered").inc()

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced under us; the new owner redelivers, and handlers are idempotent.
            log.warning("commit failed after a rebalance; events will be redelivered", group=self._group_id)
        except KafkaError as exc:
            # The broker went away (a restart, a network blip): the poll loop must outlive it.
            # Nothing is lost: uncommitted events are redelivered, and a later commit covers them.
            log.warning("commit failed; events may be redelivered", group=self._group_id, error=repr(exc))

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        # Partitions a rebalance gave to another replica: their lag is that replica's to report.
        for tp in self._lag_reported - assigned:
            CONSUMER_LAG.remove(tp.topic, str(tp.partition), self._group_id)
        self._lag_reported = set(assigned)
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:
                continue  # a metric is not worth ending the poll loop for
            CONSUMER_LAG.labels(tp.topic, str(tp.partition), self._group_id).set(max(0, highwater - position))
