"""Rebuilding the index from the upload service, against the real servers.

The upload service runs in-process under uvicorn on a free port (real HTTP, its real
lifespan), so search reads its export exactly as in a deployment. Each test uses its own
index alias and users.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from opensearchpy import AsyncOpenSearch
from pydantic import SecretStr

from pixtract.common.config import OpenSearchSettings
from pixtract.common.kafka import EventPublisher
from pixtract.events.topics import IMAGES_TEXT_EXTRACTED
from pixtract.events.v1 import images_pb2
from pixtract.search.adapters.opensearch import ImageIndex
from pixtract.search.app import create_app as create_search_app
from pixtract.search.config import Settings as SearchSettings
from pixtract.search.domain.documents import tagged_document, tombstone_document, uploaded_document
from pixtract.search.domain.results import shape_search_page
from pixtract.search.domain.search import SearchFilters, build_search, resolve_sort
from pixtract.search.reindex import maintenance_for, rebuild_from_upload
from pixtract.upload.app import create_app as create_upload_app
from pixtract.upload.config import Settings as UploadSettings
from tests.integration.search.test_search_service import StubVerifier, _auth
from tests.integration.settings import kafka_settings, mongo_settings, running, s3_settings, started_publisher
from tests.integration.upload.conftest import UserIdVerifier
from tests.integration.upload.test_upload_service import jpeg

pytestmark = pytest.mark.integration

TOKEN = SecretStr("internal-token-for-tests-0123456789abcdef")
WAIT_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class UploadService:
    url: str
    http: httpx.AsyncClient
    publisher: EventPublisher

    async def upload(self, owner: str, name: str, seed: int) -> str:
        files = [("files", (name, jpeg(seed), "image/jpeg"))]
        response = await self.http.post("/api/v1/images", files=files, headers={"Authorization": f"Bearer {owner}"})
        assert response.status_code == 201, response.text
        image_id: str = response.json()["images"][0]["id"]
        return image_id

    async def image(self, owner: str, image_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/images/{image_id}", headers={"Authorization": f"Bearer {owner}"})
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module")
async def upload_service(lite_servers: Any) -> AsyncIterator[UploadService]:
    """The upload service with an internal token, serving real HTTP on a free port."""
    suffix = uuid.uuid4().hex[:8]
    settings = UploadSettings(
        kafka=kafka_settings(lite_servers),
        mongo=mongo_settings(lite_servers, database=f"media-reindex-{suffix}"),
        s3=s3_settings(lite_servers, bucket=f"reindex-test-{suffix}"),
        outbox_sweep_seconds=0.2,
        internal_token=TOKEN,
    )
    app = create_upload_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    app.state.token_verifier = UserIdVerifier()
    url = f"http://127.0.0.1:{port}"
    try:
        async with (
            started_publisher(settings.kafka, client_id="reindex-it") as publisher,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            yield UploadService(url, http, publisher)
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
async def opensearch(lite_servers: Any) -> AsyncIterator[AsyncOpenSearch]:
    client = AsyncOpenSearch(hosts=[lite_servers.opensearch_url])
    yield client
    await client.close()


def _search_settings(lite_servers: Any, upload_url: str, **overrides: Any) -> SearchSettings:
    suffix = uuid.uuid4().hex[:8]
    return SearchSettings(
        service_name=f"search-reindex-{suffix}",
        kafka=kafka_settings(lite_servers),
        opensearch=OpenSearchSettings(url=lite_servers.opensearch_url, index_alias=f"images-reindex-{suffix}"),
        index_replicas=0,
        upload_url=upload_url,
        internal_token=TOKEN,
        reindex_page_size=1,
        reindex_grace_seconds=0.1,
        **overrides,
    )


async def _found(index: ImageIndex, owner: str, q: str = "") -> set[str]:
    order = resolve_sort(q, None)
    request = build_search(owner, q, SearchFilters(), limit=100, sort=order)
    page = shape_search_page(await index.search(request), 100, order)
    return {hit.image_id for hit in page.items}


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f} s: {what}")
        await asyncio.sleep(0.2)


def _uploaded_event(image_id: str, owner: str, filename: str) -> images_pb2.ImageUploaded:
    event = images_pb2.ImageUploaded(image_id=image_id, owner_id=owner, filename=filename)
    event.uploaded_at.FromDatetime(datetime.now(UTC))
    return event


async def test_a_rebuild_loads_upload_records_keeps_writes_made_meanwhile_and_swaps_the_alias(
    lite_servers: Any, upload_service: UploadService, opensearch: AsyncOpenSearch
) -> None:
    alice = f"alice-{uuid.uuid4().hex[:8]}"
    beach = await upload_service.upload(alice, "beach.jpg", 1)
    receipt = await upload_service.upload(alice, "receipt.jpg", 2)
    cat = await upload_service.upload(alice, "cat.jpg", 3)
    text = images_pb2.TextExtracted(
        image_id=receipt, owner_id=alice, content="CORNER SHOP total 9.99", document_type="receipt"
    )
    await upload_service.publisher.publish(IMAGES_TEXT_EXTRACTED, text, key=receipt)

    async def ocr_stored() -> bool:
        return bool((await upload_service.image(alice, receipt))["stages"]["ocr"] == "done")

    await _eventually(ocr_stored, "the OCR result stored by upload")

    settings = _search_settings(lite_servers, upload_service.url)
    index = ImageIndex(opensearch, settings.opensearch.index_alias)
    maintenance = maintenance_for(opensearch, settings)
    await index.ensure_index()
    # The old index: a document upload knows nothing of, and the tombstone of an old deletion.
    await index.upsert(uploaded_document(_uploaded_event("ghost", alice, "ghost.jpg")))
    old_deletion = images_pb2.ImageDeleted(image_id="deleted-long-ago", owner_id=alice)
    await index.upsert(tombstone_document(old_deletion))
    (old_index,) = await maintenance.live_indexes()
    late = f"late-{uuid.uuid4().hex[:8]}"
    during: dict[str, set[str]] = {}

    class ConsumersWriteMeanwhile(httpx.AsyncClient):
        """The export as search reads it; while the rebuild is under way, the consumers index events."""

        pages = 0

        async def get(self, url: Any, **kwargs: Any) -> httpx.Response:
            response = await super().get(url, **kwargs)
            ConsumersWriteMeanwhile.pages += 1
            if ConsumersWriteMeanwhile.pages == 2:
                # Tagging the upload service has not stored yet, a deletion, a new upload.
                sandcastle = images_pb2.ImageTagged(image_id=beach, owner_id=alice, model_version="tag@2")
                sandcastle.labels.add(name="sandcastle", confidence=0.9)
                await index.upsert(tagged_document(sandcastle))
                await index.upsert(tombstone_document(images_pb2.ImageDeleted(image_id=cat, owner_id=alice)))
                await index.upsert(uploaded_document(_uploaded_event(late, alice, "late.jpg")))
                during["browse"] = await _found(index, alice)
            return response

    async with ConsumersWriteMeanwhile() as http:
        report = await rebuild_from_upload(opensearch, http, settings)

    # Searches went on against the old index (which got the consumers' writes too) while the new one filled.
    assert during["browse"] == {"ghost", beach, late}
    assert report.replaced == [old_index]
    assert await maintenance.live_indexes() == [report.index]
    assert report.index != old_index
    assert await maintenance.unfinished_rebuild() is None
    assert not await opensearch.indices.exists(index=old_index)
    assert report.documents >= 3
    assert report.tombstones >= 2

    # Upload's records, plus everything written meanwhile; the ghost is gone, deletions stay deleted.
    assert await _found(index, alice) == {beach, receipt, late}
    assert await _found(index, alice, "sandcastle") == {beach}
    assert await _found(index, alice, "corner shop") == {receipt}
    assert await _found(index, alice, "beach") == {beach}
    assert await _found(index, alice, "cat") == set()
    cat_doc = await opensearch.get(index=settings.opensearch.index_alias, id=cat, routing=alice)
    assert cat_doc["_source"]["deleted"] is True
    assert cat_doc["_source"]["filename"] is None
    assert (await opensearch.get(index=report.index, id="deleted-long-ago", routing=alice))["_source"]["deleted"]


async def test_a_second_rebuild_while_one_runs_is_refused_and_leaves_it_alone(
    lite_servers: Any, upload_service: UploadService, opensearch: AsyncOpenSearch
) -> None:
    from pixtract.search.adapters.opensearch import RebuildInProgress

    carol = f"carol-{uuid.uuid4().hex[:8]}"
    await upload_service.upload(carol, "river.jpg", 5)
    settings = _search_settings(lite_servers, upload_service.url)
    index = ImageIndex(opensearch, settings.opensearch.index_alias)
    maintenance = maintenance_for(opensearch, settings)
    await index.ensure_index()
    running = await maintenance.start_rebuild()
    async with httpx.AsyncClient() as http:
        with pytest.raises(RebuildInProgress):
            await rebuild_from_upload(opensearch, http, settings)
        assert await maintenance.unfinished_rebuild() == running
        # A crashed rebuild's index is dropped on request, then the rebuild goes through.
        report = await rebuild_from_upload(opensearch, http, settings, discard_unfinished=True)
    assert await maintenance.live_indexes() == [report.index]
    assert await maintenance.unfinished_rebuild() is None
    assert len(await _found(index, carol, "river")) == 1


async def test_the_service_refills_an_empty_or_lost_index_from_upload(
    lite_servers: Any, upload_service: UploadService, opensearch: AsyncOpenSearch
) -> None:
    bob = f"bob-{uuid.uuid4().hex[:8]}"
    mountain = await upload_service.upload(bob, "mountain.jpg", 4)
    settings = _search_settings(lite_servers, upload_service.url, reindex_on_empty_index=True)
    alias = settings.opensearch.index_alias
    async with running(create_search_app(settings)) as app:
        app.state.token_verifier = StubVerifier()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://search") as http:

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            async def finds_mountain() -> bool:
                response = await http.get("/api/v1/search", params={"q": "mountain"}, headers=_auth(bob))
                return [hit["image_id"] for hit in response.json()["items"]] == [mountain]

            # The index was empty at start: rebuilt from upload before the service says ready.
            await _eventually(ready, "ready after the first rebuild")
            assert await maintenance_for(opensearch, settings).live_indexes() == [f"{alias}-v2"]
            await _eventually(finds_mountain, "the image found after the first rebuild")

            # OpenSearch loses everything (osmem restarted); the consumers' offsets are long
            # committed, so only a rebuild can bring the image back.
            await opensearch.indices.delete(index=f"{alias}-v*")
            await http.get("/api/v1/search", params={"q": "mountain"}, headers=_auth(bob))
            await _eventually(finds_mountain, "the image found again after the index was lost")
            await _eventually(ready, "ready after the second rebuild")
            # Recreated empty as -v1, then rebuilt into -v2 and swapped.
            assert await maintenance_for(opensearch, settings).live_indexes() == [f"{alias}-v2"]
