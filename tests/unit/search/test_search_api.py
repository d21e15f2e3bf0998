"""The search routes in-process: the caller's id from the token, problems for bad input, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy.exceptions import RequestError

from pixtract.common.auth import USER_SCOPES, AuthenticationError, Principal
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.common.http import create_service_app
from pixtract.search.adapters.opensearch import IndexUnavailable, error_reason
from pixtract.search.api.search import router
from pixtract.search.config import Settings
from pixtract.search.domain.cursor import encode_cursor
from pixtract.search.domain.query_string import QueryError
from pixtract.search.domain.search import OwnerScopedSearch

TOKENS = {"token-alice": "alice", "token-bob": "bob"}
ALICE = {"Authorization": "Bearer token-alice"}


class FakeVerifier:
    async def verify(self, credential: str) -> Principal:
        if credential not in TOKENS:
            raise AuthenticationError("invalid token")
        return Principal(user_id=TOKENS[credential], scopes=USER_SCOPES)


class FakeIndex:
    def __init__(self) -> None:
        self.requests: list[OwnerScopedSearch] = []
        self.response: dict[str, Any] = {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {}}
        self.failure: Exception | None = None

    async def search(self, request: OwnerScopedSearch) -> dict[str, Any]:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        return self.response


@pytest.fixture
def index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def client(index: FakeIndex) -> Iterator[TestClient]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.image_index = index
        app.state.token_verifier = FakeVerifier()
        yield

    app = create_service_app(Settings(), title="search", lifespan=lifespan, routers=[router])
    with TestClient(app) as test_client:
        yield test_client


def test_results_are_scoped_to_the_caller_from_the_token(client: TestClient, index: FakeIndex) -> None:
    index.response = {
        "hits": {
            "total": {"value": 1},
            "hits": [
                {
                    "_id": "img-1",
                    "_score": 1.2,
                    "_source": {"image_id": "img-1", "filename": "r.jpg", "labels": [], "categories": []},
                    "highlight": {"text": ["a <em>receipt</em>"]},
                    "sort": [1.2, 1, "img-1"],
                }
            ],
        },
        "aggregations": {"document_types": {"buckets": [{"key": "receipt", "doc_count": 1}]}},
    }
    response = client.get("/api/v1/search", params={"q": "receipts", "owner_id": "bob"}, headers=ALICE)
    assert response.status_code == 200
    assert response.json() == {
        "total": 1,
        "items": [
            {
                "image_id": "img-1",
                "score": 1.2,
                "filename": "r.jpg",
                "labels": [],
                "categories": [],
                "taken_at": None,
                "highlights": {"text": ["a <em>receipt</em>"], "labels": []},
            }
        ],
        "facets": {
            "categories": [],
            "labels": [],
            "places": [],
            "years": [],
            "document_types": [{"value": "receipt", "count": 1}],
        },
        "next_cursor": None,
    }
    (request,) = index.requests
    assert request.owner_id == "alice"
    assert request.routing == "alice"


def test_filters_and_paging_reach_the_request(client: TestClient, index: FakeIndex) -> None:
    params = {
        "category": "Food",
        "label": "pizza",
        "place": "Rome",
        "document_type": "receipt",
        "from": "2024-01-01",
        "to": "2024-06-30T12:00:00Z",
        "limit": "5",
        "cursor": encode_cursor([1, "img-1"], sort="newest"),
    }
    assert client.get("/api/v1/search", params=params, headers=ALICE).status_code == 200
    body = index.requests[0].body()
    assert body["size"] == 6
    assert body["search_after"] == [1, "img-1"]
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"categories.keyword": "Food"}} in filters
    assert {"range": {"effective_date": {"gte": "2024-01-01T00:00:00+00:00", "lte": "2024-06-30T12:00:00+00:00"}}} in (
        filters
    )


def test_suggestions_are_scoped_to_the_caller(client: TestClient, index: FakeIndex) -> None:
    index.response = {"aggregations": {"labels": {"buckets": [{"key": "dog", "doc_count": 2}]}}}
    response = client.get("/api/v1/search/suggest", params={"q": "do"}, headers={"Authorization": "Bearer token-bob"})
    assert response.status_code == 200
    assert response.json() == {"suggestions": ["dog"]}
    assert index.requests[0].owner_id == "bob"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("q", "message"),
    [("/rec.*/", "Regular expressions"), ("*ceipt", "wildcard"), ('"open', "quotation mark")],
)
def test_refused_syntax_is_a_400_before_opensearch_is_asked(
    client: TestClient, index: FakeIndex, q: str, message: str
) -> None:
    body = _problem(client.get("/api/v1/search", params={"q": q}, headers=ALICE), 400)
    assert message in body["detail"]
    assert body["type"].endswith("/invalid-query")
    assert index.requests == []


def test_a_parse_error_from_opensearch_is_a_400_with_its_reason(client: TestClient, index: FakeIndex) -> None:
    info = {
        "error": {
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "caused_by": {
                "type": "query_shard_exception",
                "reason": "Failed to parse query [foo AND (]",
                "caused_by": {
                    "type": "parse_exception",
                    "reason": "Cannot parse 'foo AND (': Encountered \"<EOF>\" at line 1, column 9.",
                    "caused_by": {"type": "parse_exception", "reason": 'Encountered "<EOF>" at line 1, column 9.'},
                },
            },
        },
        "status": 400,
    }
    exc = RequestError(400, "search_phase_execution_exception", info)
    assert error_reason(exc).startswith("Cannot parse 'foo AND ('")
    index.failure = QueryError(f"The query could not be understood: {error_reason(exc)}")
    body = _problem(client.get("/api/v1/search", params={"q": "foo AND ("}, headers=ALICE), 400)
    assert "Cannot parse" in body["detail"]


def test_a_malformed_cursor_is_a_400(client: TestClient) -> None:
    body = _problem(client.get("/api/v1/search", params={"cursor": "garbage!"}, headers=ALICE), 400)
    assert body["type"].endswith("/invalid-cursor")


def test_from_after_to_is_a_400(client: TestClient) -> None:
    params = {"from": "2024-02-01", "to": "2024-01-01"}
    _problem(client.get("/api/v1/search", params=params, headers=ALICE), 400)


@pytest.mark.parametrize(
    "params", [{"limit": "0"}, {"limit": "101"}, {"limit": "many"}, {"from": "yesterday"}, {"q": "x" * 501}]
)
def test_invalid_parameters_are_validation_problems(client: TestClient, params: dict[str, str]) -> None:
    body = _problem(client.get("/api/v1/search", params=params, headers=ALICE), 422)
    assert body["errors"]


def test_opensearch_down_is_a_503_with_retry_after(client: TestClient, index: FakeIndex) -> None:
    index.failure = IndexUnavailable("connection refused")
    response = client.get("/api/v1/search", params={"q": "dog"}, headers=ALICE)
    _problem(response, 503)
    assert response.headers["retry-after"] == "5"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer forged"}, {"Authorization": "Basic abc"}])
def test_no_valid_token_no_search(client: TestClient, index: FakeIndex, headers: dict[str, str]) -> None:
    _problem(client.get("/api/v1/search", params={"q": "dog"}, headers=headers), 401)
    _problem(client.get("/api/v1/search/suggest", params={"q": "do"}, headers=headers), 401)
    assert index.requests == []


def test_the_sort_parameter_reaches_the_request_and_its_cursor(client: TestClient, index: FakeIndex) -> None:
    index.response = {
        "hits": {"total": 2, "hits": [{"_id": f"img-{n}", "_source": {}, "sort": [n, f"img-{n}"]} for n in (1, 2)]}
    }
    response = client.get("/api/v1/search", params={"q": "dog", "sort": "oldest", "limit": "1"}, headers=ALICE)
    assert response.status_code == 200
    assert index.requests[0].body()["sort"][0] == {"effective_date": {"order": "asc", "missing": "_last"}}
    cursor = response.json()["next_cursor"]
    same_sort = client.get("/api/v1/search", params={"q": "dog", "sort": "oldest", "cursor": cursor}, headers=ALICE)
    other_sort = client.get("/api/v1/search", params={"q": "dog", "sort": "newest", "cursor": cursor}, headers=ALICE)
    assert (same_sort.status_code, other_sort.status_code) == (200, 400)


def test_an_unknown_sort_is_a_validation_problem(client: TestClient) -> None:
    _problem(client.get("/api/v1/search", params={"sort": "random"}, headers=ALICE), 422)
