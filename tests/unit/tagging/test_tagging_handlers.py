"""The consumers with an in-memory store and publisher: what gets stored and announced."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from botocore.exceptions import EndpointConnectionError
from google.protobuf.message import Message
from PIL import Image

from pixtract.common.kafka import ConsumedEvent, PermanentError, TransientError
from pixtract.events.topics import IMAGES_TAGGED, Topic
from pixtract.events.v1 import common_pb2, images_pb2, users_pb2
from pixtract.tagging.consumers.deleted import ImageDeletedHandler, UserDeletedHandler
from pixtract.tagging.consumers.uploaded import TaggingHandler
from pixtract.tagging.domain.categories import ImageCategories, StoreUnavailable
from tests.unit.tagging.fakes import InMemoryCategoryStore

MODEL_VERSION = "tagging-test-1"
UPLOADED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, Message, str]] = []
        self.fail_with: Exception | None = None

    async def publish(self, topic: Topic[Any], message: Any, *, key: str, event_id: str | None = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.published.append((topic.name, message, key))

    def tagged(self) -> list[images_pb2.ImageTagged]:
        return [m for name, m, _ in self.published if name == IMAGES_TAGGED.name]  # type: ignore[misc]


class Objects:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.down = False

    async def get_bytes_or_none(self, bucket: str, key: str) -> bytes | None:
        if self.down:
            raise EndpointConnectionError(endpoint_url="http://s3.invalid")
        return self.objects.get((bucket, key))


def _halves_png(width: int = 300, height: int = 200) -> bytes:
    image = Image.new("RGB", (width, height), "#ff0000")
    image.paste(Image.new("RGB", (width // 2, height), "#0000ff"), (width // 2, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _uploaded(image_id: str = "img-1", owner_id: str = "user-1", *, gps: tuple[float, float] | None = None) -> Any:
    message = images_pb2.ImageUploaded(
        image_id=image_id,
        owner_id=owner_id,
        original=common_pb2.ObjectRef(bucket="media", key=f"originals/{owner_id}/{image_id}"),
        content_type="image/png",
    )
    message.uploaded_at.FromDatetime(UPLOADED_AT)
    if gps is not None:
        message.gps.CopyFrom(common_pb2.GeoPoint(lat=gps[0], lon=gps[1]))
    return ConsumedEvent(message, image_id, {}, "images.uploaded", 0, 0)


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
def objects() -> Objects:
    found = Objects()
    found.objects[("media", "originals/user-1/img-1")] = _halves_png()
    return found


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def handler(
    objects: Objects, store: InMemoryCategoryStore, publisher: RecordingPublisher, executor: ThreadPoolExecutor
) -> TaggingHandler:
    return TaggingHandler(
        read_object=objects.get_bytes_or_none,
        store=store,
        publisher=publisher,
        executor=executor,
        max_pixels=100_000_000,
        model_version=MODEL_VERSION,
    )


async def test_an_upload_is_tagged_stored_and_announced(
    handler: TaggingHandler, store: InMemoryCategoryStore, publisher: RecordingPublisher
) -> None:
    await handler(_uploaded(gps=(48.8584, 2.2945)))

    [(topic, _, key)] = publisher.published
    assert (topic, key) == ("images.tagged", "img-1")
    [tagged] = publisher.tagged()
    assert (tagged.image_id, tagged.owner_id, tagged.model_version) == ("img-1", "user-1", MODEL_VERSION)
    assert (tagged.width, tagged.height) == (300, 200)
    assert {c.name: round(c.fraction, 2) for c in tagged.colors} == {"red": 0.5, "blue": 0.5}
    assert len(tagged.phash) == 16
    assert tagged.HasField("location")
    assert (tagged.location.lat, tagged.location.lon, tagged.location.place) == (48.8584, 2.2945, "")
    assert list(tagged.labels) == []
    assert list(tagged.categories) == []
    assert tagged.HasField("tagged_at")

    stored = store.images["img-1"]
    assert (stored.owner_id, stored.categories, stored.uploaded_at) == ("user-1", (), UPLOADED_AT)
    assert stored.tagged_at == tagged.tagged_at.ToDatetime(tzinfo=UTC)


async def test_without_gps_there_is_no_location(handler: TaggingHandler, publisher: RecordingPublisher) -> None:
    await handler(_uploaded())
    [tagged] = publisher.tagged()
    assert not tagged.HasField("location")


async def test_an_unreadable_image_still_completes_the_pipeline(
    handler: TaggingHandler, objects: Objects, publisher: RecordingPublisher
) -> None:
    objects.objects[("media", "originals/user-1/img-1")] = b"\x89PNG\r\n\x1a\n not really"
    await handler(_uploaded(gps=(1.0, 2.0)))
    [tagged] = publisher.tagged()
    assert (tagged.width, tagged.height, tagged.phash) == (0, 0, "")
    assert list(tagged.colors) == []
    assert tagged.model_version == MODEL_VERSION
    assert tagged.location.lat == 1.0


async def test_an_image_over_the_pixel_limit_is_published_as_unreadable(
    objects: Objects, store: InMemoryCategoryStore, publisher: RecordingPublisher, executor: ThreadPoolExecutor
) -> None:
    small_limit = TaggingHandler(objects.get_bytes_or_none, store, publisher, executor, 1000, MODEL_VERSION)
    await small_limit(_uploaded())
    [tagged] = publisher.tagged()
    assert (tagged.width, tagged.height, list(tagged.colors)) == (0, 0, [])


async def test_an_original_deleted_meanwhile_is_skipped(
    handler: TaggingHandler, objects: Objects, store: InMemoryCategoryStore, publisher: RecordingPublisher
) -> None:
    objects.objects.clear()
    await handler(_uploaded())
    assert publisher.published == []
    assert store.images == {}


async def test_an_image_deleted_before_it_was_tagged_stays_deleted(
    handler: TaggingHandler, store: InMemoryCategoryStore, publisher: RecordingPublisher
) -> None:
    deleted = images_pb2.ImageDeleted(image_id="img-1", owner_id="user-1")
    await ImageDeletedHandler(store)(ConsumedEvent(deleted, "img-1", {}, "images.deleted", 0, 0))
    await handler(_uploaded())
    assert store.images == {}
    assert publisher.published == []


async def test_a_redelivered_upload_is_stored_once(handler: TaggingHandler, store: InMemoryCategoryStore) -> None:
    await handler(_uploaded())
    await handler(_uploaded())
    assert list(store.images) == ["img-1"]


async def test_an_event_without_ids_is_permanent(handler: TaggingHandler) -> None:
    with pytest.raises(PermanentError):
        await handler(_uploaded(image_id=""))


async def test_dependencies_down_are_transient(
    handler: TaggingHandler,
    objects: Objects,
    store: InMemoryCategoryStore,
    publisher: RecordingPublisher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    objects.down = True
    with pytest.raises(TransientError):
        await handler(_uploaded())
    objects.down = False

    publisher.fail_with = KafkaConnectionError("broker gone")
    with pytest.raises(TransientError):
        await handler(_uploaded())

    async def unavailable(_: ImageCategories) -> bool:
        raise StoreUnavailable("mongo gone")

    monkeypatch.setattr(store, "save_image", unavailable)
    with pytest.raises(TransientError):
        await handler(_uploaded())


async def test_a_deleted_user_loses_images_and_renames_and_later_uploads_are_refused(
    handler: TaggingHandler, store: InMemoryCategoryStore, publisher: RecordingPublisher
) -> None:
    store.add("other-img", "user-2", ("Animals",), UPLOADED_AT)
    await handler(_uploaded())
    await store.rename("user-1", "animals", "Pets")

    deleted = users_pb2.UserDeleted(user_id="user-1")
    await UserDeletedHandler(store)(ConsumedEvent(deleted, "user-1", {}, "users.deleted", 0, 0))
    assert list(store.images) == ["other-img"]
    assert await store.renames("user-1") == {}

    publisher.published.clear()
    await handler(_uploaded())
    assert publisher.published == []
    assert list(store.images) == ["other-img"]


async def test_deletion_events_without_ids_are_permanent(store: InMemoryCategoryStore) -> None:
    with pytest.raises(PermanentError):
        await ImageDeletedHandler(store)(
            ConsumedEvent(images_pb2.ImageDeleted(image_id="x"), "x", {}, "images.deleted", 0, 0)
        )
    with pytest.raises(PermanentError):
        await UserDeletedHandler(store)(ConsumedEvent(users_pb2.UserDeleted(), "", {}, "users.deleted", 0, 0))
