"""The tagging service against real servers: an upload in, an images.tagged out; the category
store and API on a real MongoDB; deletions through Kafka."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx
import pytest
import skimage.data
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from PIL import Image

from pixtract.common.auth import USER_SCOPES, Principal, current_principal
from pixtract.common.clients import s3_client
from pixtract.common.kafka import EventPublisher
from pixtract.common.storage import ObjectStore
from pixtract.events.topics import IMAGES_DELETED, IMAGES_TAGGED, IMAGES_TEXT_EXTRACTED, IMAGES_UPLOADED, USERS_DELETED
from pixtract.events.v1 import common_pb2, images_pb2, users_pb2
from pixtract.tagging.adapters.mongo_categories import MongoCategoryStore
from pixtract.tagging.app import create_app
from pixtract.tagging.config import Settings
from pixtract.tagging.domain.categories import ImageCategories
from pixtract.tagging.reprocess import reprocess
from tests.integration.settings import kafka_settings, mongo_settings, running, s3_settings, started_publisher

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class WaitForTagged(Protocol):
    def __call__(
        self, image_id: str, timeout: float = ..., until: Callable[[images_pb2.ImageTagged], bool] = ...
    ) -> Awaitable[images_pb2.ImageTagged]: ...


@pytest.fixture
def settings(lite_servers: Any) -> Settings:
    return Settings(
        kafka=kafka_settings(lite_servers),
        # A database per test: no test sees another's images or renames.
        mongo=mongo_settings(lite_servers, database=f"tagging_{uuid.uuid4().hex[:8]}"),
        s3=s3_settings(lite_servers),
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running(create_app(settings)) as application:
        yield application


@pytest.fixture
async def publisher(settings: Settings) -> AsyncIterator[EventPublisher]:
    async with started_publisher(settings.kafka, client_id="tagging-test") as pub:
        yield pub


@pytest.fixture
async def tagged(settings: Settings) -> AsyncIterator[WaitForTagged]:
    """Waits for the images.tagged event of one image id."""
    consumer = AIOKafkaConsumer(
        IMAGES_TAGGED.name,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, images_pb2.ImageTagged] = {}

    async def wait_for(
        image_id: str, timeout: float = 60.0, until: Callable[[images_pb2.ImageTagged], bool] = lambda _: True
    ) -> images_pb2.ImageTagged:
        """The newest images.tagged of the image once `until` holds for it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while image_id not in seen or not until(seen[image_id]):
            assert asyncio.get_running_loop().time() < deadline, f"no (such) images.tagged for {image_id}"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    message = images_pb2.ImageTagged.FromString(record.value)
                    seen[message.image_id] = message
        return seen[image_id]

    try:
        yield wait_for
    finally:
        await consumer.stop()


async def _eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.1)


def _halves_jpeg(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), "#ff0000")
    image.paste(Image.new("RGB", (width // 2, height), "#0000ff"), (width // 2, 0))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


def _uploaded(image_id: str, owner_id: str, key: str, bucket: str) -> images_pb2.ImageUploaded:
    message = images_pb2.ImageUploaded(
        image_id=image_id,
        owner_id=owner_id,
        original=common_pb2.ObjectRef(bucket=bucket, key=key),
        content_type="image/jpeg",
        gps=common_pb2.GeoPoint(lat=59.3293, lon=18.0686),
    )
    message.uploaded_at.FromDatetime(datetime.now(UTC))
    return message


async def _put(settings: Settings, key: str, data: bytes) -> None:
    async with s3_client(settings.s3) as s3:
        await ObjectStore(s3, settings.s3.bucket).put_bytes(key, data, "image/jpeg")


def _store(app: FastAPI) -> MongoCategoryStore:
    store: MongoCategoryStore = app.state.category_store
    return store


async def test_an_uploaded_image_is_tagged_and_announced(
    app: FastAPI,
    settings: Settings,
    publisher: EventPublisher,
    tagged: WaitForTagged,
) -> None:
    owner, image_id = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    key = f"originals/{owner}/{image_id}"
    await _put(settings, key, _halves_jpeg(640, 480))

    await publisher.publish(IMAGES_UPLOADED, _uploaded(image_id, owner, key, settings.s3.bucket), key=image_id)
    result = await tagged(image_id)

    assert result.owner_id == owner
    assert result.model_version.startswith(f"{settings.model_version}+efficientnet-lite0-")
    assert (result.width, result.height) == (640, 480)
    fractions = {c.name: c.fraction for c in result.colors}
    assert set(fractions) == {"red", "blue"}
    assert fractions["red"] == pytest.approx(0.5, abs=0.05)
    assert fractions["blue"] == pytest.approx(0.5, abs=0.05)
    assert len(result.phash) == 16
    assert result.location.lat == pytest.approx(59.3293)
    assert result.location.lon == pytest.approx(18.0686)
    assert (result.location.place, result.location.country, result.location.country_code) == (
        "Stockholm",
        "Sweden",
        "SE",
    )
    assert result.HasField("tagged_at")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tagging") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"mongo": "ok", "s3": "ok", "kafka": "ok", "consumer": "ok"}


async def test_corrupt_bytes_still_produce_an_images_tagged(
    app: FastAPI,
    settings: Settings,
    publisher: EventPublisher,
    tagged: WaitForTagged,
) -> None:
    owner, image_id = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    key = f"originals/{owner}/{image_id}"
    await _put(settings, key, _halves_jpeg(640, 480)[:300])

    await publisher.publish(IMAGES_UPLOADED, _uploaded(image_id, owner, key, settings.s3.bucket), key=image_id)
    result = await tagged(image_id)
    assert (result.width, result.height, result.phash, list(result.colors)) == (0, 0, "", [])


async def test_the_store_keeps_tombstones_and_the_newest_result(app: FastAPI) -> None:
    store = _store(app)
    image = ImageCategories("img-t", "owner-t", ("Animals",), T0, T0 + timedelta(minutes=5))

    assert await store.save_image(image) is True
    assert await store.save_image(image) is True, "a redelivery is stored again"
    older = ImageCategories("img-t", "owner-t", ("Food",), T0, T0)
    assert await store.save_image(older) is False
    assert [c.name for c in await store.count_categories("owner-t")] == ["Animals"]

    await store.forget_image("img-t", "owner-t")
    later = ImageCategories("img-t", "owner-t", ("Animals",), T0, T0 + timedelta(hours=1))
    assert await store.save_image(later) is False
    assert await store.count_categories("owner-t") == []


async def test_categories_api_and_deletions_on_real_servers(app: FastAPI, publisher: EventPublisher) -> None:
    store = _store(app)
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}", f"bob-{uuid.uuid4().hex[:6]}"
    for image_id, owner, categories, day in [
        ("a1", alice, ("Animals", "Beach"), 0),
        ("a2", alice, ("Animals",), 2),
        ("a3", alice, ("Food & Drink",), 1),
        ("b1", bob, ("Animals", "Cars"), 5),
    ]:
        uploaded_at = T0 + timedelta(days=day)
        assert await store.save_image(ImageCategories(image_id, owner, categories, uploaded_at, uploaded_at))

    app.dependency_overrides[current_principal] = lambda: Principal(user_id=alice, scopes=USER_SCOPES)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tagging") as http:

        async def listed() -> list[dict[str, Any]]:
            response = await http.get("/api/v1/categories")
            assert response.status_code == 200, response.text
            items: list[dict[str, Any]] = response.json()["items"]
            return items

        assert [(c["id"], c["count"], c["cover_image_id"]) for c in await listed()] == [
            ("animals", 2, "a2"),
            ("beach", 1, "a1"),
            ("food-drink", 1, "a3"),
        ]

        renamed = await http.patch("/api/v1/categories/animals", json={"name": " Pets "})
        assert renamed.status_code == 200
        assert renamed.json()["name"] == "Pets"
        assert (await http.patch("/api/v1/categories/cars", json={"name": "Mine"})).status_code == 404
        assert (await http.patch("/api/v1/categories/animals", json={"name": ""})).status_code == 422
        assert (await listed())[0]["name"] == "Pets"

        await publisher.publish(IMAGES_DELETED, images_pb2.ImageDeleted(image_id="a2", owner_id=alice), key="a2")

        async def cover_moved() -> bool:
            animals = [c for c in await listed() if c["id"] == "animals"]
            return animals == [
                {
                    "id": "animals",
                    "name": "Pets",
                    "suggested_name": "Animals",
                    "count": 1,
                    "cover_image_id": "a1",
                }
            ]

        await _eventually(cover_moved)

        await publisher.publish(USERS_DELETED, users_pb2.UserDeleted(user_id=alice), key=alice)

        async def alice_gone() -> bool:
            return await listed() == [] and await store.renames(alice) == {}

        await _eventually(alice_gone)
    assert [c.name for c in await store.count_categories(bob)] != []


def _sample_jpeg(name: str, size: tuple[int, int] | None = None) -> bytes:
    image = Image.fromarray(getattr(skimage.data, name)())
    if size is not None:
        image = image.resize(size)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


async def test_the_cat_is_labelled_linked_to_its_copy_and_re_announced_after_ocr(
    app: FastAPI, settings: Settings, publisher: EventPublisher, tagged: WaitForTagged
) -> None:
    owner = f"user-{uuid.uuid4().hex[:8]}"
    cat, copy = uuid.uuid4().hex, uuid.uuid4().hex
    await _put(settings, f"originals/{owner}/{cat}", _sample_jpeg("chelsea"))
    await _put(settings, f"originals/{owner}/{copy}", _sample_jpeg("chelsea", (902, 600)))

    await publisher.publish(
        IMAGES_UPLOADED, _uploaded(cat, owner, f"originals/{owner}/{cat}", settings.s3.bucket), key=cat
    )
    first = await tagged(cat)
    names = [label.name for label in first.labels]
    assert names[0] in {"tabby cat", "Egyptian Mau"}
    assert "cat" in first.labels[0].parents
    assert list(first.categories) == ["Animals"]
    assert (first.faces, list(first.duplicates_of)) == (0, [])

    later = _uploaded(copy, owner, f"originals/{owner}/{copy}", settings.s3.bucket)
    later.uploaded_at.FromDatetime(datetime.now(UTC) + timedelta(seconds=5))
    await publisher.publish(IMAGES_UPLOADED, later, key=copy)
    assert list((await tagged(copy)).duplicates_of) == [cat]

    # OCR finds the cat photo is a receipt (say, a cat on a till slip): re-announced, newer.
    text = images_pb2.TextExtracted(image_id=cat, owner_id=owner, document_type="receipt", content="TOTAL 9.99")
    await publisher.publish(IMAGES_TEXT_EXTRACTED, text, key=cat)
    again = await tagged(cat, until=lambda t: "Receipts" in t.categories)
    assert list(again.categories) == ["Animals", "Receipts"]
    assert again.tagged_at.ToDatetime() > first.tagged_at.ToDatetime()
    assert [label.name for label in again.labels] == names

    stored = await _store(app).get(cat)
    assert stored is not None
    assert (stored.document_type, stored.categorised_with, stored.pending) == ("receipt", "receipt", False)
    counts = {c.name: c for c in await _store(app).count_categories(owner)}
    assert counts["Animals"].count == 2
    assert counts["Animals"].specific == {"Cats": 2}


async def test_reprocess_re_emits_uploads_tagged_by_an_older_version(
    app: FastAPI, settings: Settings, publisher: EventPublisher, tagged: WaitForTagged
) -> None:
    owner, image_id = f"user-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    key = f"originals/{owner}/{image_id}"
    await _put(settings, key, _sample_jpeg("coffee"))
    await publisher.publish(IMAGES_UPLOADED, _uploaded(image_id, owner, key, settings.s3.bucket), key=image_id)
    result = await tagged(image_id)
    assert result.labels[0].name == "espresso"

    uploads = AIOKafkaConsumer(
        IMAGES_UPLOADED.name, bootstrap_servers=settings.kafka.bootstrap_servers, auto_offset_reset="latest"
    )
    await uploads.start()
    try:
        await uploads.getmany(timeout_ms=1000)  # joined, positioned at the end
        newer = settings.model_copy(update={"model_version": "tagging-99"})
        dry = await reprocess(newer, dry_run=True)
        assert dry.outdated >= 1
        assert dry.emitted == 0
        report = await reprocess(newer, dry_run=False)
        assert report.emitted == report.outdated >= 1
        assert (await reprocess(settings, dry_run=True)).outdated == 0

        deadline = asyncio.get_running_loop().time() + 30
        reemitted: images_pb2.ImageUploaded | None = None
        while reemitted is None:
            assert asyncio.get_running_loop().time() < deadline, "no re-emitted ImageUploaded"
            for records in (await uploads.getmany(timeout_ms=500)).values():
                for record in records:
                    message = images_pb2.ImageUploaded.FromString(record.value)
                    if message.image_id == image_id:
                        reemitted = message
        assert reemitted.attempt == 2
        assert reemitted.original.key == key
    finally:
        await uploads.stop()
