"""POST /api/v1/images/known-hashes through the ingress: the caller's live images only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.client import PixtractClient, photo_jpeg

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def test_known_hashes_are_the_callers_live_images(client: PixtractClient, stack: Any) -> None:
    client.sign_up()
    mine, theirs = photo_jpeg(21), photo_jpeg(22)
    uploaded = client.upload(("mine.jpg", mine, "image/jpeg"))
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["images"][0]["id"]
    other = PixtractClient(stack.base_url)
    try:
        other.sign_up()
        assert other.upload(("theirs.jpg", theirs, "image/jpeg")).status_code == 201
    finally:
        other.close()
    mine_sha, theirs_sha = hashlib.sha256(mine).hexdigest(), hashlib.sha256(theirs).hexdigest()

    def ask(hashes: list[str]) -> Any:
        return client.http.post("/api/v1/images/known-hashes", json={"sha256": hashes}, headers=client.auth)

    answer = ask([theirs_sha, mine_sha, "0" * 64])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"known": [{"sha256": mine_sha, "id": image_id}]}

    invalid = ask([mine_sha.upper()])
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert client.http.post("/api/v1/images/known-hashes", json={"sha256": [mine_sha]}).status_code == 401

    assert client.http.delete(f"/api/v1/images/{image_id}", headers=client.auth).status_code == 204
    assert ask([mine_sha]).json() == {"known": []}
