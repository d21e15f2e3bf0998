"""HEIC photos and tus resumable uploads through the ingress, ending `ready` like any upload."""

from __future__ import annotations

import base64
import hashlib
import io
import time
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import ExifTags, Image
from pillow_heif import register_heif_opener

from tests.e2e.client import PixtractClient, photo_jpeg
from tests.e2e.stored import StoredState, inspect_storage

pytestmark = pytest.mark.e2e

register_heif_opener()

UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}


@pytest.fixture(scope="module")
def stored(stack: Any) -> Iterator[StoredState | None]:
    state = StoredState(stack.handle) if stack.handle is not None else None
    yield state
    if state is not None:
        state.close()


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    c.http.timeout = httpx.Timeout(120.0)
    yield c
    c.close()


def heic_photo() -> bytes:
    """An iPhone-like HEIC: camera, capture time and GPS (the Eiffel Tower) in its EXIF."""
    image = Image.new("RGB", (1024, 768), (70, 130, 180))
    image.paste((240, 200, 40), (300, 200, 700, 560))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15 Pro"
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2025:06:01 18:45:10"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.6)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    out = io.BytesIO()
    image.save(out, format="HEIF", exif=exif, quality=70)
    return out.getvalue()


def test_a_heic_photo_ends_ready_with_its_camera_and_place(client: PixtractClient) -> None:
    client.sign_up()
    data = heic_photo()
    uploaded = client.upload(("IMG_0042.HEIC", data, "image/heic"))
    assert uploaded.status_code == 201, uploaded.text
    [summary] = uploaded.json()["images"]
    assert summary["content_type"] == "image/heic"
    image = client.wait_ready(summary["id"])
    assert (image["width"], image["height"]) == (1024, 768)
    assert image["camera"] == {"make": "Apple", "model": "iPhone 15 Pro"}
    assert image["taken_at"].startswith("2025-06-01T18:45:10")
    assert image["location"]["lat"] == pytest.approx(48.8582, abs=1e-3)
    assert image["location"]["lon"] == pytest.approx(2.2945, abs=1e-3)
    assert image["stages"] == {"tagging": "done", "ocr": "done", "search": "done"}
    thumbnail = client.http.get(f"/api/v1/images/{summary['id']}/thumbnail", headers=client.auth)
    assert thumbnail.status_code == 200
    assert thumbnail.content[8:12] == b"WEBP"


# ----- tus ------------------------------------------------------------------------------------


def _metadata(**pairs: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items())


def _create(client: PixtractClient, length: int, filename: str) -> str:
    created = client.http.post(
        UPLOADS,
        headers={**client.auth, **TUS, "Upload-Length": str(length), "Upload-Metadata": _metadata(filename=filename)},
    )
    assert created.status_code == 201, created.text
    assert created.headers["Tus-Resumable"] == "1.0.0"
    location = created.headers["Location"]
    assert location.startswith(UPLOADS + "/")
    return location


def _patch(
    client: PixtractClient, location: str, offset: int, data: bytes, checksum: str | None = None
) -> httpx.Response:
    headers = {
        **client.auth,
        **TUS,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
    }
    if checksum is not None:
        headers["Upload-Checksum"] = checksum
    return client.http.patch(location, content=data, headers=headers)


def _offset(client: PixtractClient, location: str) -> int:
    head = client.http.head(location, headers={**client.auth, **TUS})
    assert head.status_code == 200
    assert head.headers["Tus-Resumable"] == "1.0.0"
    return int(head.headers["Upload-Offset"])


def _resume(client: PixtractClient, location: str, data: bytes, end: int) -> tuple[httpx.Response, int]:
    """What a tus client does after an interruption: HEAD, then PATCH from there.

    The server may still be finishing the broken request (409: it moved on; 423: it still
    holds the upload), so like a real client this asks again after a moment.
    """
    for _ in range(40):
        offset = _offset(client, location)
        response = _patch(client, location, offset, data[offset:end])
        if response.status_code not in (409, 423):
            return response, offset
        time.sleep(0.25)
    raise AssertionError(f"could not resume {location}: {response.status_code} {response.text}")


def _sha1(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


def test_tus_discovery(client: PixtractClient) -> None:
    client.sign_up()
    options = client.http.options(UPLOADS, headers=client.auth)
    assert options.status_code == 204
    assert options.headers["Tus-Version"] == "1.0.0"
    assert options.headers["Tus-Extension"] == "creation,termination,checksum,expiration"
    assert options.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert int(options.headers["Tus-Max-Size"]) >= 40 * 1024 * 1024
    assert client.http.options(UPLOADS).status_code == 401


def test_three_chunks_with_an_interruption_end_ready(client: PixtractClient, stack: Any) -> None:
    owner = str(client.sign_up()["id"])
    data = heic_photo()
    location = _create(client, len(data), "resumed.heic")
    third = len(data) // 3
    assert _patch(client, location, 0, data[:third]).status_code == 204

    # The second chunk breaks off half-way: the client goes away mid-body.
    def broken_body() -> Iterator[bytes]:
        yield data[third : third + third // 2]
        raise ConnectionResetError("network gone")

    with (
        httpx.Client(base_url=stack.base_url, timeout=30.0) as flaky,
        pytest.raises((httpx.TransportError, ConnectionResetError)),
    ):
        flaky.patch(
            location,
            content=broken_body(),
            headers={
                **client.auth,
                **TUS,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(third),
                "Content-Length": str(third),
            },
        )
    # HEAD says where to go on: whatever of the broken chunk arrived is kept.
    resumed, offset = _resume(client, location, data, 2 * third)
    assert third <= offset <= third + third // 2
    assert resumed.status_code == 204, resumed.text
    last = _patch(client, location, 2 * third, data[2 * third :])
    assert last.status_code == 204, last.text
    assert last.headers["Upload-Offset"] == str(len(data))
    image_id = last.headers["Pixtract-Image-Id"]
    image = client.wait_ready(image_id)
    assert (image["filename"], image["content_type"], image["size"]) == ("resumed.heic", "image/heic", len(data))
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    assert image["camera"] == {"make": "Apple", "model": "iPhone 15 Pro"}
    download = client.http.get(f"/api/v1/images/{image_id}/content", headers=client.auth)
    assert download.content == data
    # The same bytes again through tus: the existing image, marked as a duplicate.
    again = _create(client, len(data), "again.heic")
    duplicate = _patch(client, again, 0, data)
    assert duplicate.status_code == 204
    assert (duplicate.headers["Pixtract-Image-Id"], duplicate.headers["Pixtract-Duplicate"]) == (image_id, "true")
    if stack.handle is not None:
        state = StoredState(stack.handle)
        try:
            state.expect_images(owner, {image_id})
            assert {upload["state"] for upload in state.uploads(owner)} == {"completed"}
        finally:
            state.close()


def test_checksum_mismatch_is_460_and_offset_mismatch_409(client: PixtractClient) -> None:
    client.sign_up()
    data = photo_jpeg(5)
    location = _create(client, len(data), "checked.jpg")
    half = len(data) // 2
    mismatch = _patch(client, location, 0, data[:half], checksum=_sha1(b"something else"))
    assert mismatch.status_code == 460
    assert mismatch.json()["type"].endswith("/checksum-mismatch")
    assert mismatch.headers["Tus-Resumable"] == "1.0.0"
    assert _offset(client, location) == 0
    assert _patch(client, location, 0, data[:half], checksum=_sha1(data[:half])).status_code == 204
    conflict = _patch(client, location, 0, data[half:])
    assert conflict.status_code == 409
    assert conflict.headers["Upload-Offset"] == str(half)
    wrong_version = client.http.head(location, headers={**client.auth, "Tus-Resumable": "0.2.2"})
    assert wrong_version.status_code == 412
    done = _patch(client, location, half, data[half:], checksum=_sha1(data[half:]))
    assert done.status_code == 204
    assert client.image(done.headers["Pixtract-Image-Id"]).status_code == 200


def test_termination_removes_the_upload_and_its_bytes(
    client: PixtractClient, stack: Any, stored: StoredState | None
) -> None:
    owner = str(client.sign_up()["id"])
    location = _create(client, 3_000_000, "abandoned.jpg")
    assert _patch(client, location, 0, photo_jpeg(9) + b"\x00" * 1_500_000).status_code == 204
    other = PixtractClient(stack.base_url)
    try:
        other.sign_up()
        # Another user's upload is as unknown as one that never existed.
        assert other.http.head(location, headers={**other.auth, **TUS}).status_code == 404
        assert other.http.delete(location, headers={**other.auth, **TUS}).status_code == 404
    finally:
        other.close()
    deleted = client.http.delete(location, headers={**client.auth, **TUS})
    assert deleted.status_code == 204
    assert deleted.headers["Tus-Resumable"] == "1.0.0"
    assert client.http.head(location, headers={**client.auth, **TUS}).status_code == 404
    state = inspect_storage(stored)
    assert state.uploads(owner) == []
    state.expect_nothing(owner)


def test_a_file_refused_at_the_end_answers_the_final_patch_and_leaves_nothing(
    client: PixtractClient, stored: StoredState | None
) -> None:
    owner = str(client.sign_up()["id"])
    data = b"%PDF-1.7\n" + b"0" * 100_000
    location = _create(client, len(data), "invoice.jpg")
    assert _patch(client, location, 0, data[:50_000]).status_code == 204
    refused = _patch(client, location, 50_000, data[50_000:])
    assert refused.status_code == 415
    assert "invoice.jpg is not a supported image: detected PDF document" in refused.json()["detail"]
    assert client.http.head(location, headers={**client.auth, **TUS}).status_code == 404
    state = inspect_storage(stored)
    assert state.uploads(owner) == []
    state.expect_nothing(owner)


def test_a_40_mb_file_through_tus_ends_ready(client: PixtractClient, stored: StoredState | None) -> None:
    owner = str(client.sign_up()["id"])
    pixels = np.random.default_rng(40).integers(0, 256, size=(3800, 3800, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="BMP")
    data = out.getvalue()
    assert len(data) > 40 * 1024 * 1024
    location = _create(client, len(data), "huge.bmp")
    chunk = 8 * 1024 * 1024 + 12345  # not a multiple of the server's segment size
    offset = 0
    last: httpx.Response | None = None
    while offset < len(data):
        last = _patch(client, location, offset, data[offset : offset + chunk])
        assert last.status_code == 204, last.text
        offset = int(last.headers["Upload-Offset"])
    assert last is not None
    image_id = last.headers["Pixtract-Image-Id"]
    image = client.wait_ready(image_id, timeout=300)
    assert (image["width"], image["height"], image["size"]) == (3800, 3800, len(data))
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    state = inspect_storage(stored)
    state.expect_images(owner, {image_id})
