"""Isolation between users, through the ingress: Bob can neither read, change nor even see Alice's things.

Alice and Bob each upload images and wait until they are ready. Every attempt of Bob's on
one of Alice's ids answers 404 (exactly like an id that does not exist), and nothing of
Alice's shows in Bob's listing, search, facets or suggestions, while Alice still sees all of it.

Labels, categories and places come from models that later issues add; until then no image
has any, so against the local stack this test gives Alice's image some directly in the
tagging database and the search index (the stores those answers are read from), to have
values whose absence on Bob's side means something.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.e2e.client import PixtractClient, photo_jpeg, text_png

pytestmark = pytest.mark.e2e

WORD = "marmalade"
SEEDED_LABEL = "lighthouse"
SEEDED_CATEGORY = "Lighthouses"
SEEDED_CATEGORY_ID = "lighthouses"
SEEDED_PLACE = "Port Lumen"
DEFAULT_INDEX_ALIAS = "pixtract-images"


@dataclass(frozen=True)
class User:
    client: PixtractClient
    id: str
    image_ids: list[str]

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.http.get(path, params=params, headers=self.client.auth)


@dataclass(frozen=True)
class Pair:
    alice: User
    bob: User
    alice_api_key_id: str
    seeded: bool


def _user_with_images(base_url: str, *files: tuple[str, bytes, str]) -> User:
    client = PixtractClient(base_url)
    me = client.sign_up()
    uploaded = client.upload(*files)
    assert uploaded.status_code == 201, uploaded.text
    ids = [image["id"] for image in uploaded.json()["images"]]
    for image_id in ids:
        client.wait_ready(image_id)
    return User(client, me["id"], ids)


def _seed_labels_categories_and_place(stack: Any, alice: User) -> None:
    """What the models will produce, written where the categories and search APIs read it."""
    endpoints = stack.handle.endpoints
    with MongoClient[dict[str, Any]](endpoints.mongo_url) as mongo:
        updated = mongo["tagging"]["image_categories"].update_one(
            {"_id": alice.image_ids[0], "owner_id": alice.id},
            {"$set": {"categories": [SEEDED_CATEGORY], "tagged_at": datetime.now(UTC)}},
        )
        assert updated.matched_count == 1, "tagging keeps no record of Alice's image"
    alias = stack.handle.service_env("search").get("PIXTRACT_SEARCH_OPENSEARCH__INDEX_ALIAS", DEFAULT_INDEX_ALIAS)
    response = httpx.post(
        f"{endpoints.opensearch_url}/{alias}/_update/{alice.image_ids[0]}",
        params={"routing": alice.id, "refresh": "true"},
        json={
            "doc": {
                "labels": [SEEDED_LABEL],
                "categories": [SEEDED_CATEGORY],
                "location": {"place": SEEDED_PLACE, "country": "Utopia"},
            }
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def pair(stack: Any) -> Iterator[Pair]:
    alice = _user_with_images(
        stack.base_url,
        ("marmalade-pantry.png", text_png(["Marmalade pantry inventory", "Jars total 17.20"]), "image/png"),
        ("alice-garden.jpg", photo_jpeg(5), "image/jpeg"),
    )
    bob = _user_with_images(stack.base_url, ("bob-bike.jpg", photo_jpeg(6), "image/jpeg"))
    key = alice.client.http.post("/api/v1/auth/api-keys", json={"name": "alice's backup"}, headers=alice.client.auth)
    assert key.status_code == 201, key.text
    seeded = stack.handle is not None
    if seeded:
        _seed_labels_categories_and_place(stack, alice)
    yield Pair(alice, bob, key.json()["id"], seeded)
    alice.client.close()
    bob.client.close()


def _assert_not_found(response: httpx.Response, what: str) -> None:
    assert response.status_code == 404, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", what


def _facet_values(body: dict[str, Any]) -> set[str]:
    return {str(entry["value"]) for entries in body["facets"].values() for entry in entries}


def _markers(pair: Pair) -> set[str]:
    """Facet and suggestion values only Alice's images have."""
    markers = {SEEDED_LABEL, SEEDED_CATEGORY, SEEDED_PLACE} if pair.seeded else set()
    taken_at = pair.alice.client.image(pair.alice.image_ids[0]).json()["taken_at"]
    # Bob's image has no capture date: his only year is the upload's, this year.
    if taken_at and taken_at[:4] != str(datetime.now(UTC).year):
        markers.add(taken_at[:4])
    return markers


# ----- direct access by id -----------------------------------------------------------------


def test_bob_gets_404_for_every_image_of_alice(pair: Pair) -> None:
    bob = pair.bob.client
    for image_id in pair.alice.image_ids:
        _assert_not_found(bob.image(image_id), "metadata")
        content = bob.http.get(f"/api/v1/images/{image_id}/content", headers=bob.auth)
        _assert_not_found(content, "content")  # not even a redirect to a signed URL
        for size in ("small", "large"):
            thumbnail = bob.http.get(f"/api/v1/images/{image_id}/thumbnail", params={"size": size}, headers=bob.auth)
            _assert_not_found(thumbnail, f"{size} thumbnail")
        _assert_not_found(bob.http.delete(f"/api/v1/images/{image_id}", headers=bob.auth), "delete")
    # ...and the answers are those of an id that does not exist.
    assert bob.image("no-such-image").json()["detail"] == bob.image(pair.alice.image_ids[0]).json()["detail"]
    known = bob.http.post(
        "/api/v1/images/known-hashes",
        json={"sha256": [pair.alice.client.image(i).json()["sha256"] for i in pair.alice.image_ids]},
        headers=bob.auth,
    )
    if known.status_code != 404:  # an API extension; where it exists it must not reveal Alice's files
        assert known.status_code == 200, known.text
        assert known.json()["known"] == []

    alice = pair.alice.client
    for image_id in pair.alice.image_ids:
        assert alice.image(image_id).status_code == 200
        content = alice.http.get(f"/api/v1/images/{image_id}/content", headers=alice.auth, follow_redirects=True)
        assert content.status_code == 200
        assert alice.http.get(f"/api/v1/images/{image_id}/thumbnail", headers=alice.auth).status_code == 200


def test_bob_cannot_rename_alices_category(pair: Pair) -> None:
    alice_categories = pair.alice.get("/api/v1/categories").json()["items"]
    if pair.seeded:
        assert SEEDED_CATEGORY_ID in {c["id"] for c in alice_categories}
    bob_categories = pair.bob.get("/api/v1/categories").json()["items"]
    # Both may have a category of the same name (two beach photos); those are Bob's own to rename.
    alices_only = ({c["id"] for c in alice_categories} | {SEEDED_CATEGORY_ID}) - {c["id"] for c in bob_categories}
    for category_id in alices_only:
        renamed = pair.bob.client.http.patch(
            f"/api/v1/categories/{category_id}", json={"name": "Bob was here"}, headers=pair.bob.client.auth
        )
        _assert_not_found(renamed, f"rename {category_id}")
    for category in pair.bob.get("/api/v1/categories").json()["items"]:
        assert category["cover_image_id"] in pair.bob.image_ids, category
        assert category["count"] <= len(pair.bob.image_ids), category
    assert pair.alice.get("/api/v1/categories").json()["items"] == alice_categories


def test_bob_cannot_see_or_revoke_alices_api_key(pair: Pair) -> None:
    bob = pair.bob.client
    assert bob.http.get("/api/v1/auth/api-keys", headers=bob.auth).json()["items"] == []
    _assert_not_found(bob.http.delete(f"/api/v1/auth/api-keys/{pair.alice_api_key_id}", headers=bob.auth), "revoke")
    alice_keys = pair.alice.get("/api/v1/auth/api-keys").json()["items"]
    assert [key["id"] for key in alice_keys] == [pair.alice_api_key_id]


def test_bobs_api_key_reaches_only_bobs_images(pair: Pair) -> None:
    bob = pair.bob.client
    created = bob.http.post("/api/v1/auth/api-keys", json={"name": "bob's script"}, headers=bob.auth)
    assert created.status_code == 201
    as_key = {"Authorization": f"Bearer {created.json()['key']}"}
    for image_id in pair.alice.image_ids:
        _assert_not_found(bob.http.get(f"/api/v1/images/{image_id}", headers=as_key), "metadata with a key")
        _assert_not_found(bob.http.delete(f"/api/v1/images/{image_id}", headers=as_key), "delete with a key")
    listing = bob.http.get("/api/v1/images", headers=as_key).json()["items"]
    assert [item["id"] for item in listing] == pair.bob.image_ids
    assert bob.http.get("/api/v1/search", params={"q": WORD}, headers=as_key).json()["total"] == 0


# ----- listing, search, facets, suggestions -------------------------------------------------


def test_listings_show_only_the_callers_images(pair: Pair) -> None:
    bob_listing = pair.bob.get("/api/v1/images").json()
    assert [item["id"] for item in bob_listing["items"]] == pair.bob.image_ids
    assert bob_listing["next_cursor"] is None
    for filters in ({"category": SEEDED_CATEGORY}, {"label": SEEDED_LABEL}, {"limit": "1"}):
        items = pair.bob.get("/api/v1/images", **filters).json()["items"]
        assert not {item["id"] for item in items} & set(pair.alice.image_ids), filters
    alice_listing = pair.alice.get("/api/v1/images").json()["items"]
    assert sorted(item["id"] for item in alice_listing) == sorted(pair.alice.image_ids)


def test_search_and_facets_show_only_the_callers_images(pair: Pair) -> None:
    # The control: Alice finds her image by its text, and her facets carry her values.
    alice_hits = pair.alice.get("/api/v1/search", q=WORD).json()
    assert [hit["image_id"] for hit in alice_hits["items"]] == [pair.alice.image_ids[0]]
    markers = _markers(pair)
    alice_browse = pair.alice.get("/api/v1/search").json()
    assert alice_browse["total"] == len(pair.alice.image_ids)
    assert markers <= _facet_values(alice_browse)

    bob_hits = pair.bob.get("/api/v1/search", q=WORD).json()
    assert (bob_hits["total"], bob_hits["items"]) == (0, [])
    assert all(entries == [] for entries in bob_hits["facets"].values()), bob_hits["facets"]

    bob_browse = pair.bob.get("/api/v1/search").json()
    assert bob_browse["total"] == len(pair.bob.image_ids)
    assert [hit["image_id"] for hit in bob_browse["items"]] == pair.bob.image_ids
    assert not markers & _facet_values(bob_browse), bob_browse["facets"]
    for name, entries in bob_browse["facets"].items():
        assert sum(entry["count"] for entry in entries) <= len(pair.bob.image_ids), (name, entries)

    # Filters on Alice's values, and queries that try to name her documents, find nothing of hers.
    alice_ids = set(pair.alice.image_ids)
    attempts: list[dict[str, str]] = [
        {"category": SEEDED_CATEGORY},
        {"label": SEEDED_LABEL},
        {"place": SEEDED_PLACE},
        {"q": f"owner_id:{pair.alice.id}"},
        {"q": f"image_id:{pair.alice.image_ids[0]}"},
        {"q": f"_id:{pair.alice.image_ids[0]}"},
        {"q": f"{WORD} OR NOT zeppelin"},
        {"q": f'"{WORD} pantry"'},
        {"q": "filename:marmalade*"},
        {"q": f"labels:{SEEDED_LABEL} OR categories:{SEEDED_CATEGORY}"},
        {"q": "*"},
    ]
    for params in attempts:
        response = pair.bob.get("/api/v1/search", **params)
        assert response.status_code in (200, 400), (params, response.status_code, response.text[:300])
        if response.status_code == 200:
            body = response.json()
            assert not {hit["image_id"] for hit in body["items"]} & alice_ids, params
            assert not markers & _facet_values(body), (params, body["facets"])
            assert body["total"] <= len(pair.bob.image_ids), params


def test_suggestions_come_only_from_the_callers_images(pair: Pair) -> None:
    prefixes = ["", "l", "li", "lig", "port", "p", "ma"]
    alice = {prefix: pair.alice.get("/api/v1/search/suggest", q=prefix).json()["suggestions"] for prefix in prefixes}
    if pair.seeded:
        assert SEEDED_LABEL in alice["lig"]
        assert SEEDED_CATEGORY in alice["li"]
        assert SEEDED_PLACE in alice["port"]
    # What Alice has and Bob's own images do not (both may have, say, a "sky" label of their own).
    bobs_own = _facet_values(pair.bob.get("/api/v1/search").json())
    alices_only = {value for values in alice.values() for value in values} - bobs_own
    for prefix in prefixes:
        bobs = pair.bob.get("/api/v1/search/suggest", q=prefix).json()["suggestions"]
        assert not set(bobs) & (alices_only | _markers(pair)), (prefix, bobs)


def test_alice_still_has_everything(pair: Pair) -> None:
    deadline = time.monotonic() + 5
    listing = pair.alice.get("/api/v1/images").json()["items"]
    assert sorted(item["id"] for item in listing) == sorted(pair.alice.image_ids)
    while pair.alice.get("/api/v1/search", q=WORD).json()["total"] != 1:
        assert time.monotonic() < deadline, "Alice's image left her search results"
        time.sleep(0.2)
