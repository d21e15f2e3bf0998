"""The search service against a real broker and OpenSearch: events in, searchable images out.

The app runs in-process (its real lifespan: index creation, publisher, consumer group) with
its own consumer group and index alias, so it never meets another test's documents. Only
token verification is stubbed: the auth service is not part of these servers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from opensearchpy import AsyncOpenSearch

from pixtract.common.auth import USER_SCOPES, AuthenticationError, Principal
from pixtract.common.config import OpenSearchSettings
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.common.kafka import EventPublisher
from pixtract.events.topics import (
    IMAGES_DELETED,
    IMAGES_INDEXED,
    IMAGES_TAGGED,
    IMAGES_TEXT_EXTRACTED,
    IMAGES_UPLOADED,
    USERS_DELETED,
)
from pixtract.events.v1 import images_pb2, users_pb2
from pixtract.search.app import create_app
from pixtract.search.config import Settings
from tests.integration.settings import kafka_settings, running, started_publisher

pytestmark = pytest.mark.integration

WAIT_S = 30.0
TOKEN_PREFIX = "test-user:"


class StubVerifier:
    """`Bearer test-user:<id>` is user <id>: who the caller is, without an auth service."""

    async def verify(self, credential: str) -> Principal:
        if not credential.startswith(TOKEN_PREFIX):
            raise AuthenticationError("invalid token")
        return Principal(user_id=credential.removeprefix(TOKEN_PREFIX), scopes=USER_SCOPES)


@dataclass
class SearchService:
    http: httpx.AsyncClient
    publisher: EventPublisher
    settings: Settings

    async def search(self, user: str, **params: Any) -> httpx.Response:
        return await self.http.get("/api/v1/search", params=params, headers=_auth(user))

    async def found(self, user: str, **params: Any) -> list[str]:
        response = await self.search(user, **params)
        assert response.status_code == 200, response.text
        return [hit["image_id"] for hit in response.json()["items"]]


def _auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN_PREFIX}{user}"}


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
async def service(lite_servers: Any) -> AsyncIterator[SearchService]:
    suffix = uuid.uuid4().hex[:8]
    kafka = kafka_settings(lite_servers, retry_backoff_s=0.1)
    settings = Settings(
        service_name=f"search-it-{suffix}",
        kafka=kafka,
        opensearch=OpenSearchSettings(url=lite_servers.opensearch_url, index_alias=f"pixtract-images-it-{suffix}"),
        index_replicas=0,
    )
    async with started_publisher(kafka, client_id="search-it") as publisher, running(create_app(settings)) as app:
        app.state.token_verifier = StubVerifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://search") as http:
            yield SearchService(http, publisher, settings)


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.2)


async def _finds(service: SearchService, user: str, expected: set[str], **params: Any) -> None:
    async def check() -> bool:
        return set(await service.found(user, **params)) == expected

    await _eventually(check, f"{user} searching {params} finds {expected}")


async def _upload(service: SearchService, image_id: str, owner_id: str, filename: str, taken: datetime) -> None:
    event = images_pb2.ImageUploaded(image_id=image_id, owner_id=owner_id, filename=filename, content_type="image/jpeg")
    event.uploaded_at.FromDatetime(datetime.now(UTC))
    event.taken_at.FromDatetime(taken)
    await service.publisher.publish(IMAGES_UPLOADED, event, key=image_id)


async def _text(service: SearchService, image_id: str, owner_id: str, content: str, document_type: str) -> None:
    event = images_pb2.TextExtracted(
        image_id=image_id, owner_id=owner_id, content=content, document_type=document_type, model_version="ocr@1"
    )
    await service.publisher.publish(IMAGES_TEXT_EXTRACTED, event, key=image_id)


async def _tag(service: SearchService, image_id: str, owner_id: str, *labels: str, place: str = "") -> None:
    event = images_pb2.ImageTagged(image_id=image_id, owner_id=owner_id, model_version="tag@1")
    for label in labels:
        event.labels.add(name=label, confidence=0.9, parents=["animal"])
    if place:
        event.location.CopyFrom(images_pb2.Place(lat=48.85, lon=2.35, place=place, country="France"))
    await service.publisher.publish(IMAGES_TAGGED, event, key=image_id)


async def test_each_user_finds_only_their_own_receipts(service: SearchService) -> None:
    alice, bob = _unique("alice"), _unique("bob")
    alice_receipt, bob_receipt, alice_note = _unique("img"), _unique("img"), _unique("img")
    taken = datetime(2023, 8, 14, 18, 30, tzinfo=UTC)
    await _upload(service, alice_receipt, alice, "IMG_0001.JPG", taken)
    await _upload(service, bob_receipt, bob, "IMG_0002.JPG", taken)
    await _upload(service, alice_note, alice, "IMG_0003.JPG", taken)
    await _text(service, alice_receipt, alice, "CORNER SHOP\nThis receipt is your proof of purchase", "receipt")
    await _text(service, bob_receipt, bob, "Receipt no. 42 total 9.99", "receipt")
    await _text(service, alice_note, alice, "Lecture notes on thermodynamics", "note")

    await _finds(service, alice, {alice_receipt}, q="receipts")
    await _finds(service, bob, {bob_receipt}, q="receipts")
    # Browsing (no words) and filters are scoped the same way.
    await _finds(service, alice, {alice_receipt, alice_note})
    await _finds(service, bob, {bob_receipt}, document_type="receipt")

    response = await service.search(alice, q="receipts")
    body = response.json()
    assert body["total"] == 1
    (hit,) = body["items"]
    assert hit["filename"] == "IMG_0001.JPG"
    assert hit["taken_at"].startswith("2023-08-14T18:30:00")
    assert any("<em>" in snippet for snippet in hit["highlights"]["text"])
    assert body["facets"]["document_types"] == [{"value": "receipt", "count": 1}]
    assert body["facets"]["years"] == [{"value": "2023", "count": 1}]

    # A typo still finds it; Lucene syntax works on the whitelisted fields.
    await _finds(service, alice, {alice_receipt}, q="reciept")
    await _finds(service, alice, {alice_note}, q="type:note AND thermo*")
    await _finds(service, alice, {alice_receipt}, q='"proof of purchase"')
    # File names: any word of them finds the image; the whole name ranks it first.
    await _finds(service, alice, {alice_receipt, alice_note}, q="img")
    assert (await service.found(alice, q="IMG_0003.JPG"))[0] == alice_note
    # A field outside the whitelist is text: it cannot reach another owner's documents.
    await _finds(service, alice, set(), q=f"owner_id:{bob}")


async def test_every_indexed_part_is_announced(service: SearchService) -> None:
    owner, image = _unique("carol"), _unique("img")
    consumer = AIOKafkaConsumer(
        IMAGES_INDEXED.name,
        bootstrap_servers=service.settings.kafka.bootstrap_servers,
        group_id=_unique("indexed-watcher"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await _upload(service, image, owner, "a.jpg", datetime(2024, 1, 1, tzinfo=UTC))
        await _tag(service, image, owner, "tabby cat")
        await _text(service, image, owner, "", "none")
        parts: set[int] = set()
        deadline = asyncio.get_running_loop().time() + WAIT_S
        while len(parts) < 3 and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    assert record.value is not None
                    event = images_pb2.ImageIndexed.FromString(record.value)
                    if event.image_id == image:
                        assert event.owner_id == owner
                        parts.add(event.part)
    finally:
        await consumer.stop()
    assert parts == {images_pb2.INDEXED_PART_UPLOAD, images_pb2.INDEXED_PART_TAGGING, images_pb2.INDEXED_PART_OCR}
    # Announced means searchable: no waiting needed now.
    assert await service.found(owner, q="cat") == [image]


@pytest.mark.parametrize("q", ["foo AND (", "/rec.*/", "*ceipt", '"unclosed', "a:b:c [x"])
async def test_a_malformed_query_is_a_400_problem(service: SearchService, q: str) -> None:
    response = await service.search(_unique("dave"), q=q)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["detail"]


async def test_a_malformed_cursor_is_a_400_problem(service: SearchService) -> None:
    response = await service.search(_unique("dave"), q="dog", cursor="bm90IGEgY3Vyc29y")
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE


async def test_a_deleted_image_stays_hidden_whatever_arrives_later(service: SearchService) -> None:
    owner, kept, deleted = _unique("erin"), _unique("img"), _unique("img")
    for image in (kept, deleted):
        await _upload(service, image, owner, "dog.jpg", datetime(2024, 2, 2, tzinfo=UTC))
        await _tag(service, image, owner, "golden retriever")
    await _finds(service, owner, {kept, deleted}, q="retriever")

    await service.publisher.publish(
        IMAGES_DELETED, images_pb2.ImageDeleted(image_id=deleted, owner_id=owner), key=deleted
    )
    await _finds(service, owner, {kept}, q="retriever")
    # A late result for the deleted image (another topic, any order) must not bring it back.
    await _tag(service, deleted, owner, "golden retriever", "frisbee")
    await _finds(service, owner, {kept}, q="frisbee OR retriever")
    await asyncio.sleep(1.0)
    assert await service.found(owner, q="frisbee") == []
    assert await service.found(owner) == [kept]


async def test_pages_follow_the_cursor_newest_first(service: SearchService) -> None:
    owner = _unique("frank")
    images = [_unique("img") for _ in range(3)]
    for day, image in enumerate(images, start=1):
        await _upload(service, image, owner, f"{day}.jpg", datetime(2024, 3, day, tzinfo=UTC))
    await _finds(service, owner, set(images))

    first = (await service.search(owner, limit=2)).json()
    assert [hit["image_id"] for hit in first["items"]] == [images[2], images[1]]
    assert first["total"] == 3
    second = (await service.search(owner, limit=2, cursor=first["next_cursor"])).json()
    assert [hit["image_id"] for hit in second["items"]] == [images[0]]
    assert second["next_cursor"] is None


async def test_suggestions_come_from_the_callers_own_values(service: SearchService) -> None:
    grace, heidi = _unique("grace"), _unique("heidi")
    mine, theirs = _unique("img"), _unique("img")
    await _tag(service, mine, grace, "golden retriever", place="Paris")
    await _tag(service, theirs, heidi, "goldfish", place="Porto")
    await _finds(service, grace, {mine}, q="retriever")
    await _finds(service, heidi, {theirs}, q="goldfish")

    async def suggest(user: str, prefix: str) -> list[str]:
        response = await service.http.get("/api/v1/search/suggest", params={"q": prefix}, headers=_auth(user))
        assert response.status_code == 200
        suggestions: list[str] = response.json()["suggestions"]
        return suggestions

    assert await suggest(grace, "gol") == ["golden retriever"]
    assert await suggest(grace, "RETR") == ["golden retriever"]
    assert await suggest(grace, "p") == ["Paris"]
    assert await suggest(heidi, "gol") == ["goldfish"]
    assert await suggest(grace, "(.*") == []


async def test_a_deleted_user_is_removed_from_the_index(service: SearchService) -> None:
    owner, image = _unique("ivan"), _unique("img")
    await _tag(service, image, owner, "lighthouse")
    await _finds(service, owner, {image}, q="lighthouse")
    await service.publisher.publish(USERS_DELETED, users_pb2.UserDeleted(user_id=owner), key=owner)

    async def gone() -> bool:
        client = AsyncOpenSearch(hosts=[service.settings.opensearch.url])
        try:
            body = {"query": {"term": {"owner_id": owner}}}
            response = await client.count(index=service.settings.opensearch.index_alias, body=body)
        finally:
            await client.close()
        return int(response["count"]) == 0

    await _eventually(gone, "the user's documents are deleted")


async def test_readiness_reports_every_dependency(service: SearchService) -> None:
    response = await service.http.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"opensearch": "ok", "kafka": "ok", "consumer": "ok"}
