"""`python -m pixtract.common.topics dlq ...`: inspect dead-letter topics and re-drive them.

`EventConsumer` dead-letters a poison event to `<topic>.dlq` with its key, value and headers
and `dlq-*` headers saying why. `dlq list` counts each `.dlq` topic, `dlq show` prints its
messages, and `dlq redrive` publishes them back to their original topic once the cause is
fixed. What has been re-driven is the committed offset of one consumer group,
`pixtract-dlq-redrive`: a second re-drive sends only what came in since. Re-driving reaches
every consumer group of the original topic, not only the one that failed; handlers are
idempotent, so the others redo harmless work. Run one re-drive of a topic at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message

from pixtract.common.config import KafkaSettings
from pixtract.common.dependencies import run_command
from pixtract.common.kafka import EventPublisher, kafka_security
from pixtract.events.topics import TOPICS, Topic

DLQ_SUFFIX = ".dlq"
# Every header EventConsumer adds when it dead-letters starts with this (and it drops any
# such header a message already had); re-driving drops them too.
DLQ_HEADER_PREFIX = "dlq-"
REDRIVE_GROUP = "pixtract-dlq-redrive"
# Not `dlq-`-prefixed: the runner keeps it when a re-driven event fails again, so the next
# re-drive counts on from it.
REDRIVE_COUNT_HEADER = "redrive-count"
PREVIEW_BYTES = 64
# A partition that yields nothing for this long before its end offset is reported, not waited on.
STALL_TIMEOUT_S = 15.0

Headers = Sequence[tuple[str, bytes]]


class DlqError(Exception):
    """A DLQ command could not run; the message says why."""


# ----- pure parts -------------------------------------------------------------------------


def dlq_topic_name(text: str) -> str:
    """Only `.dlq` topics are accepted, so a typo cannot re-drive a live topic onto itself."""
    if not text.endswith(DLQ_SUFFIX) or text == DLQ_SUFFIX:
        raise argparse.ArgumentTypeError(f"expected a dead-letter topic (NAME{DLQ_SUFFIX}), got {text!r}")
    return text


def decode_headers(headers: Headers) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in headers}


def original_topic(dlq_topic: str, headers: Mapping[str, str]) -> str:
    """Where a dead-lettered message came from: its header, else the DLQ's name without `.dlq`."""
    return headers.get(f"{DLQ_HEADER_PREFIX}original-topic") or dlq_topic.removesuffix(DLQ_SUFFIX)


def redrive_headers(headers: Headers) -> list[tuple[str, bytes]]:
    """The original headers (trace context, event id and type) without the DLQ's, counting re-drives."""
    count = 0
    kept: list[tuple[str, bytes]] = []
    for key, value in headers:
        if key == REDRIVE_COUNT_HEADER:
            count = int(value) if value.isdigit() else 0
        elif not key.startswith(DLQ_HEADER_PREFIX):
            kept.append((key, value))
    return [*kept, (REDRIVE_COUNT_HEADER, str(count + 1).encode())]


def failure_id(headers: Mapping[str, str]) -> tuple[str, str, str] | None:
    """The original record a dead-lettered message stands for. Two consumer groups failing on
    the same record dead-letter it twice; one re-drive reaches both groups."""
    topic, partition, offset = (
        headers.get(f"{DLQ_HEADER_PREFIX}original-{p}") for p in ("topic", "partition", "offset")
    )
    return (topic, partition, offset) if topic and partition and offset else None


def resume_at(start: int, end: int, committed: int | None) -> int:
    """Where re-driving a partition goes on: after the re-drive group's offset, but never
    before the first message retention kept, nor past the end."""
    return start if committed is None else min(max(committed, start), end)


def message_type_for(
    topic: str, event_type: str | None, registry: Mapping[str, Topic[Any]] = TOPICS
) -> type[Message] | None:
    """The registry's message type of a topic; off the registry, the type its `event-type` header names."""
    if topic in registry:
        return registry[topic].message_type
    return next((t.message_type for t in registry.values() if t.message_type.DESCRIPTOR.full_name == event_type), None)


def value_preview(message_type: type[Message] | None, value: bytes | None) -> dict[str, Any]:
    """Its size, and the value as JSON if it parses as `message_type`, else base64 of its first bytes."""
    data = value or b""
    if message_type is not None and value is not None:
        try:
            return {"size": len(data), "value": json_format.MessageToDict(message_type.FromString(data))}
        except DecodeError:
            pass
    return {"size": len(data), "value_base64": base64.b64encode(data[:PREVIEW_BYTES]).decode()}


def describe(record: ConsumerRecord[bytes, bytes], *, redriven: bool) -> dict[str, Any]:
    """One dead-lettered message as a JSON-ready dict (what `dlq show` prints per line)."""
    headers = decode_headers(record.headers)
    return {
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(),
        "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
        "headers": headers,
        "redriven": redriven,
        **value_preview(
            message_type_for(original_topic(record.topic, headers), headers.get("event-type")), record.value
        ),
    }


@dataclass(frozen=True)
class DlqStats:
    topic: str
    messages: int
    not_redriven: int


def format_stats(stats: Sequence[DlqStats]) -> str:
    if not stats:
        return "no dead-letter topics"
    width = max(len("TOPIC"), *(len(s.topic) for s in stats))
    lines = [f"{'TOPIC':<{width}}  {'MESSAGES':>8}  {'NOT RE-DRIVEN':>13}"]
    lines += [f"{s.topic:<{width}}  {s.messages:>8}  {s.not_redriven:>13}" for s in stats]
    return "\n".join(lines)


@dataclass
class RedriveReport:
    dlq_topic: str
    dry_run: bool
    sent: Counter[str] = field(default_factory=Counter)  # original topic -> messages
    duplicates: int = 0
    left: int = 0


def format_report(report: RedriveReport) -> str:
    total = sum(report.sent.values())
    verb = "would re-drive" if report.dry_run else "re-drove"
    targets = ", ".join(f"{topic} {n}" for topic, n in sorted(report.sent.items()))
    text = f"{report.dlq_topic}: {verb} {total} message{'' if total == 1 else 's'}"
    if targets:
        text += f" ({targets})"
    if report.duplicates:
        text += f", skipped {report.duplicates} already re-driven in this run (same original record)"
    text += f"; {report.left} left"
    if report.dry_run:
        text += "; nothing sent or committed"
    return text


# ----- against the cluster ----------------------------------------------------------------


@asynccontextmanager
async def _redrive_group_consumer(settings: KafkaSettings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer in the re-drive group that never subscribes: it reads assigned partitions and
    the group's committed offsets, and commits only when told to."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=REDRIVE_GROUP,
        client_id=REDRIVE_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=15_000,
        **kafka_security(settings),
    )
    try:
        await consumer.start()
        yield consumer
    except KafkaError as exc:
        raise DlqError(f"Kafka at {settings.bootstrap_servers} did not answer: {exc!r}") from exc
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    await consumer.topics()  # refreshes the metadata partitions_for_topic reads
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise DlqError(f"no topic {topic!r} on the cluster")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def _ranges(consumer: AIOKafkaConsumer, topic: str) -> dict[TopicPartition, tuple[int, int, int | None]]:
    """(start, end, committed) of each partition, the end as of now."""
    tps = await _partitions(consumer, topic)
    starts = await consumer.beginning_offsets(tps)
    ends = await consumer.end_offsets(tps)
    return {tp: (starts[tp], ends[tp], await consumer.committed(tp)) for tp in tps}


async def _read(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, end: int
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """The records of one assigned partition from `start` up to (not including) `end`."""
    consumer.seek(tp, start)
    loop = asyncio.get_running_loop()
    stalled_at = loop.time() + STALL_TIMEOUT_S
    while await consumer.position(tp) < end:
        batch = (await consumer.getmany(tp, timeout_ms=500, max_records=500)).get(tp, [])
        if not batch:
            if loop.time() > stalled_at:
                raise DlqError(f"{tp.topic}[{tp.partition}] returned nothing at offset {await consumer.position(tp)}")
            continue
        stalled_at = loop.time() + STALL_TIMEOUT_S
        for record in batch:
            if record.offset >= end:
                return
            yield record


async def dlq_stats(settings: KafkaSettings) -> list[DlqStats]:
    async with _redrive_group_consumer(settings) as consumer:
        names = sorted(name for name in await consumer.topics() if name.endswith(DLQ_SUFFIX))
        stats = []
        for name in names:
            ranges = (await _ranges(consumer, name)).values()
            stats.append(
                DlqStats(
                    name,
                    messages=sum(end - start for start, end, _ in ranges),
                    not_redriven=sum(end - resume_at(start, end, committed) for start, end, committed in ranges),
                )
            )
        return stats


async def dlq_messages(
    settings: KafkaSettings, topic: str, *, limit: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """Every message of a DLQ, partition by partition, described. Reads only: commits nothing."""
    async with _redrive_group_consumer(settings) as consumer:
        ranges = await _ranges(consumer, topic)
        consumer.assign(list(ranges))
        shown = 0
        for tp, (start, end, committed) in ranges.items():
            async for record in _read(consumer, tp, start, end):
                if limit is not None and shown >= limit:
                    return
                yield describe(record, redriven=committed is not None and record.offset < committed)
                shown += 1


async def redrive(
    settings: KafkaSettings, topic: str, *, limit: int | None = None, dry_run: bool = False
) -> RedriveReport:
    """Publish each not yet re-driven message back to its original topic, then commit past it."""
    report = RedriveReport(topic, dry_run)
    async with _redrive_group_consumer(settings) as consumer:
        ranges = await _ranges(consumer, topic)
        todo = [(tp, resume_at(start, end, committed), end) for tp, (start, end, committed) in ranges.items()]
        report.left = sum(end - begin for _, begin, end in todo)
        budget = report.left if limit is None else min(limit, report.left)
        consumer.assign(list(ranges))
        publisher = None if dry_run else EventPublisher(settings, client_id=REDRIVE_GROUP)
        seen: set[tuple[str, str, str]] = set()
        try:
            if publisher is not None:
                await publisher.start()
            for tp, begin, end in todo:
                if budget == 0:
                    break
                done: int | None = None
                try:
                    async for record in _read(consumer, tp, begin, min(end, begin + budget)):
                        await _send_back(record, publisher, report, seen)
                        done = record.offset + 1
                        budget -= 1
                except BaseException:  # also Ctrl-C: what was sent stays sent
                    if done is not None and publisher is not None:
                        await _commit_sent_anyway(consumer, tp, done)
                    raise
                if done is not None and publisher is not None:
                    await consumer.commit({tp: done})
        except KafkaError as exc:
            raise DlqError(f"re-driving {topic} failed: {exc!r}") from exc
        finally:
            if publisher is not None:
                await publisher.stop()
    return report


async def _commit_sent_anyway(consumer: AIOKafkaConsumer, tp: TopicPartition, done: int) -> None:
    """Commits what a failed re-drive already sent, if Kafka still takes it (else the next run
    sends it again, which downstream idempotence absorbs); the failure to report is the
    publish's, not this commit's."""
    try:
        await consumer.commit({tp: done})
    except KafkaError as exc:
        failure = {"event": "dlq_commit_failed", "topic": tp.topic, "partition": tp.partition, "error": repr(exc)}
        print(json.dumps(failure), file=sys.stderr)


async def _send_back(
    record: ConsumerRecord[bytes, bytes],
    publisher: EventPublisher | None,
    report: RedriveReport,
    seen: set[tuple[str, str, str]],
) -> None:
    """Publish one dead-lettered message to its original topic (not with a dry run's None publisher)."""
    report.left -= 1
    headers = decode_headers(record.headers)
    original = failure_id(headers)
    if original is not None and original in seen:
        report.duplicates += 1
        return
    target = original_topic(record.topic, headers)
    if publisher is not None:
        await publisher.publish_raw(target, record.value, key=record.key, headers=redrive_headers(record.headers))
    report.sent[target] += 1
    if original is not None:
        seen.add(original)


# ----- command line -----------------------------------------------------------------------


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return int(text)


def add_commands(commands: Any) -> None:
    """Adds `dlq list|show|redrive` to the topics CLI's subcommands."""
    dlq = commands.add_parser("dlq", help="inspect and re-drive dead-letter (.dlq) topics")
    actions = dlq.add_subparsers(dest="dlq_command", required=True)
    actions.add_parser("list", help="every .dlq topic with its message count and how many are not re-driven yet")
    show = actions.add_parser("show", help="print each message of a .dlq topic as a JSON line (commits nothing)")
    show.add_argument("topic", type=dlq_topic_name, metavar="TOPIC.dlq", help="e.g. images.uploaded.dlq")
    show.add_argument("--limit", type=_positive_int, help="at most this many messages")
    again = actions.add_parser(
        "redrive", help=f"publish the messages not re-driven yet back to their original topic ({REDRIVE_GROUP})"
    )
    again.add_argument("topic", type=dlq_topic_name, metavar="TOPIC.dlq", help="e.g. images.uploaded.dlq")
    again.add_argument("--limit", type=_positive_int, help="at most this many messages")
    again.add_argument("--dry-run", action="store_true", help="count what would be re-driven; send and commit nothing")


async def _run(args: argparse.Namespace, settings: KafkaSettings) -> None:
    if args.dlq_command == "list":
        print(format_stats(await dlq_stats(settings)))
    elif args.dlq_command == "show":
        async for message in dlq_messages(settings, args.topic, limit=args.limit):
            print(json.dumps(message, ensure_ascii=False), flush=True)
    else:
        print(format_report(await redrive(settings, args.topic, limit=args.limit, dry_run=args.dry_run)))


def run(args: argparse.Namespace, settings: KafkaSettings) -> int:
    run_command("dlq", _run(args, settings), refusals=(DlqError,))
    return 0
