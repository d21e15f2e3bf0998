"""The outbox relay, the reconciler and the loop that runs them, with in-memory fakes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pixtract.events.topics import IMAGES_DELETED, IMAGES_UPLOADED, Topic
from pixtract.events.v1 import images_pb2
from pixtract.upload.domain.outbox import OutboxEntry, outbox_entry
from pixtract.upload.domain.pipeline import Failure, Stage
from pixtract.upload.domain.records import ImageDocument
from pixtract.upload.tasks.outbox_relay import OutboxRelay
from pixtract.upload.tasks.periodic import PeriodicTask
from pixtract.upload.tasks.reconciler import Reconciler


class FakeOutboxStore:
    def __init__(self, *documents: ImageDocument) -> None:
        self.documents = {document["_id"]: document for document in documents}

    async def with_pending_outbox(self, limit: int) -> list[ImageDocument]:
        return [d for d in self.documents.values() if d.get("outbox")][:limit]

    async def remove_outbox_entry(self, image_id: str, event_id: str) -> None:
        document = self.documents[image_id]
        document["outbox"] = [e for e in document["outbox"] if e["event_id"] != event_id]

    async def purgeable(self, limit: int) -> list[ImageDocument]:
        return [d for d in self.documents.values() if d.get("deleted") and not d.get("outbox")][:limit]

    async def purge(self, image_id: str) -> None:
        del self.documents[image_id]


class FakePublisher:
    def __init__(self, fail_on: str | None = None) -> None:
        self.sent: list[tuple[str, str, str, Any]] = []
        self.fail_on = fail_on

    async def publish(self, topic: Topic[Any], message: Any, *, key: str, event_id: str | None = None) -> None:
        if event_id == self.fail_on:
            raise ConnectionError("broker unavailable")
        self.sent.append((topic.name, key, event_id or "", message))


class FakeObjects:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    async def delete_keys(self, keys: Iterable[str]) -> None:
        self.deleted.extend(keys)


def _uploaded(image_id: str, attempt: int = 1) -> OutboxEntry:
    return outbox_entry(
        IMAGES_UPLOADED, images_pb2.ImageUploaded(image_id=image_id, owner_id="u", attempt=attempt), key=image_id
    )


def _record(image_id: str, *entries: OutboxEntry, deleted: bool = False) -> ImageDocument:
    return {
        "_id": image_id,
        "owner_id": "u",
        "deleted": deleted,
        "original": {"bucket": "b", "key": f"originals/u/{image_id}"},
        "thumbnails": {
            "small": {"key": f"thumbs/u/{image_id}/small.webp", "etag": "", "width": 1, "height": 1, "size": 1}
        },
        "outbox": list(entries),
    }


async def test_pending_events_are_published_in_order_then_removed() -> None:
    first, second = _uploaded("a", 1), _uploaded("a", 2)
    store = FakeOutboxStore(_record("a", first, second), _record("b", _uploaded("b")), _record("c"))
    publisher = FakePublisher()
    assert await OutboxRelay(store, publisher, FakeObjects()).drain() == 3
    assert [(topic, key, event_id) for topic, key, event_id, _ in publisher.sent][:2] == [
        ("images.uploaded", "a", first["event_id"]),
        ("images.uploaded", "a", second["event_id"]),
    ]
    assert [message.attempt for _, key, _, message in publisher.sent if key == "a"] == [1, 2]
    assert all(not document["outbox"] for document in store.documents.values())
    assert await OutboxRelay(store, publisher, FakeObjects()).drain() == 0


async def test_an_entry_that_failed_to_publish_stays_for_the_next_sweep() -> None:
    sent_ok, failing = _uploaded("a", 1), _uploaded("a", 2)
    store = FakeOutboxStore(_record("a", sent_ok, failing))
    with pytest.raises(ConnectionError):
        await OutboxRelay(store, FakePublisher(fail_on=failing["event_id"]), FakeObjects()).drain()
    assert [e["event_id"] for e in store.documents["a"]["outbox"]] == [failing["event_id"]]
    retry = FakePublisher()
    await OutboxRelay(store, retry, FakeObjects()).drain()
    assert [event_id for _, _, event_id, _ in retry.sent] == [failing["event_id"]]


async def test_an_entry_that_can_never_be_published_is_dropped_not_retried_forever() -> None:
    broken: OutboxEntry = {"event_id": "x", "topic": "no.such.topic", "key": "a", "payload": b"", "trace": {}}
    good = _uploaded("a")
    store = FakeOutboxStore(_record("a", broken, good))
    publisher = FakePublisher()
    await OutboxRelay(store, publisher, FakeObjects()).drain()
    assert [event_id for _, _, event_id, _ in publisher.sent] == [good["event_id"]]
    assert store.documents["a"]["outbox"] == []


async def test_a_deleted_record_is_purged_only_after_its_image_deleted_is_out() -> None:
    deleted = outbox_entry(IMAGES_DELETED, images_pb2.ImageDeleted(image_id="a", owner_id="u"), key="a")
    store = FakeOutboxStore(_record("a", deleted, deleted=True), _record("b"))
    objects = FakeObjects()
    with pytest.raises(ConnectionError):
        await OutboxRelay(store, FakePublisher(fail_on=deleted["event_id"]), objects).drain()
    assert "a" in store.documents
    assert objects.deleted == []
    publisher = FakePublisher()
    await OutboxRelay(store, publisher, objects).drain()
    assert [(topic, key) for topic, key, _, _ in publisher.sent] == [("images.deleted", "a")]
    assert set(store.documents) == {"b"}
    assert objects.deleted == ["originals/u/a", "thumbs/u/a/small.webp"]


class FakeReemitStore:
    def __init__(self, *documents: ImageDocument) -> None:
        self.documents = list(documents)
        self.reemitted: list[tuple[str, int, int, OutboxEntry]] = []
        self.failed: list[tuple[str, Failure]] = []

    async def processing_emitted_before(self, before: datetime, limit: int) -> list[ImageDocument]:
        return [d for d in self.documents if d["emitted_at"] < before][:limit]

    async def append_reemission(
        self, image_id: str, *, previous_attempt: int, attempt: int, entry: OutboxEntry, emitted_at: datetime
    ) -> bool:
        self.reemitted.append((image_id, previous_attempt, attempt, entry))
        return True

    async def mark_failed(self, image_id: str, failure: Failure) -> ImageDocument | None:
        self.failed.append((image_id, failure))
        return None


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _stuck(image_id: str, attempt: int, age: timedelta) -> ImageDocument:
    return {
        "_id": image_id,
        "owner_id": "u",
        "filename": "a.jpg",
        "content_type": "image/jpeg",
        "size": 10,
        "sha256": "s",
        "uploaded_at": NOW - timedelta(hours=5),
        "original": {"bucket": "b", "key": f"originals/u/{image_id}"},
        "state": "processing",
        "stages": {"tagging": "done", "ocr": "pending", "search": "pending"},
        "indexed": ["upload", "tagging"],
        "attempt": attempt,
        "emitted_at": NOW - age,
    }


class FakeBacklog:
    def __init__(self, queued: int = 0) -> None:
        self.queued_events = queued

    async def queued(self) -> int:
        return self.queued_events


async def test_the_reconciler_reemits_stuck_images_and_gives_up_after_the_last_attempt() -> None:
    store = FakeReemitStore(
        _stuck("stuck", 1, timedelta(minutes=11)),
        _stuck("fresh", 1, timedelta(minutes=5)),
        _stuck("hopeless", 3, timedelta(hours=1)),
    )
    woken: list[int] = []
    reconciler = Reconciler(
        store,
        backlog=FakeBacklog(),
        reemit_after=timedelta(minutes=10),
        max_attempts=3,
        on_reemitted=lambda: woken.append(1),
        clock=lambda: NOW,
    )
    assert await reconciler.run_once() == 2
    [(image_id, previous, attempt, entry)] = store.reemitted
    assert (image_id, previous, attempt) == ("stuck", 1, 2)
    event = images_pb2.ImageUploaded.FromString(entry["payload"])
    assert (event.image_id, event.attempt, event.original.key) == ("stuck", 2, "originals/u/stuck")
    assert store.failed == [("hopeless", Failure(Stage.OCR, "no ocr result after 3 attempts (about 1800 s)"))]
    assert woken == [1]


async def test_the_reconciler_waits_while_the_pipeline_has_work_queued() -> None:
    # A backlog: the images are waiting their turn, not lost. Re-emitting them would only
    # lengthen the queue, and giving up would fail images for waiting.
    store = FakeReemitStore(_stuck("stuck", 1, timedelta(minutes=11)), _stuck("hopeless", 3, timedelta(hours=1)))
    backlog = FakeBacklog(queued=120)
    reconciler = Reconciler(
        store, backlog=backlog, reemit_after=timedelta(minutes=10), max_attempts=3, clock=lambda: NOW
    )
    assert await reconciler.run_once() == 0
    assert (store.reemitted, store.failed) == ([], [])
    # Drained, and still stuck: now the event was lost or dead-lettered.
    backlog.queued_events = 0
    assert await reconciler.run_once() == 2
    assert [image_id for image_id, *_ in store.reemitted] == ["stuck"]
    assert [image_id for image_id, _ in store.failed] == ["hopeless"]


async def test_the_periodic_loop_runs_when_woken_survives_errors_and_stops() -> None:
    runs: list[float] = []

    async def work() -> None:
        runs.append(asyncio.get_running_loop().time())
        if len(runs) == 1:
            raise ConnectionError("first run fails")

    task = PeriodicTask("test-loop", work, interval_s=60.0)
    task.start()
    await asyncio.sleep(0.01)
    await task.check_running()
    task.wake()
    await asyncio.sleep(0.01)
    assert len(runs) == 2  # woken long before the 60 s tick, alive after the failure
    await task.stop()
    with pytest.raises(RuntimeError):
        await task.check_running()
