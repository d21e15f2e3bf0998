"""Tagging through the public API: a photo of a cat is found under Animals and by searching
"cat"; a resized copy of it names it in `duplicates_of`."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import skimage.data
from PIL import Image

from tests.e2e.client import PixtractClient

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def chelsea_jpeg(size: tuple[int, int] | None = None) -> bytes:
    image = Image.fromarray(skimage.data.chelsea())
    if size is not None:
        image = image.resize(size)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_a_cat_is_found_under_animals_and_by_searching_cat(client: PixtractClient) -> None:
    client.sign_up()
    uploaded = client.upload(("chelsea.jpg", chelsea_jpeg(), "image/jpeg"))
    assert uploaded.status_code == 201, uploaded.text
    image_id = uploaded.json()["images"][0]["id"]

    image = client.wait_ready(image_id)
    assert image["labels"][0]["name"] in {"tabby cat", "Egyptian Mau"}
    assert "cat" in image["labels"][0]["parents"]
    assert image["categories"] == ["Animals"]
    assert (image["faces"], image["face_boxes"], image["duplicates_of"]) == (0, [], [])

    categories = client.http.get("/api/v1/categories", headers=client.auth)
    assert categories.status_code == 200, categories.text
    [animals] = categories.json()["items"]
    assert (animals["id"], animals["count"], animals["cover_image_id"]) == ("animals", 1, image_id)
    # Every animal of this user is a cat, so the suggestion gets specific.
    assert animals["suggested_name"] == "Cats"

    assert image_id in client.search_ids("cat")
    assert image_id in client.search_ids("animal")

    copy = client.upload(("chelsea-large.jpg", chelsea_jpeg((902, 600)), "image/jpeg"))
    copy_id = copy.json()["images"][0]["id"]
    assert copy_id != image_id, "a different file, not an exact duplicate"
    assert client.wait_ready(copy_id)["duplicates_of"] == [image_id]
