"""The DLQ commands' pure parts: headers on re-drive, previews, offsets and the printed summaries."""

from __future__ import annotations

import base64
import json
from collections import Counter

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaConnectionError

from pixtract.common.config import KafkaSettings
from pixtract.common.dlq import (
    PREVIEW_BYTES,
    REDRIVE_COUNT_HEADER,
    DlqStats,
    RedriveReport,
    _commit_sent_anyway,
    describe,
    failure_id,
    format_report,
    format_stats,
    message_type_for,
    original_topic,
    redrive_headers,
    resume_at,
    value_preview,
)
from pixtract.common.kafka import EventConsumer, PermanentError, event_headers
from pixtract.common.topics import main
from pixtract.events.topics import IMAGES_UPLOADED
from pixtract.events.v1 import images_pb2
from tests.unit.common.records import consumer_record

GARBAGE = b"\x08\x96\x01\xff garbage"


def _record(
    topic: str, value: bytes | None, headers: list[tuple[str, bytes]], offset: int = 7
) -> ConsumerRecord[bytes, bytes]:
    return consumer_record(value, headers, topic=topic, offset=offset, timestamp=1_700_000_000_000)


class CapturingPublisher:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def publish_raw(
        self, topic_name: str, value: bytes | None, *, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> None:
        self.sent.append((topic_name, value, key, headers))


async def _dead_letter(record: ConsumerRecord[bytes, bytes]) -> ConsumerRecord[bytes, bytes]:
    """What the real runner writes to the DLQ for `record`."""
    publisher = CapturingPublisher()
    consumer = EventConsumer(KafkaSettings(bootstrap_servers="unused:9092"), "tagging", publisher)  # type: ignore[arg-type]
    await consumer._dead_letter(record, PermanentError("corrupt image"), attempts=1)
    [(topic, value, _, headers)] = publisher.sent
    return _record(topic, value, headers, offset=0)


async def test_redrive_restores_the_headers_the_runner_had_and_counts_each_redrive() -> None:
    message = images_pb2.ImageUploaded(image_id="img-1")
    original = event_headers(message, event_id="ev-1")
    dead = await _dead_letter(_record(IMAGES_UPLOADED.name, message.SerializeToString(), original))
    assert dead.topic == "images.uploaded.dlq"
    assert {k for k, _ in dead.headers} > {"dlq-error", "dlq-original-topic", "dlq-consumer-group"}

    once = redrive_headers(dead.headers)
    assert once == [*original, (REDRIVE_COUNT_HEADER, b"1")]

    # Re-driven, it fails again: the runner keeps the count, and the next re-drive goes on from it.
    dead_again = await _dead_letter(_record(IMAGES_UPLOADED.name, dead.value, once))
    assert redrive_headers(dead_again.headers) == [*original, (REDRIVE_COUNT_HEADER, b"2")]


def test_original_topic_comes_from_the_header_else_from_the_dlq_name() -> None:
    assert original_topic("images.uploaded.dlq", {"dlq-original-topic": "images.tagged"}) == "images.tagged"
    assert original_topic("images.uploaded.dlq", {}) == "images.uploaded"


def test_failure_id_names_the_original_record_only_when_every_header_is_there() -> None:
    headers = {"dlq-original-topic": "images.uploaded", "dlq-original-partition": "2", "dlq-original-offset": "41"}
    assert failure_id(headers) == ("images.uploaded", "2", "41")
    assert failure_id({"dlq-original-topic": "images.uploaded"}) is None


@pytest.mark.parametrize(
    ("start", "end", "committed", "expected"),
    [
        (0, 5, None, 0),  # never re-driven: from the first message
        (0, 5, 3, 3),
        (4, 9, 2, 4),  # retention removed messages the group never reached
        (0, 5, 8, 5),  # never past the end
    ],
)
def test_resume_at(start: int, end: int, committed: int | None, expected: int) -> None:
    assert resume_at(start, end, committed) == expected


def test_a_registry_event_is_shown_as_json() -> None:
    value = images_pb2.ImageUploaded(image_id="img-1", filename="a.png").SerializeToString()
    preview = value_preview(message_type_for("images.uploaded", None), value)
    assert preview == {"size": len(value), "value": {"imageId": "img-1", "filename": "a.png"}}


def test_off_the_registry_the_event_type_header_picks_the_message_type() -> None:
    assert message_type_for("test.uploaded.1234", "pixtract.events.v1.ImageUploaded") is images_pb2.ImageUploaded
    assert message_type_for("test.uploaded.1234", "something.Else") is None
    # On the registry the topic decides, whatever the header claims.
    assert message_type_for("images.uploaded", "pixtract.events.v1.UserDeleted") is images_pb2.ImageUploaded


def test_bytes_that_do_not_parse_are_shown_as_base64_of_their_head() -> None:
    assert value_preview(images_pb2.ImageUploaded, GARBAGE) == {
        "size": len(GARBAGE),
        "value_base64": base64.b64encode(GARBAGE).decode(),
    }
    big = bytes(range(256)) * 4
    preview = value_preview(None, big)
    assert preview["size"] == len(big)
    assert base64.b64decode(preview["value_base64"]) == big[:PREVIEW_BYTES]
    assert value_preview(images_pb2.ImageUploaded, None) == {"size": 0, "value_base64": ""}


def test_describe_gives_one_json_line_with_every_header() -> None:
    record = _record(
        "images.uploaded.dlq",
        GARBAGE,
        [("event-type", b"pixtract.events.v1.ImageUploaded"), ("dlq-error", b"PermanentError: cannot decode")],
    )
    described = json.loads(json.dumps(describe(record, redriven=True)))
    assert described == {
        "partition": 1,
        "offset": 7,
        "timestamp": "2023-11-14T22:13:20+00:00",
        "key": "img-1",
        "headers": {"event-type": "pixtract.events.v1.ImageUploaded", "dlq-error": "PermanentError: cannot decode"},
        "redriven": True,
        "size": len(GARBAGE),
        "value_base64": base64.b64encode(GARBAGE).decode(),
    }


def test_list_prints_an_aligned_table() -> None:
    table = format_stats([DlqStats("images.uploaded.dlq", 12, 3), DlqStats("users.deleted.dlq", 0, 0)])
    assert table.splitlines() == [
        "TOPIC                MESSAGES  NOT RE-DRIVEN",
        "images.uploaded.dlq        12              3",
        "users.deleted.dlq           0              0",
    ]
    assert format_stats([]) == "no dead-letter topics"


def test_redrive_summaries() -> None:
    sent = RedriveReport("images.uploaded.dlq", dry_run=False, sent=Counter({"images.uploaded": 2}), left=1)
    assert format_report(sent) == "images.uploaded.dlq: re-drove 2 messages (images.uploaded 2); 1 left"
    dry = RedriveReport("images.uploaded.dlq", dry_run=True, sent=Counter({"images.uploaded": 1}), duplicates=1)
    assert format_report(dry) == (
        "images.uploaded.dlq: would re-drive 1 message (images.uploaded 1), "
        "skipped 1 already re-driven in this run (same original record); 0 left; nothing sent or committed"
    )
    assert format_report(RedriveReport("x.dlq", dry_run=False)) == "x.dlq: re-drove 0 messages; 0 left"


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "show", "images.uploaded"],  # a live topic, not its DLQ
        ["dlq", "redrive", ".dlq"],
        ["dlq", "redrive", "images.uploaded.dlq", "--limit", "0"],
        ["dlq"],
    ],
)
def test_the_cli_refuses_bad_arguments_before_connecting(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2


class CommitRefusingConsumer:
    def __init__(self) -> None:
        self.asked: list[dict[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.asked.append(offsets)
        raise KafkaConnectionError("broker gone")


async def test_a_failed_redrive_tries_to_commit_what_it_sent_and_says_so_when_it_cannot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    consumer = CommitRefusingConsumer()
    tp = TopicPartition("images.uploaded.dlq", 2)
    await _commit_sent_anyway(consumer, tp, 41)
    assert consumer.asked == [{tp: 41}]
    failure = json.loads(capsys.readouterr().err)
    assert failure["event"] == "dlq_commit_failed"
    assert (failure["topic"], failure["partition"]) == ("images.uploaded.dlq", 2)
    assert "broker gone" in failure["error"]
