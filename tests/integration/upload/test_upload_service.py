"""The upload service against real Mongo, S3 and Kafka: store, announce, dedup, refuse, delete, merge results."""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from google.protobuf.message import Message
from PIL import Image

from pixtract.common.kafka import EventPublisher
from pixtract.events.topics import (
    IMAGES_DELETED,
    IMAGES_INDEXED,
    IMAGES_TAGGED,
    IMAGES_TEXT_EXTRACTED,
    IMAGES_UPLOADED,
    USERS_DELETED,
    Topic,
)
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.upload.adapters.backlog import KafkaBacklog
from pixtract.upload.config import DownloadMode, Settings
from pixtract.upload.domain.pipeline import Stage
from pixtract.upload.tasks.reconciler import Reconciler
from tests.integration.upload.conftest import MAX_FILE_BYTES

pytestmark = pytest.mark.integration


def jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def png(seed: int) -> bytes:
    image = Image.new("RGBA", (200, 100), (seed % 256, 10, 200, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {user}"}


async def upload(client: httpx.AsyncClient, user: str, *files: tuple[str, bytes]) -> httpx.Response:
    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return await client.post("/api/v1/images", files=parts, headers=auth(user))


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        await asyncio.sleep(0.1)


async def published(
    settings: Settings, topic: Topic[Any], key: str, count: int = 1, timeout: float = 20.0
) -> list[Any]:
    """The messages with `key` on `topic`, from the beginning, once `count` of them were seen."""
    consumer = AIOKafkaConsumer(
        topic.name,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Message] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(found) < count and asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                found.extend(topic.message_type.FromString(r.value) for r in records if r.key == key.encode())
    finally:
        await consumer.stop()
    assert len(found) >= count, f"{count} {topic.name} events for {key} expected, saw {len(found)}"
    return found


async def keys_of(upload_app: Any, prefix: str) -> list[str]:
    keys: list[str] = await upload_app.state.media._objects.list_keys(prefix)
    return keys


async def user_keys(upload_app: Any, user: str) -> list[str]:
    return await keys_of(upload_app, f"originals/{user}/") + await keys_of(upload_app, f"thumbs/{user}/")


async def test_upload_stores_original_thumbnails_and_record_and_announces_it(
    client: httpx.AsyncClient, upload_app: Any, upload_settings: Settings, images_collection: Any, user: str
) -> None:
    data = jpeg(1)
    response = await upload(client, user, ("holiday.jpg", data))
    assert response.status_code == 201, response.text
    [summary] = response.json()["images"]
    assert summary["filename"] == "holiday.jpg"
    assert summary["content_type"] == "image/jpeg"
    assert summary["size"] == len(data)
    assert summary["sha256"] == hashlib.sha256(data).hexdigest()
    assert summary["state"] == "processing"
    assert summary["duplicate"] is False
    image_id = summary["id"]

    assert sorted(await user_keys(upload_app, user)) == sorted(
        [f"originals/{user}/{image_id}", f"thumbs/{user}/{image_id}/large.webp", f"thumbs/{user}/{image_id}/small.webp"]
    )
    [event] = await published(upload_settings, IMAGES_UPLOADED, image_id)
    assert event.owner_id == user
    assert (event.original.bucket, event.original.key) == (upload_settings.s3.bucket, f"originals/{user}/{image_id}")
    assert (event.width, event.height, event.size, event.attempt) == (320, 240, len(data), 1)
    assert event.sha256 == summary["sha256"]

    async def outbox_drained() -> bool:
        record = await images_collection.find_one({"_id": image_id})
        return bool(record is not None and record["outbox"] == [])

    await eventually(outbox_drained, what="outbox drained")

    body = (await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).json()
    assert (body["width"], body["height"], body["camera"], body["location"]) == (320, 240, None, None)
    assert body["stages"] == {"tagging": "pending", "ocr": "pending", "search": "pending"}
    assert body["text"] == {
        "content": "",
        "document_type": "none",
        "fields": {},
        "lines": [],
        "language": None,
        "items": [],
        "key_values": [],
    }


async def test_original_downloads_byte_for_byte_with_its_type_and_name(client: httpx.AsyncClient, user: str) -> None:
    data = png(2)
    image_id = (await upload(client, user, ('Ünïcode "name".jpg', data))).json()["images"][0]["id"]
    response = await client.get(f"/api/v1/images/{image_id}/content", headers=auth(user))
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"  # from the bytes, not the name
    assert response.headers["content-length"] == str(len(data))
    assert "filename*=UTF-8''%C3%9Cn%C3%AFcode%20%22name%22.jpg" in response.headers["content-disposition"]


async def test_redirect_mode_answers_307_to_a_signed_url_that_serves_the_original(
    client: httpx.AsyncClient, upload_app: Any, user: str
) -> None:
    data = jpeg(10)
    image_id = (await upload(client, user, ("résumé.jpg", data))).json()["images"][0]["id"]
    settings: Settings = upload_app.state.settings
    settings.download_mode = DownloadMode.REDIRECT
    try:
        response = await client.get(f"/api/v1/images/{image_id}/content", headers=auth(user))
    finally:
        settings.download_mode = DownloadMode.STREAM
    assert response.status_code == 307
    async with httpx.AsyncClient() as s3:
        signed = await s3.get(response.headers["location"])
    assert signed.status_code == 200
    assert signed.content == data
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.jpg" in signed.headers["content-disposition"]


async def test_thumbnails_are_webp_with_etag_and_answer_304(client: httpx.AsyncClient, user: str) -> None:
    image_id = (await upload(client, user, ("big.jpg", jpeg(3, (2000, 1000))))).json()["images"][0]["id"]
    for size, side in (("small", 256), ("large", 1280)):
        response = await client.get(f"/api/v1/images/{image_id}/thumbnail", params={"size": size}, headers=auth(user))
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/webp"
        assert response.headers["cache-control"].startswith("private, max-age=")
        with Image.open(io.BytesIO(response.content)) as thumb:
            assert thumb.format == "WEBP"
            assert thumb.size == (side, side // 2)
        etag = response.headers["etag"]
        again = await client.get(
            f"/api/v1/images/{image_id}/thumbnail",
            params={"size": size},
            headers={**auth(user), "If-None-Match": etag},
        )
        assert again.status_code == 304
        assert again.content == b""
    bad = await client.get(f"/api/v1/images/{image_id}/thumbnail", params={"size": "huge"}, headers=auth(user))
    assert bad.status_code == 422


async def test_same_bytes_again_return_the_existing_image_and_store_nothing(
    client: httpx.AsyncClient, upload_app: Any, user: str
) -> None:
    data = jpeg(4)
    first = (await upload(client, user, ("a.jpg", data))).json()["images"][0]
    keys_before = await user_keys(upload_app, user)
    again = await upload(client, user, ("renamed.jpg", data), ("a-copy.jpg", data))
    assert again.status_code == 201
    assert [(img["id"], img["duplicate"]) for img in again.json()["images"]] == [(first["id"], True)] * 2
    assert await user_keys(upload_app, user) == keys_before
    # Another user's identical bytes are their own image.
    other = (await upload(client, f"other-{user}", ("a.jpg", data))).json()["images"][0]
    assert other["id"] != first["id"]
    assert other["duplicate"] is False


async def test_the_same_new_file_twice_in_one_request_is_stored_once(
    client: httpx.AsyncClient, upload_app: Any, user: str
) -> None:
    data = jpeg(5)
    images = (await upload(client, user, ("one.jpg", data), ("two.jpg", data))).json()["images"]
    assert images[0]["id"] == images[1]["id"]
    assert [img["duplicate"] for img in images] == [False, True]
    assert len(await keys_of(upload_app, f"originals/{user}/")) == 1
    assert len(await keys_of(upload_app, f"thumbs/{user}/")) == 2


async def test_a_corrupt_file_refuses_the_request_and_leaves_nothing(
    client: httpx.AsyncClient, upload_app: Any, images_collection: Any, user: str
) -> None:
    truncated = jpeg(6, (800, 600))[:-400]
    response = await upload(client, user, ("good.png", png(6)), ("broken.jpg", truncated))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "broken.jpg" in response.json()["detail"]
    assert "truncated or corrupt" in response.json()["detail"]
    assert await user_keys(upload_app, user) == []
    assert await images_collection.count_documents({"owner_id": user}) == 0


async def test_refusals_name_what_was_sent(client: httpx.AsyncClient, upload_app: Any, user: str) -> None:
    pdf = await upload(client, user, ("scan.jpg", b"%PDF-1.7\n" + b"0" * 100))
    assert pdf.status_code == 415
    assert "PDF document" in pdf.json()["detail"]
    too_big = await upload(client, user, ("huge.bmp", b"BM" + b"\0" * MAX_FILE_BYTES))
    assert too_big.status_code == 413
    too_many = await upload(client, user, *[(f"{n}.png", png(n)) for n in range(6)])
    assert too_many.status_code == 413
    not_multipart = await client.post(
        "/api/v1/images", content=png(1), headers={**auth(user), "Content-Type": "image/png"}
    )
    assert not_multipart.status_code == 415
    assert await user_keys(upload_app, user) == []


async def test_requests_need_a_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/images")).status_code == 401
    assert (await client.post("/api/v1/images", files=[("files", ("a.png", png(1)))])).status_code == 401


async def test_listing_is_newest_first_paged_filtered_and_private(
    client: httpx.AsyncClient, images_collection: Any, user: str
) -> None:
    ids = []
    for seed in range(5):
        ids.append((await upload(client, user, (f"{seed}.png", png(100 + seed)))).json()["images"][0]["id"])
    await upload(client, f"other-{user}", ("x.png", png(200)))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/images", params=params, headers=auth(user))).json()
        seen += [item["id"] for item in page["items"]]
        assert set(page["items"][0]) == {"id", "filename", "content_type", "size", "sha256", "state", "uploaded_at"}
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]

    await images_collection.update_one(
        {"_id": ids[1]}, {"$set": {"categories": ["animals"], "labels": [{"name": "cat"}]}}
    )
    by_category = await client.get("/api/v1/images", params={"category": "animals"}, headers=auth(user))
    assert [item["id"] for item in by_category.json()["items"]] == [ids[1]]
    by_label = await client.get("/api/v1/images", params={"label": "cat"}, headers=auth(user))
    assert [item["id"] for item in by_label.json()["items"]] == [ids[1]]

    malformed = await client.get("/api/v1/images", params={"cursor": "not-a-cursor"}, headers=auth(user))
    assert malformed.status_code == 400
    assert (await client.get("/api/v1/images", params={"limit": 201}, headers=auth(user))).status_code == 422


async def test_another_users_image_is_not_found(client: httpx.AsyncClient, user: str) -> None:
    image_id = (await upload(client, user, ("mine.png", png(7)))).json()["images"][0]["id"]
    stranger = auth(f"stranger-{user}")
    for path in ("", "/content", "/thumbnail"):
        assert (await client.get(f"/api/v1/images/{image_id}{path}", headers=stranger)).status_code == 404
    assert (await client.delete(f"/api/v1/images/{image_id}", headers=stranger)).status_code == 404
    assert (await client.get(f"/api/v1/images/{uuid.uuid4().hex}", headers=auth(user))).status_code == 404
    assert (await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).status_code == 200


async def test_delete_removes_objects_hides_the_image_announces_it_and_allows_a_reupload(
    client: httpx.AsyncClient, upload_app: Any, upload_settings: Settings, images_collection: Any, user: str
) -> None:
    data = jpeg(8)
    image_id = (await upload(client, user, ("gone.jpg", data))).json()["images"][0]["id"]
    assert (await client.delete(f"/api/v1/images/{image_id}", headers=auth(user))).status_code == 204
    assert (await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).status_code == 404
    assert (await client.get(f"/api/v1/images/{image_id}/content", headers=auth(user))).status_code == 404
    assert (await client.get("/api/v1/images", headers=auth(user))).json()["items"] == []
    assert (await client.delete(f"/api/v1/images/{image_id}", headers=auth(user))).status_code == 404
    assert await user_keys(upload_app, user) == []
    [event] = await published(upload_settings, IMAGES_DELETED, image_id)
    assert event.owner_id == user

    async def purged() -> bool:
        return bool(await images_collection.count_documents({"_id": image_id}) == 0)

    await eventually(purged, what="deleted record purged")
    again = (await upload(client, user, ("gone.jpg", data))).json()["images"][0]
    assert again["id"] != image_id
    assert again["duplicate"] is False


def _tagged(image_id: str, owner: str, at: datetime, label: str = "tabby") -> images_pb2.ImageTagged:
    event = images_pb2.ImageTagged(
        image_id=image_id,
        owner_id=owner,
        model_version="tagger-1",
        categories=["animals"],
        faces=1,
        width=320,
        height=240,
    )
    event.labels.add(name=label, confidence=0.9, parents=["cat", "animal"])
    event.colors.add(name="orange", hex="#ff8800", fraction=1.0)
    event.location.CopyFrom(images_pb2.Place(lat=48.85, lon=2.35, place="Paris", country="FR"))
    event.tagged_at.FromDatetime(at)
    return event


def _text(image_id: str, owner: str) -> images_pb2.TextExtracted:
    event = images_pb2.TextExtracted(
        image_id=image_id,
        owner_id=owner,
        engine="rapidocr",
        model_version="ocr-1",
        content="TOTAL 12.50",
        document_type="receipt",
    )
    event.fields["total"] = "12.50"
    event.lines.add(text="TOTAL 12.50", confidence=0.95, box=[1, 2, 30, 12])
    return event


def _indexed(image_id: str, owner: str, part: int) -> images_pb2.ImageIndexed:
    return images_pb2.ImageIndexed(image_id=image_id, owner_id=owner, part=part)  # type: ignore[arg-type]


async def test_results_arriving_in_any_order_and_twice_make_the_image_ready(
    client: httpx.AsyncClient, publisher: EventPublisher, user: str
) -> None:
    image_id = (await upload(client, user, ("cat.jpg", jpeg(9)))).json()["images"][0]["id"]
    now = datetime.now(UTC)
    # Indexed before the results it reports, results twice, an older tagging result last.
    await publisher.publish(IMAGES_INDEXED, _indexed(image_id, user, images_pb2.INDEXED_PART_OCR), key=image_id)
    await publisher.publish(IMAGES_TEXT_EXTRACTED, _text(image_id, user), key=image_id)
    await publisher.publish(IMAGES_TAGGED, _tagged(image_id, user, now), key=image_id)
    await publisher.publish(IMAGES_INDEXED, _indexed(image_id, user, images_pb2.INDEXED_PART_TAGGING), key=image_id)

    async def image() -> dict[str, Any]:
        return dict((await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).json())

    async def ready() -> bool:
        return bool((await image())["state"] == "ready")

    await eventually(ready, what="state ready")
    body = await image()
    assert body["stages"] == {"tagging": "done", "ocr": "done", "search": "pending"}
    await publisher.publish(IMAGES_TAGGED, _tagged(image_id, user, now.replace(year=2001), "stale"), key=image_id)
    await publisher.publish(IMAGES_TEXT_EXTRACTED, _text(image_id, user), key=image_id)
    await publisher.publish(IMAGES_INDEXED, _indexed(image_id, user, images_pb2.INDEXED_PART_UPLOAD), key=image_id)

    async def searchable() -> bool:
        return bool((await image())["stages"]["search"] == "done")

    await eventually(searchable, what="search stage done")
    body = await image()
    assert body["state"] == "ready"
    assert body["labels"] == [{"name": "tabby", "confidence": 0.9, "parents": ["cat", "animal"]}]
    assert body["categories"] == ["animals"]
    assert body["faces"] == 1
    assert body["colors"] == [{"name": "orange", "hex": "#ff8800", "fraction": 1.0}]
    assert body["location"] == {"lat": 48.85, "lon": 2.35, "place": "Paris", "country": "FR", "region": None}
    assert body["text"] == {
        "content": "TOTAL 12.50",
        "document_type": "receipt",
        "fields": {"total": "12.50"},
        "lines": [{"text": "TOTAL 12.50", "confidence": 0.95, "box": [1.0, 2.0, 30.0, 12.0]}],
        "language": None,
        "items": [],
        "key_values": [],
    }


async def test_user_deleted_removes_every_record_and_object_of_the_user(
    client: httpx.AsyncClient, upload_app: Any, publisher: EventPublisher, images_collection: Any, user: str
) -> None:
    for seed in range(3):
        assert (await upload(client, user, (f"{seed}.png", png(300 + seed)))).status_code == 201
    survivor = f"other-{user}"
    await upload(client, survivor, ("keep.png", png(400)))
    await publisher.publish(USERS_DELETED, users_pb2.UserDeleted(user_id=user), key=user)

    async def user_gone() -> bool:
        return await images_collection.count_documents({"owner_id": user}) == 0 and not await user_keys(
            upload_app, user
        )

    await eventually(user_gone, what="user's images removed")
    assert await images_collection.count_documents({"owner_id": survivor}) == 1
    assert len(await user_keys(upload_app, survivor)) == 3


async def test_readiness_reports_every_dependency(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert set(response.json()["checks"]) == {"mongo", "s3", "kafka", "consumer", "outbox-relay"}


class Drained:
    """No pipeline service runs beside these tests: nothing will ever consume their events."""

    async def queued(self) -> int:
        return 0


async def test_the_backlog_is_what_each_consumer_group_has_not_committed(upload_settings: Settings) -> None:
    run = uuid.uuid4().hex[:8]
    topic: Topic[images_pb2.ImageUploaded] = Topic(
        name=f"backlog.{run}",
        key="image_id",
        message_type=images_pb2.ImageUploaded,
        producers=("upload",),
        consumers=(f"first-{run}", f"second-{run}"),
        partitions=4,
        retention_hours=1,
    )
    publisher = EventPublisher(upload_settings.kafka, client_id="backlog-test")
    await publisher.start()
    try:
        for n in range(3):
            await publisher.publish(topic, images_pb2.ImageUploaded(image_id=f"i{n}"), key="same-partition")
    finally:
        await publisher.stop()
    backlog = KafkaBacklog(upload_settings.kafka, topics=[topic])
    assert await backlog.queued() == 6  # neither group has committed anything

    async def commit(group: str, offset: int) -> None:
        member = AIOKafkaConsumer(
            bootstrap_servers=upload_settings.kafka.bootstrap_servers, group_id=group, enable_auto_commit=False
        )
        await member.start()
        try:
            partitions = [TopicPartition(topic.name, p) for p in member.partitions_for_topic(topic.name) or ()]
            member.assign(partitions)
            ends = await member.end_offsets(partitions)
            [written] = [tp for tp in partitions if ends[tp] > 0]
            await member.commit({written: offset})
        finally:
            await member.stop()

    await commit(f"first-{run}", 3)
    assert await backlog.queued() == 3
    await commit(f"second-{run}", 2)
    assert await backlog.queued() == 1


async def test_a_stuck_image_is_reemitted_then_failed_and_a_late_result_still_clears_it(
    client: httpx.AsyncClient, upload_app: Any, upload_settings: Settings, images_collection: Any, user: str
) -> None:
    image_id = (await upload(client, user, ("stuck.jpg", jpeg(11)))).json()["images"][0]["id"]

    async def outbox_drained() -> bool:
        return bool((await images_collection.find_one({"_id": image_id}))["outbox"] == [])

    await eventually(outbox_drained, what="ImageUploaded published")
    images = upload_app.state.images
    later = datetime.now(UTC) + timedelta(minutes=11)
    reconciler = Reconciler(
        images, backlog=Drained(), reemit_after=timedelta(minutes=10), max_attempts=2, clock=lambda: later
    )
    assert await reconciler.run_once() >= 1
    events = await published(upload_settings, IMAGES_UPLOADED, image_id, count=2)
    assert sorted(event.attempt for event in events) == [1, 2]

    much_later = later + timedelta(minutes=11)
    giving_up = Reconciler(
        images, backlog=Drained(), reemit_after=timedelta(minutes=10), max_attempts=2, clock=lambda: much_later
    )
    await eventually(outbox_drained, what="re-emission published")
    assert await giving_up.run_once() >= 1
    body = (await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).json()
    assert body["state"] == "failed"
    assert body["stages"]["tagging"] == "failed"
    assert body["failure"] == {"stage": "tagging", "reason": "no tagging result after 2 attempts (about 1200 s)"}

    # The tagging result arrives after all: the failure was about its absence, so it goes.
    await upload_app.state.images.record_result(user, image_id, Stage.TAGGING, {"labels": []}, None)
    body = (await client.get(f"/api/v1/images/{image_id}", headers=auth(user))).json()
    assert (body["state"], body["stages"]["tagging"], body["failure"]) == ("processing", "done", None)
