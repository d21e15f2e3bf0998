"""GET and PATCH /api/v1/categories in process: caller scoping, validation, problem documents."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pixtract.common.auth import USER_SCOPES, Principal, current_principal
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.tagging.app import create_app
from pixtract.tagging.config import Settings
from pixtract.tagging.domain.categories import CategoryCount, StoreUnavailable
from tests.unit.tagging.fakes import InMemoryCategoryStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def client(store: InMemoryCategoryStore) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    # ASGITransport sends no lifespan events: nothing connects; the test supplies the store
    # and the caller (the token check itself is pixtract.common's, tested there).
    app.state.category_store = store

    app.dependency_overrides[current_principal] = lambda: Principal(user_id="alice", scopes=USER_SCOPES)
    store.add("a-old", "alice", ("Animals", "Beach"), T0)
    store.add("a-new", "alice", ("Animals",), T0 + timedelta(days=2))
    store.add("a-food", "alice", ("Food & Drink",), T0 + timedelta(days=1))
    store.add("b-1", "bob", ("Animals", "Cars"), T0 + timedelta(days=5))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tagging") as http:
        yield http


async def test_lists_only_the_callers_categories_largest_first(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/categories")
    assert response.status_code == 200
    assert response.json() == {
        "items": [
            {"id": "animals", "name": "Animals", "suggested_name": "Animals", "count": 2, "cover_image_id": "a-new"},
            {"id": "beach", "name": "Beach", "suggested_name": "Beach", "count": 1, "cover_image_id": "a-old"},
            {
                "id": "food-drink",
                "name": "Food & Drink",
                "suggested_name": "Food & Drink",
                "count": 1,
                "cover_image_id": "a-food",
            },
        ]
    }


async def test_rename_is_stripped_kept_for_the_caller_only(
    client: httpx.AsyncClient, store: InMemoryCategoryStore
) -> None:
    response = await client.patch("/api/v1/categories/animals", json={"name": "  My pets "})
    assert response.status_code == 200
    assert response.json() == {
        "id": "animals",
        "name": "My pets",
        "suggested_name": "Animals",
        "count": 2,
        "cover_image_id": "a-new",
    }
    listed = (await client.get("/api/v1/categories")).json()["items"]
    assert listed[0]["name"] == "My pets"
    assert await store.renames("bob") == {}


async def test_renaming_back_to_the_suggestion_drops_the_rename(
    client: httpx.AsyncClient, store: InMemoryCategoryStore
) -> None:
    await client.patch("/api/v1/categories/beach", json={"name": "Seaside"})
    response = await client.patch("/api/v1/categories/beach", json={"name": "Beach"})
    assert response.json()["name"] == "Beach"
    assert await store.renames("alice") == {}


@pytest.mark.parametrize("category", ["cars", "no-such-category"])
async def test_another_users_category_and_a_missing_one_are_both_404(client: httpx.AsyncClient, category: str) -> None:
    response = await client.patch(f"/api/v1/categories/{category}", json={"name": "Mine now"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["status"] == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "    "},
        {"name": "x" * 65},
        {"name": "tab\there"},
        {"name": 42},
        {},
        {"name": "ok", "colour": "red"},
    ],
)
async def test_invalid_names_are_422_problems(client: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await client.patch("/api/v1/categories/animals", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["errors"]


async def test_sixty_four_characters_are_allowed(client: httpx.AsyncClient) -> None:
    response = await client.patch("/api/v1/categories/animals", json={"name": "é" * 64})
    assert response.status_code == 200
    assert response.json()["name"] == "é" * 64


async def test_a_store_outage_is_a_503_problem(
    client: httpx.AsyncClient, store: InMemoryCategoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unavailable(owner_id: str) -> list[CategoryCount]:
        raise StoreUnavailable("mongo gone")

    monkeypatch.setattr(store, "count_categories", unavailable)
    response = await client.get("/api/v1/categories")
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.headers["retry-after"] == "5"


async def test_without_a_token_the_api_answers_401() -> None:
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tagging") as http:
        response = await http.get("/api/v1/categories")
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
