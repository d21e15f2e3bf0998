"""POST /api/v1/images/known-hashes in process: the caller's live images only, validated input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from pixtract.common.auth import Principal, current_principal
from pixtract.common.errors import PROBLEM_CONTENT_TYPE
from pixtract.upload.app import create_app
from pixtract.upload.config import Settings

PATH = "/api/v1/images/known-hashes"
A, B, C = "a" * 64, "b" * 64, "0123456789abcdef" * 4


class FakeImages:
    """Live images by (owner, sha256); deleted images are simply not here, as the query excludes them."""

    def __init__(self) -> None:
        self.live: dict[tuple[str, str], str] = {}
        self.asked: list[list[str]] = []

    async def live_ids_by_sha256(self, owner_id: str, sha256s: list[str]) -> dict[str, str]:
        self.asked.append(sha256s)
        return {sha256: self.live[(owner_id, sha256)] for sha256 in sha256s if (owner_id, sha256) in self.live}


@pytest.fixture
def images() -> FakeImages:
    fake = FakeImages()
    fake.live[("alice", A)] = "img-a"
    fake.live[("alice", C)] = "img-c"
    fake.live[("bob", B)] = "img-b"
    return fake


@pytest.fixture
async def client(images: FakeImages) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    # ASGITransport sends no lifespan events: nothing connects; the test supplies the records and the caller.
    app.state.images = images
    app.dependency_overrides[current_principal] = lambda: Principal(
        user_id="alice", scopes=frozenset({"images:read", "images:write"})
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload") as http:
        yield http


async def test_answers_the_callers_known_hashes_in_the_order_asked(
    client: httpx.AsyncClient, images: FakeImages
) -> None:
    response = await client.post(PATH, json={"sha256": [C, B, A, C]})
    assert response.status_code == 200
    # B belongs to bob: for alice it is as unknown as a hash nobody has.
    assert response.json() == {"known": [{"sha256": C, "id": "img-c"}, {"sha256": A, "id": "img-a"}]}
    assert images.asked == [[C, B, A]]


async def test_nothing_known_is_an_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.post(PATH, json={"sha256": [B]})
    assert response.status_code == 200
    assert response.json() == {"known": []}


@pytest.mark.parametrize(
    "body",
    [
        {"sha256": []},
        {"sha256": [A.upper()]},
        {"sha256": [A[:63]]},
        {"sha256": [A + "a"]},
        {"sha256": ["g" * 64]},
        {"sha256": [A + "\n"]},
        {"sha256": [12]},
        {"sha256": A},
        {"sha256": [A] * 1001},
        {},
    ],
    ids=["empty", "uppercase", "short", "long", "not-hex", "newline", "number", "not-a-list", "too-many", "missing"],
)
async def test_malformed_requests_are_422_problems(
    client: httpx.AsyncClient, images: FakeImages, body: dict[str, object]
) -> None:
    response = await client.post(PATH, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["errors"]
    assert images.asked == []


async def test_a_thousand_hashes_are_accepted(client: httpx.AsyncClient) -> None:
    hashes = [f"{n:064x}" for n in range(1000)]
    response = await client.post(PATH, json={"sha256": hashes})
    assert response.status_code == 200


async def test_the_route_needs_a_credential() -> None:
    app = create_app(Settings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload") as http:
        response = await http.post(PATH, json={"sha256": [A]})
    assert response.status_code == 401


async def test_the_route_needs_the_read_scope(images: FakeImages) -> None:
    app = create_app(Settings())
    app.state.images = images
    app.dependency_overrides[current_principal] = lambda: Principal(
        user_id="alice", scopes=frozenset({"images:write"}), via="api_key"
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload") as http:
        response = await http.post(PATH, json={"sha256": [A]})
    assert response.status_code == 403
    assert images.asked == []


def test_the_route_is_described() -> None:
    operation = create_app(Settings()).openapi()["paths"][PATH]["post"]
    assert operation["description"].startswith("Which of these SHA-256 hashes")
    assert "200" in operation["responses"]
