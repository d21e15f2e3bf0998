"""At-least-once delivery across a crash: a worker killed while work is queued still finishes it."""

from __future__ import annotations

import signal
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


def test_image_queued_while_tagging_is_down_ends_ready(client: PixtractClient, stack: Any) -> None:
    if stack.handle is None:
        pytest.skip("needs the stack this test run started (PIXTRACT_E2E_BASE_URL points at a foreign one)")
    client.sign_up()
    stack.handle.stop_service("tagging", sig=signal.SIGKILL)
    try:
        uploaded = client.upload(("queued.jpg", photo_jpeg(7), "image/jpeg"))
        assert uploaded.status_code == 201, uploaded.text
        image_id = uploaded.json()["images"][0]["id"]
        # OCR still runs; tagging's share waits in Kafka for a consumer.
        image = client.wait_until(image_id, lambda body: body["stages"]["ocr"] == "done")
        assert image["stages"]["tagging"] == "pending"
        assert image["state"] == "processing"
    finally:
        stack.handle.start_service("tagging")
    image = client.wait_ready(image_id)
    assert image["stages"]["tagging"] == "done"
    assert (image["width"], image["height"]) == (320, 240)
