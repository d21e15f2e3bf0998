"""DELETE /api/v1/auth/me, end to end: every object, record, index entry and credential of the
user goes away (checked in S3, MongoDB and OpenSearch themselves), and nobody else's does."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.e2e.client import PixtractClient, photo_jpeg, text_png

pytestmark = pytest.mark.e2e

DELETION_TIMEOUT_S = 60.0
DEFAULT_INDEX_ALIAS = "pixtract-images"
# The id fields documents of a user carry, in every service's database.
USER_FIELDS = ("_id", "owner_id", "user_id")
# What may stay, by design: the tagging service's marker that the user is gone (only the id and
# when), so a late images.uploaded event cannot bring a category record back. It expires by TTL.
DELETION_MARKERS = {("tagging", "deleted_users"): {"_id", "deleted_at"}}


def _eventually(what: str, check: Callable[[], Any], timeout: float = DELETION_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if not last:
            return
        time.sleep(0.25)
    raise AssertionError(f"{what}: still there after {timeout}s: {last}")


class Storage:
    """Reads the backing servers of the local stack directly."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle
        endpoints = handle.endpoints
        self.mongo_url = endpoints.mongo_url
        self.opensearch_url = endpoints.opensearch_url
        self.databases = {
            service: handle.service_env(service)[f"PIXTRACT_{service.upper()}_MONGO__DATABASE"]
            for service in handle.config.services
        }
        self.index_alias = handle.service_env("search").get(
            "PIXTRACT_SEARCH_OPENSEARCH__INDEX_ALIAS", DEFAULT_INDEX_ALIAS
        )

    def s3_objects(self, user_id: str) -> list[str]:
        return [*self.handle.s3_keys(f"originals/{user_id}/"), *self.handle.s3_keys(f"thumbs/{user_id}/")]

    def mongo_documents(self, user_id: str, email: str) -> dict[str, list[dict[str, Any]]]:
        """Every document of the user in every collection of the services' databases (markers aside)."""
        query = {"$or": [*({name: user_id} for name in USER_FIELDS), {"email": email}]}
        found: dict[str, list[dict[str, Any]]] = {}
        with MongoClient[dict[str, Any]](self.mongo_url) as mongo:
            for service, database in sorted(self.databases.items()):
                for collection in sorted(mongo[database].list_collection_names()):
                    documents = list(mongo[database][collection].find(query))
                    marker_fields = DELETION_MARKERS.get((service, collection))
                    if marker_fields is not None and all(set(d) <= marker_fields for d in documents):
                        continue
                    if documents:
                        found[f"{database}.{collection}"] = documents
        return found

    def index_documents(self, user_id: str) -> int:
        response = httpx.post(
            f"{self.opensearch_url}/{self.index_alias}/_search",
            json={"size": 0, "track_total_hits": True, "query": {"term": {"owner_id": user_id}}},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["hits"]["total"]["value"])

    def seed_category(self, image_id: str, owner_id: str, name: str) -> None:
        """What the label model will do later: put an image in a category (so a rename can be stored)."""
        with MongoClient[dict[str, Any]](self.mongo_url) as mongo:
            updated = mongo[self.databases["tagging"]]["image_categories"].update_one(
                {"_id": image_id, "owner_id": owner_id},
                {"$set": {"categories": [name], "tagged_at": datetime.now(UTC)}},
            )
            assert updated.matched_count == 1


def test_deleting_the_account_removes_everything_of_the_user(stack: Any) -> None:
    alice, bob = PixtractClient(stack.base_url), PixtractClient(stack.base_url)
    try:
        _delete_and_check(stack, alice, bob)
    finally:
        alice.close()
        bob.close()


def _delete_and_check(stack: Any, alice: PixtractClient, bob: PixtractClient) -> None:
    storage = Storage(stack.handle) if stack.handle is not None else None
    me = alice.sign_up()
    alice_id, alice_email = me["id"], me["email"]
    uploaded = alice.upload(
        ("receipt.png", text_png(["Bakery receipt", "Total 4.20"]), "image/png"),
        ("cat.jpg", photo_jpeg(31), "image/jpeg"),
        ("gone.jpg", photo_jpeg(32), "image/jpeg"),
    )
    assert uploaded.status_code == 201, uploaded.text
    image_ids = [image["id"] for image in uploaded.json()["images"]]
    for image_id in image_ids:
        alice.wait_ready(image_id)
    # One image deleted before the account: its tombstones must go with the account too.
    assert alice.http.delete(f"/api/v1/images/{image_ids[2]}", headers=alice.auth).status_code == 204
    key = alice.http.post("/api/v1/auth/api-keys", json={"name": "backup"}, headers=alice.auth).json()["key"]
    assert alice.http.get("/api/v1/images", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    if storage is not None:
        storage.seed_category(image_ids[0], alice_id, "Receipts")
        renamed = alice.http.patch("/api/v1/categories/receipts", json={"name": "Bills"}, headers=alice.auth)
        assert renamed.status_code == 200, renamed.text

    bob_me = bob.sign_up()
    bob_image = bob.upload(("bob.jpg", photo_jpeg(33), "image/jpeg")).json()["images"][0]["id"]
    bob.wait_ready(bob_image)

    if storage is not None:
        # The control: everything the checks below look for is really there before the deletion.
        assert len(storage.s3_objects(alice_id)) >= 2 * 3  # two images left: an original and thumbnails each
        before = storage.mongo_documents(alice_id, alice_email)
        expected = ("media.images", "tagging.image_categories", "tagging.category_names", "auth.users")
        for collection in (*expected, "auth.refresh_families", "auth.api_keys"):
            assert collection in before, (collection, sorted(before))
        assert storage.index_documents(alice_id) >= 2

    old_access, old_refresh = str(alice.token), str(alice.refresh_token)
    deleted = alice.http.delete("/api/v1/auth/me", headers=alice.auth)
    assert deleted.status_code == 202, deleted.text

    # At once: no credential of hers can be refreshed or used as a key any more.
    refreshed = alice.http.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
    assert refreshed.status_code == 401, refreshed.text
    assert alice.http.get("/api/v1/images", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    assert alice.http.get("/api/v1/auth/me", headers=alice.auth).status_code == 404
    login = alice.http.post("/api/v1/auth/login", json={"email": alice.email, "password": alice.password})
    assert login.status_code == 401, login.text

    # The access token is a signed statement that lives until it expires; what it can reach empties.
    bearer = {"Authorization": f"Bearer {old_access}"}
    _eventually("images in her listing", lambda: alice.http.get("/api/v1/images", headers=bearer).json()["items"])
    _eventually("hits in her search", lambda: alice.http.get("/api/v1/search", headers=bearer).json()["items"])
    for image_id in image_ids:
        assert alice.http.get(f"/api/v1/images/{image_id}", headers=bearer).status_code == 404
        assert alice.http.get(f"/api/v1/images/{image_id}/content", headers=bearer).status_code == 404
    assert alice.http.get("/api/v1/categories", headers=bearer).json()["items"] == []

    if storage is None:
        pytest.skip("S3, MongoDB and OpenSearch checks need the stack this session started (foreign stack)")
    _eventually("objects in S3", lambda: storage.s3_objects(alice_id))
    _eventually("documents in MongoDB", lambda: storage.mongo_documents(alice_id, alice_email))
    _eventually("documents in OpenSearch", lambda: storage.index_documents(alice_id))

    # Nobody else lost anything.
    assert bob.image(bob_image).status_code == 200
    assert storage.s3_objects(bob_me["id"])
    assert storage.index_documents(bob_me["id"]) == 1
    # The address is free again, for a new account with a new id.
    again = alice.http.post("/api/v1/auth/register", json={"email": alice_email, "password": alice.password})
    assert again.status_code == 201, again.text
    assert again.json()["id"] != alice_id
