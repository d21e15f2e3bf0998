"""Hostile uploads through the ingress: each gets its precise answer, and S3 and MongoDB hold
exactly what they should afterwards (nothing for a refusal, one image for a duplicate race)."""

from __future__ import annotations

import io
import struct
import threading
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.e2e.client import PixtractClient, photo_jpeg
from tests.e2e.stored import StoredState, inspect_storage

pytestmark = pytest.mark.e2e

PROBLEM_BASE = "https://pixtract.dev/problems/"


@pytest.fixture(scope="module")
def stored(stack: Any) -> Iterator[StoredState | None]:
    state = StoredState(stack.handle) if stack.handle is not None else None
    yield state
    if state is not None:
        state.close()


@pytest.fixture
def client(stack: Any) -> Iterator[PixtractClient]:
    c = PixtractClient(stack.base_url)
    yield c
    c.close()


def _sign_up(client: PixtractClient) -> str:
    return str(client.sign_up()["id"])


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    return body


def _png_bomb_header(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with a tiny IDAT: decoding it would need gigabytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("holiday/IMG_0001.jpg", photo_jpeg(1))
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<script>fetch("/api/v1/auth/me").then(r => r.text()).then(alert)</script>'
    b'<rect width="10" height="10"/></svg>'
)


def test_a_truncated_jpeg_is_422_corrupt_and_nothing_is_kept(
    client: PixtractClient, stored: StoredState | None
) -> None:
    owner = _sign_up(client)
    jpeg = photo_jpeg(3)
    body = _problem(client.upload(("cut.jpg", jpeg[: len(jpeg) // 2], "image/jpeg")), 422, "corrupt-image")
    assert "cut.jpg cannot be decoded" in body["detail"]
    assert "truncated or corrupt" in body["detail"]
    inspect_storage(stored).expect_nothing(owner)


def test_a_png_claiming_50000x50000_is_422_too_large_without_decoding(
    client: PixtractClient, stored: StoredState | None
) -> None:
    owner = _sign_up(client)
    response = client.upload(("bomb.png", _png_bomb_header(50_000, 50_000), "image/png"))
    body = _problem(response, 422, "image-too-large")
    assert "50000x50000 is 2,500,000,000 pixels" in body["detail"]
    # Refused from the header: decoding 7.5 GB of pixels would take far longer than this.
    assert response.elapsed.total_seconds() < 5
    inspect_storage(stored).expect_nothing(owner)


@pytest.mark.parametrize(
    ("name", "data", "detected"),
    [("photos.jpg", _zip(), "ZIP archive"), ("scan.jpg", PDF, "PDF document")],
    ids=["zip", "pdf"],
)
def test_archives_and_documents_named_jpg_are_415_naming_what_they_are(
    client: PixtractClient, stored: StoredState | None, name: str, data: bytes, detected: str
) -> None:
    owner = _sign_up(client)
    body = _problem(client.upload((name, data, "image/jpeg")), 415, "unsupported-image-type")
    assert f"{name} is not a supported image: detected {detected}" in body["detail"]
    inspect_storage(stored).expect_nothing(owner)


def test_an_svg_with_a_script_is_415(client: PixtractClient, stored: StoredState | None) -> None:
    owner = _sign_up(client)
    body = _problem(client.upload(("logo.svg", SVG, "image/svg+xml")), 415, "unsupported-image-type")
    assert "detected SVG/XML document" in body["detail"]
    inspect_storage(stored).expect_nothing(owner)


def test_zero_bytes_is_415_empty_file(client: PixtractClient, stored: StoredState | None) -> None:
    owner = _sign_up(client)
    body = _problem(client.upload(("nothing.jpg", b"", "image/jpeg")), 415, "unsupported-image-type")
    assert "nothing.jpg is not a supported image: detected empty file" in body["detail"]
    inspect_storage(stored).expect_nothing(owner)


def _multipart(parts: list[tuple[bytes, bytes]]) -> tuple[bytes, str]:
    """A multipart body by hand: (raw filename bytes, data) per part, nothing escaped for us."""
    boundary = uuid.uuid4().hex
    body = b""
    for raw_name, data in parts:
        body += (
            f"--{boundary}\r\n".encode()
            + b'Content-Disposition: form-data; name="files"; filename="'
            + raw_name
            + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + data
            + b"\r\n"
        )
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_path_traversal_and_control_characters_in_filenames_are_stripped(
    client: PixtractClient, stored: StoredState | None
) -> None:
    owner = _sign_up(client)
    # Raw control bytes, a browser-escaped CR LF (%0D%0A) and both kinds of path separators.
    names = [b"../../etc/pass\x01wd\x7f%0D%0A.jpg", b"..\\..\\windows\\report\t.jpg", b"../../"]
    body, content_type = _multipart([(name, photo_jpeg(40 + n)) for n, name in enumerate(names)])
    response = client.http.post("/api/v1/images", content=body, headers={**client.auth, "Content-Type": content_type})
    assert response.status_code == 201, response.text
    images = response.json()["images"]
    assert [image["filename"] for image in images] == ["passwd.jpg", "report.jpg", "image.jpg"]
    for image in images:
        detail = client.image(image["id"]).json()
        assert "/" not in detail["filename"]
        assert "\\" not in detail["filename"]
        assert detail["filename"].isprintable()
        download = client.http.get(f"/api/v1/images/{image['id']}/content", headers=client.auth)
        assert download.status_code == 200
        assert "/" not in download.headers["content-disposition"].split("filename*=", 1)[1]
    state = inspect_storage(stored)
    state.expect_images(owner, {image["id"] for image in images})
    assert sorted(record["filename"] for record in state.images(owner)) == ["image.jpg", "passwd.jpg", "report.jpg"]


def test_200_files_in_one_request_is_413_naming_the_limit(client: PixtractClient, stored: StoredState | None) -> None:
    owner = _sign_up(client)
    tiny = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(tiny, format="PNG")
    response = client.upload(*[(f"f{n}.png", tiny.getvalue(), "image/png") for n in range(200)])
    body = _problem(response, 413, "payload-too-large")
    assert "At most 50 files can be uploaded in one request" in body["detail"]
    inspect_storage(stored).expect_nothing(owner)


def test_the_same_file_twice_at_once_makes_one_image(
    client: PixtractClient, stored: StoredState | None, stack: Any
) -> None:
    owner = _sign_up(client)
    data = photo_jpeg(77)
    start = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def send(name: str) -> None:
        with httpx.Client(base_url=stack.base_url, timeout=30.0) as http:
            start.wait()
            answers.append(
                http.post("/api/v1/images", files=[("files", (name, data, "image/jpeg"))], headers=client.auth)
            )

    threads = [threading.Thread(target=send, args=(name,)) for name in ("first.jpg", "second.jpg")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
    images = [answer.json()["images"][0] for answer in answers]
    assert images[0]["id"] == images[1]["id"]
    assert sorted(image["duplicate"] for image in images) == [False, True]
    inspect_storage(stored).expect_images(owner, {images[0]["id"]})
