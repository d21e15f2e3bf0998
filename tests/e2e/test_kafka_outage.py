"""Kafka stops during an upload burst and starts again: every upload was answered 201 (the
outbox held the events), every image ends `ready`, and none is duplicated.

Runs on a stack of its own so stopping Kafka never disturbs the session's `stack`. Its Tansu
stores topics on a SeaweedFS of its own (as `make up` does), so, like a real broker, it keeps every acknowledged
message and committed offset across the restart; the services' producers and consumers
reconnect by themselves. (With memory storage the broker comes back empty and events acknowledged
before the outage, e.g. an `images.indexed`, would be lost: no real Kafka does that.) The
reconciler is set to a short delay as the safety net it is in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymongo
import pytest

from pixtract.localstack import Stack
from tests.e2e.client import PixtractClient, photo_jpeg
from tests.e2e.stacks import stack_of_its_own

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

UPLOADS = 10
STOP_AFTER = 3
REEMIT_AFTER_S = 30


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack_of_its_own(Path(tmp_path_factory.mktemp("kafka-outage")), reemit_after_s=REEMIT_AFTER_S) as stack:
        yield stack


def test_uploads_during_a_kafka_outage_all_end_ready_exactly_once(own_stack: Stack) -> None:
    started = time.monotonic()
    client = PixtractClient(own_stack.endpoints.ingress_url)
    mongo: pymongo.MongoClient[dict[str, object]] = pymongo.MongoClient(own_stack.endpoints.mongo_url)
    try:
        owner = str(client.sign_up()["id"])
        image_ids: list[str] = []
        for n in range(UPLOADS):
            if n == STOP_AFTER:
                own_stack.stop_server("kafka")
            uploaded = client.upload((f"burst-{n}.jpg", photo_jpeg(100 + n), "image/jpeg"))
            assert uploaded.status_code == 201, uploaded.text
            image_ids.append(uploaded.json()["images"][0]["id"])
        images = mongo["media"]["images"]
        # Kafka is down: the uploads after the stop wait in their records' outboxes.
        waiting = images.count_documents({"_id": {"$in": image_ids[STOP_AFTER:]}, "outbox.0": {"$exists": True}})
        assert waiting == UPLOADS - STOP_AFTER
        time.sleep(2)
        own_stack.start_server("kafka")

        for image_id in image_ids:
            image = client.wait_ready(image_id, timeout=240)
            assert image["stages"] == {"tagging": "done", "ocr": "done", "search": "done"}
        # One record per upload, nothing left in any outbox, and one search document each.
        assert images.count_documents({"owner_id": owner}) == UPLOADS
        assert images.count_documents({"owner_id": owner, "outbox.0": {"$exists": True}}) == 0
        hits = client.http.get("/api/v1/search", params={"q": "burst", "limit": 50}, headers=client.auth)
        assert hits.status_code == 200, hits.text
        found = [hit["image_id"] for hit in hits.json()["items"]]
        assert sorted(found) == sorted(image_ids)
        assert hits.json()["total"] == UPLOADS
    finally:
        mongo.close()
        client.close()
    print(f"kafka outage test: {time.monotonic() - started:.1f} s from the first upload to all ready")
