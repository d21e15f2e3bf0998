"""Consumers: upsert the part, then announce it; dependency errors become delivery decisions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from google.protobuf.message import Message

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.topics import IMAGES_INDEXED, Topic
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.search.adapters.opensearch import DocumentRejected, IndexUnavailable
from pixtract.search.consumers.indexing import IndexingHandlers
from pixtract.search.domain.documents import PartialDocument, deleted_owner_marker_id

M = TypeVar("M", bound=Message)
DOG = images_pb2.Label(name="dog", confidence=0.9)


@dataclass
class FakeIndex:
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted_owners: list[str] = field(default_factory=list)
    failure: Exception | None = None

    async def upsert(self, doc: PartialDocument) -> None:
        if self.failure is not None:
            raise self.failure
        stored = self.documents.setdefault(doc["image_id"], {})
        for key, value in doc.items():
            if isinstance(value, Mapping) and isinstance(stored.get(key), dict):
                stored[key].update(value)
            else:
                stored[key] = value

    async def delete_owner(self, owner_id: str) -> int:
        if self.failure is not None:
            raise self.failure
        self.deleted_owners.append(owner_id)
        before = len(self.documents)
        self.documents = {k: v for k, v in self.documents.items() if v.get("owner_id") != owner_id}
        return before - len(self.documents)

    async def owner_deleted(self, owner_id: str) -> bool:
        if isinstance(self.failure, IndexUnavailable):  # a lookup can fail, but never be "rejected"
            raise self.failure
        return deleted_owner_marker_id(owner_id) in self.documents


@dataclass
class FakePublisher:
    sent: list[tuple[str, Message, str]] = field(default_factory=list)
    # What the index held when each event went out: "indexed" must follow the write.
    seen_documents: list[dict[str, Any]] = field(default_factory=list)
    index: FakeIndex | None = None

    async def publish(self, topic: Topic[M], message: M, *, key: str, event_id: str | None = None) -> None:
        self.sent.append((topic.name, message, key))
        if self.index is not None:
            self.seen_documents.append(dict(self.index.documents.get(key, {})))


def _event(message: M) -> ConsumedEvent[M]:
    return ConsumedEvent(message, key="k", headers={}, topic="t", partition=0, offset=0)


@pytest.fixture
def index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def publisher(index: FakeIndex) -> FakePublisher:
    return FakePublisher(index=index)


@pytest.fixture
def handlers(index: FakeIndex, publisher: FakePublisher) -> IndexingHandlers:
    return IndexingHandlers(index, publisher)


async def test_an_upload_is_indexed_then_announced(
    handlers: IndexingHandlers, index: FakeIndex, publisher: FakePublisher
) -> None:
    await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="img-1", owner_id="u1", filename="a.jpg")))
    assert index.documents["img-1"]["filename"] == "a.jpg"
    ((topic, message, key),) = publisher.sent
    assert topic == IMAGES_INDEXED.name
    assert key == "img-1"
    assert isinstance(message, images_pb2.ImageIndexed)
    assert (message.image_id, message.owner_id, message.part) == ("img-1", "u1", images_pb2.INDEXED_PART_UPLOAD)
    assert message.HasField("indexed_at")
    assert publisher.seen_documents[0]["filename"] == "a.jpg"


async def test_tagging_and_ocr_are_announced_with_their_model_version(
    handlers: IndexingHandlers, publisher: FakePublisher
) -> None:
    await handlers.on_tagged(
        _event(
            images_pb2.ImageTagged(
                image_id="i", owner_id="u", model_version="tag@2", labels=[images_pb2.Label(name="dog")]
            )
        )
    )
    await handlers.on_text_extracted(
        _event(images_pb2.TextExtracted(image_id="i", owner_id="u", model_version="ocr@3", content="receipt"))
    )
    parts = [(m.part, m.model_version) for _, m, _ in publisher.sent if isinstance(m, images_pb2.ImageIndexed)]
    assert parts == [(images_pb2.INDEXED_PART_TAGGING, "tag@2"), (images_pb2.INDEXED_PART_OCR, "ocr@3")]


async def test_redelivery_writes_the_same_document(handlers: IndexingHandlers, index: FakeIndex) -> None:
    event = _event(images_pb2.TextExtracted(image_id="i", owner_id="u", content="receipt", document_type="receipt"))
    await handlers.on_text_extracted(event)
    first = dict(index.documents["i"])
    await handlers.on_text_extracted(event)
    assert index.documents["i"] == first


async def test_a_late_result_does_not_undo_a_delete(
    handlers: IndexingHandlers, index: FakeIndex, publisher: FakePublisher
) -> None:
    await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="i", owner_id="u", filename="a.jpg")))
    await handlers.on_image_deleted(_event(images_pb2.ImageDeleted(image_id="i", owner_id="u")))
    await handlers.on_tagged(
        _event(images_pb2.ImageTagged(image_id="i", owner_id="u", labels=[images_pb2.Label(name="dog")]))
    )
    assert index.documents["i"]["deleted"] is True
    assert index.documents["i"]["filename"] is None
    # The delete itself announces nothing: only searchable results are "indexed".
    parts = [m.part for _, m, _ in publisher.sent if isinstance(m, images_pb2.ImageIndexed)]
    assert parts == [images_pb2.INDEXED_PART_UPLOAD, images_pb2.INDEXED_PART_TAGGING]


async def test_a_deleted_user_is_removed(handlers: IndexingHandlers, index: FakeIndex) -> None:
    await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="a", owner_id="gone")))
    await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="b", owner_id="stays")))
    await handlers.on_user_deleted(_event(users_pb2.UserDeleted(user_id="gone")))
    assert index.deleted_owners == ["gone"]
    assert set(index.documents) == {"b", deleted_owner_marker_id("gone")}
    assert index.documents[deleted_owner_marker_id("gone")]["deleted"] is True


async def test_opensearch_down_is_transient_and_nothing_is_announced(
    handlers: IndexingHandlers, index: FakeIndex, publisher: FakePublisher
) -> None:
    index.failure = IndexUnavailable("connection refused")
    with pytest.raises(TransientError):
        await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="i", owner_id="u")))
    with pytest.raises(TransientError):
        await handlers.on_user_deleted(_event(users_pb2.UserDeleted(user_id="u")))
    assert publisher.sent == []


async def test_a_refused_document_is_permanent(handlers: IndexingHandlers, index: FakeIndex) -> None:
    index.failure = DocumentRejected("mapper_parsing_exception")
    with pytest.raises(PermanentError, match="refused"):
        await handlers.on_tagged(_event(images_pb2.ImageTagged(image_id="i", owner_id="u")))


@pytest.mark.parametrize(
    "call",
    [
        lambda h: h.on_uploaded(_event(images_pb2.ImageUploaded(image_id="i"))),
        lambda h: h.on_tagged(_event(images_pb2.ImageTagged(owner_id="u"))),
        lambda h: h.on_text_extracted(_event(images_pb2.TextExtracted())),
        lambda h: h.on_image_deleted(_event(images_pb2.ImageDeleted(image_id="i"))),
        lambda h: h.on_user_deleted(_event(users_pb2.UserDeleted())),
    ],
)
async def test_an_event_without_ids_is_permanent(handlers: IndexingHandlers, index: FakeIndex, call: Any) -> None:
    with pytest.raises(PermanentError):
        await call(handlers)
    assert index.documents == {}
    assert index.deleted_owners == []


async def test_results_arriving_after_the_user_was_deleted_are_dropped(
    handlers: IndexingHandlers, index: FakeIndex, publisher: FakePublisher
) -> None:
    await handlers.on_uploaded(_event(images_pb2.ImageUploaded(image_id="img", owner_id="gone", filename="a.png")))
    await handlers.on_user_deleted(_event(users_pb2.UserDeleted(user_id="gone")))
    announced = len(publisher.sent)

    await handlers.on_tagged(_event(images_pb2.ImageTagged(image_id="img", owner_id="gone", labels=[DOG])))

    assert "img" not in index.documents
    assert index.documents[deleted_owner_marker_id("gone")]["deleted"] is True
    assert len(publisher.sent) == announced


async def test_a_write_racing_the_user_purge_is_purged_again(
    handlers: IndexingHandlers, index: FakeIndex, publisher: FakePublisher
) -> None:
    original_upsert = index.upsert

    async def upsert_then_user_deleted(doc: PartialDocument) -> None:
        await original_upsert(doc)
        if doc["image_id"] == "img":  # the purge lands between our check and our write's end
            await handlers.on_user_deleted(_event(users_pb2.UserDeleted(user_id="u")))

    index.upsert = upsert_then_user_deleted  # type: ignore[method-assign]
    await handlers.on_tagged(_event(images_pb2.ImageTagged(image_id="img", owner_id="u", labels=[DOG])))

    assert "img" not in index.documents
    assert publisher.sent == []
