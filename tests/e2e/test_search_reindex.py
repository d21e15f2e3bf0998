"""The search index survives its OpenSearch: osmem keeps nothing, and search rebuilds the index
from the upload service's records. What `make down` then `make up` does to the index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.client import PixtractClient, text_png

pytestmark = pytest.mark.e2e

WORD = "gazebo"


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def _eventually_found(client: PixtractClient, image_id: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while image_id not in client.search_ids(WORD):
        assert time.monotonic() < deadline, f"{image_id} not found by {WORD!r} in {timeout:.0f} s"
        time.sleep(0.5)


def test_images_uploaded_before_an_opensearch_restart_are_found_after_it(client: PixtractClient, stack: Any) -> None:
    if stack.handle is None:
        pytest.skip("needs the stack this test run started (PIXTRACT_E2E_BASE_URL points at a foreign one)")
    client.sign_up()
    uploaded = client.upload(("garden.png", text_png(["Gazebo plans", "Garden party"]), "image/png"))
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["images"][0]["id"]
    client.wait_ready(image_id)
    assert image_id in client.search_ids(WORD)

    # `make down`, `make up`: OpenSearch and search stop, and come back with an empty osmem.
    stack.handle.stop_service("search")
    stack.handle.stop_server("opensearch")
    stack.handle.start_server("opensearch")
    stack.handle.start_service("search")  # ready once the index is rebuilt
    assert image_id in client.search_ids(WORD)

    # osmem alone restarts under a running search service: the index is rebuilt too.
    stack.handle.stop_server("opensearch")
    stack.handle.start_server("opensearch")
    _eventually_found(client, image_id)
