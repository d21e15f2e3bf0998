"""The walking skeleton, through the ingress: register → upload → tagged + OCR'd → ready →
searchable → download byte for byte → delete → gone everywhere."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.client import PixtractClient, text_png

pytestmark = pytest.mark.e2e

WORD = "lighthouse"


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def _eventually(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.25)


def test_upload_to_search_to_delete(client: PixtractClient, stack: Any) -> None:
    client.sign_up()
    png = text_png(["Lighthouse keeper notes", "Invoice total 42.50 EUR"])

    uploaded = client.upload(("notes.png", png, "image/png"))
    assert uploaded.status_code == 201, uploaded.text
    [summary] = uploaded.json()["images"]
    assert summary["filename"] == "notes.png"
    assert summary["content_type"] == "image/png"
    assert summary["size"] == len(png)
    assert summary["state"] == "processing"
    image_id = summary["id"]

    image = client.wait_ready(image_id)
    assert (image["width"], image["height"]) == (900, 320)
    assert image["camera"] == {"make": "Pixtract Labs", "model": "E2E Camera"}
    assert image["stages"] == {"tagging": "done", "ocr": "done", "search": "done"}
    assert image["colors"], "dominant colours are computed"
    assert abs(sum(c["fraction"] for c in image["colors"]) - 1.0) < 0.05
    assert WORD in image["text"]["content"].lower()
    assert any("42.50" in line["text"] for line in image["text"]["lines"])

    assert image_id in client.search_ids(WORD)
    assert image_id in client.search_ids("invoice AND total")
    assert client.search_ids("zeppelin") == []

    listing = client.http.get("/api/v1/images", headers=client.auth).json()
    assert [item["id"] for item in listing["items"]] == [image_id]

    content = client.http.get(f"/api/v1/images/{image_id}/content", headers=client.auth, follow_redirects=True)
    assert content.status_code == 200
    assert content.content == png
    assert content.headers["content-type"] == "image/png"

    again = client.upload(("copy.png", png, "image/png"))
    assert again.status_code == 201
    assert again.json()["images"][0]["id"] == image_id
    assert again.json()["images"][0]["duplicate"] is True

    assert client.http.delete(f"/api/v1/images/{image_id}", headers=client.auth).status_code == 204
    assert client.image(image_id).status_code == 404
    assert client.http.get(f"/api/v1/images/{image_id}/content", headers=client.auth).status_code == 404
    assert client.http.get("/api/v1/images", headers=client.auth).json()["items"] == []
    _eventually(lambda: client.search_ids(WORD) == [])
    if stack.handle is not None:
        assert stack.handle.s3_keys(f"originals/{summary_owner(client)}/") == []


def summary_owner(client: PixtractClient) -> str:
    return str(client.http.get("/api/v1/auth/me", headers=client.auth).json()["id"])


def test_requests_without_a_token_are_refused(client: PixtractClient) -> None:
    for method, path in [("GET", "/api/v1/images"), ("GET", "/api/v1/search?q=x"), ("GET", "/api/v1/categories")]:
        response = client.http.request(method, path)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


def test_internal_and_service_paths_are_not_routed(client: PixtractClient) -> None:
    for path in ["/internal/v1/api-keys/introspect", "/readyz", "/metrics", "/openapi.json"]:
        assert client.http.get(path).status_code == 404, path


def test_another_users_image_is_not_found(client: PixtractClient, stack: Any) -> None:
    client.sign_up()
    uploaded = client.upload(("mine.png", text_png(["private"]), "image/png"))
    image_id = uploaded.json()["images"][0]["id"]
    other = PixtractClient(stack.base_url)
    try:
        other.sign_up()
        assert other.image(image_id).status_code == 404
        assert other.image("does-not-exist").status_code == 404
        assert other.http.delete(f"/api/v1/images/{image_id}", headers=other.auth).status_code == 404
    finally:
        other.close()
    assert client.image(image_id).status_code == 200
