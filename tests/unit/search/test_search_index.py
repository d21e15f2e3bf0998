"""The index adapter's decisions, against a fake client: creation races, errors, routing."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from pixtract.search.adapters.opensearch import DocumentRejected, ImageIndex, IndexUnavailable
from pixtract.search.domain.query_string import QueryError
from pixtract.search.domain.search import OwnerScopedSearch


class FakeIndices:
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}
        self.created: list[str] = []
        self.create_failure: Exception | None = None

    async def exists_alias(self, name: str) -> bool:
        return name in self.aliases

    async def create(self, index: str, body: dict[str, Any]) -> None:
        if self.create_failure is not None:
            raise self.create_failure
        self.created.append(index)
        for alias in body["aliases"]:
            self.aliases[alias] = index

    async def put_alias(self, index: str, name: str) -> None:
        self.aliases[name] = index


class FakeClient:
    def __init__(self) -> None:
        self.indices = FakeIndices()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.failures: list[Exception] = []

    def _call(self, name: str, kwargs: dict[str, Any]) -> None:
        target = kwargs.get("index", "")
        if target.endswith("-rebuild") and target not in self.indices.aliases:
            # What OpenSearch answers when no rebuild runs: require_alias finds no such alias.
            raise NotFoundError(404, "index_not_found_exception", {})
        self.calls.append((name, kwargs))
        if self.failures:
            raise self.failures.pop(0)

    async def update(self, **kwargs: Any) -> dict[str, Any]:
        self._call("update", kwargs)
        return {"result": "updated"}

    async def search(self, **kwargs: Any) -> dict[str, Any]:
        self._call("search", kwargs)
        return {"hits": {"hits": []}}

    async def delete_by_query(self, **kwargs: Any) -> dict[str, Any]:
        self._call("delete_by_query", kwargs)
        return {"deleted": 3}


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def index(client: FakeClient) -> ImageIndex:
    return ImageIndex(client, "pixtract-images")  # type: ignore[arg-type]


async def test_the_versioned_index_is_created_once(index: ImageIndex, client: FakeClient) -> None:
    await index.ensure_index()
    await index.ensure_index()
    assert client.indices.created == ["pixtract-images-v1"]
    assert client.indices.aliases == {"pixtract-images": "pixtract-images-v1"}


async def test_losing_the_creation_race_to_another_replica_is_fine(index: ImageIndex, client: FakeClient) -> None:
    client.indices.create_failure = RequestError(400, "resource_already_exists_exception", {})
    await index.ensure_index()
    assert client.indices.aliases == {"pixtract-images": "pixtract-images-v1"}


async def test_other_creation_errors_are_raised(index: ImageIndex, client: FakeClient) -> None:
    client.indices.create_failure = RequestError(400, "invalid_alias_name_exception", {})
    with pytest.raises(RequestError):
        await index.ensure_index()


async def test_a_write_is_routed_by_owner_waits_for_refresh_and_needs_the_alias(
    index: ImageIndex, client: FakeClient
) -> None:
    await index.upsert({"image_id": "img-1", "owner_id": "u1", "filename": "a.jpg"})
    ((name, kwargs),) = client.calls
    assert name == "update"
    assert kwargs["index"] == "pixtract-images"
    assert kwargs["id"] == "img-1"
    assert kwargs["routing"] == "u1"
    assert kwargs["refresh"] == "wait_for"
    assert kwargs["require_alias"] is True
    assert kwargs["body"] == {
        "doc": {"image_id": "img-1", "owner_id": "u1", "filename": "a.jpg"},
        "doc_as_upsert": True,
    }


async def test_a_vanished_index_is_created_again_before_the_write(index: ImageIndex, client: FakeClient) -> None:
    client.failures = [NotFoundError(404, "index_not_found_exception", {})]
    await index.upsert({"image_id": "img-1", "owner_id": "u1"})
    assert client.indices.created == ["pixtract-images-v1"]
    assert [name for name, _ in client.calls] == ["update", "update"]


@pytest.mark.parametrize(
    "failure",
    [
        OpenSearchConnectionError("N/A", "connection refused", None),
        TransportError(503, "unavailable", {}),
        TransportError(429, "too_many_requests", {}),
        TransportError(403, "security_exception", {}),
    ],
)
async def test_opensearch_down_or_refusing_us_is_unavailable(
    index: ImageIndex, client: FakeClient, failure: Exception
) -> None:
    client.failures = [failure]
    with pytest.raises(IndexUnavailable):
        await index.upsert({"image_id": "img-1", "owner_id": "u1"})


async def test_a_document_the_mapping_refuses_is_rejected(index: ImageIndex, client: FakeClient) -> None:
    info = {"error": {"type": "mapper_parsing_exception", "reason": "failed to parse field [faces]"}}
    client.failures = [RequestError(400, "mapper_parsing_exception", info)]
    with pytest.raises(DocumentRejected, match="faces"):
        await index.upsert({"image_id": "img-1", "owner_id": "u1"})


async def test_a_search_is_routed_to_its_owner(index: ImageIndex, client: FakeClient) -> None:
    request = OwnerScopedSearch("u1", {"match_all": {}})
    await index.search(request)
    ((_, kwargs),) = client.calls
    assert kwargs["routing"] == "u1"
    assert kwargs["body"] == request.body()


async def test_a_search_opensearch_cannot_parse_is_a_query_error(index: ImageIndex, client: FakeClient) -> None:
    info = {"error": {"reason": "all shards failed", "caused_by": {"reason": "Cannot parse 'a AND (': EOF"}}}
    client.failures = [RequestError(400, "search_phase_execution_exception", info)]
    with pytest.raises(QueryError, match="Cannot parse 'a AND \\('"):
        await index.search(OwnerScopedSearch("u1", {"match_all": {}}))


async def test_a_users_documents_are_deleted_on_their_routing(index: ImageIndex, client: FakeClient) -> None:
    assert await index.delete_owner("u1") == 3
    ((_, kwargs),) = client.calls
    assert kwargs["routing"] == "u1"
    assert kwargs["body"] == {"query": {"term": {"owner_id": "u1"}}}


async def test_while_a_rebuild_runs_every_write_reaches_its_index_first(index: ImageIndex, client: FakeClient) -> None:
    client.indices.aliases["pixtract-images-rebuild"] = "pixtract-images-v2"
    await index.upsert({"image_id": "img-1", "owner_id": "u1"})
    assert [(kwargs["index"], kwargs["refresh"]) for _, kwargs in client.calls] == [
        ("pixtract-images-rebuild", False),
        ("pixtract-images", "wait_for"),
    ]
    assert all(kwargs["require_alias"] is True and kwargs["routing"] == "u1" for _, kwargs in client.calls)


async def test_while_a_rebuild_runs_a_users_documents_are_deleted_from_both(
    index: ImageIndex, client: FakeClient
) -> None:
    client.indices.aliases["pixtract-images-rebuild"] = "pixtract-images-v2"
    await index.delete_owner("u1")
    assert [kwargs["index"] for _, kwargs in client.calls] == ["pixtract-images-rebuild", "pixtract-images"]


async def test_an_index_created_from_nothing_is_reported_once(client: FakeClient) -> None:
    created: list[bool] = []
    index = ImageIndex(client, "pixtract-images", on_created=lambda: created.append(True))  # type: ignore[arg-type]
    await index.ensure_index()
    await index.ensure_index()
    assert created == [True]


async def test_an_index_another_replica_created_is_not_reported(client: FakeClient) -> None:
    created: list[bool] = []
    index = ImageIndex(client, "pixtract-images", on_created=lambda: created.append(True))  # type: ignore[arg-type]
    client.indices.create_failure = RequestError(400, "resource_already_exists_exception", {})
    await index.ensure_index()
    assert created == []


async def test_a_document_the_rebuilt_index_refuses_still_reaches_the_live_one(
    index: ImageIndex, client: FakeClient
) -> None:
    client.indices.aliases["pixtract-images-rebuild"] = "pixtract-images-v2"
    client.failures = [RequestError(400, "mapper_parsing_exception", {})]
    await index.upsert({"image_id": "img-1", "owner_id": "u1"})
    assert [kwargs["index"] for _, kwargs in client.calls] == ["pixtract-images-rebuild", "pixtract-images"]
