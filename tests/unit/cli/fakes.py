"""In-process stand-ins for a Pixtract server, served through httpx.MockTransport (no sockets).

`FakeTusServer` implements the tus 1.0 core (OPTIONS, HEAD, PATCH) and the creation
extension, with fault injection; `FakePixtract` is the part of the public API the CLI uses
(auth, known-hashes, multipart upload, search, images) and can host a FakeTusServer.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

TUS = {"Tus-Resumable": "1.0.0"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"


def problem(status: int, title: str, detail: str, **extra: Any) -> httpx.Response:
    return httpx.Response(
        status,
        json={"type": "https://pixtract.dev/problems/x", "title": title, "status": status, "detail": detail, **extra},
        headers={"content-type": "application/problem+json"},
    )


@dataclass
class TusUpload:
    length: int
    metadata: dict[str, str]
    data: bytearray = field(default_factory=bytearray)
    image_id: str | None = None


class FakeTusServer:
    """tus core + creation (+ checksum when `checksum` is set) at /api/v1/uploads."""

    def __init__(self, *, checksum: bool = False, max_size: int | None = None) -> None:
        self.uploads: dict[str, TusUpload] = {}
        self.requests: list[tuple[str, str]] = []
        self.patched_bytes = 0
        self.checksum = checksum
        self.max_size = max_size
        self._ids = itertools.count(1)
        # (n-th PATCH, bytes of it to store before the connection drops); counted from 1.
        self.drop_patch: dict[int, int] = {}
        # The n-th PATCH is stored completely but its answer is lost.
        self.lose_answer_of_patch: set[int] = set()
        self.fail_head_times = 0
        # Like Pixtract: the last byte turns the upload into an image, (id, duplicate).
        self.finish: Callable[[TusUpload], tuple[str, bool]] | None = None
        self._patches = 0

    def handles(self, request: httpx.Request) -> bool:
        return request.url.path.startswith("/api/v1/uploads")

    def upload_at(self, url: str) -> TusUpload:
        return self.uploads[httpx.URL(url).path.rsplit("/", 1)[-1]]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.method, request.url.path))
        if request.method == "OPTIONS":
            headers = {**TUS, "Tus-Version": "1.0.0", "Tus-Extension": "creation,termination"}
            if self.checksum:
                headers["Tus-Extension"] += ",checksum"
                headers["Tus-Checksum-Algorithm"] = "md5,sha1"
            if self.max_size is not None:
                headers["Tus-Max-Size"] = str(self.max_size)
            return httpx.Response(204, headers=headers)
        if request.headers.get("Tus-Resumable") != "1.0.0":
            return httpx.Response(412, headers={"Tus-Version": "1.0.0"})
        if request.method == "POST" and request.url.path == "/api/v1/uploads":
            return self._create(request)
        upload_id = request.url.path.rsplit("/", 1)[-1]
        upload = self.uploads.get(upload_id)
        if upload is None:
            return httpx.Response(404, headers=TUS)
        if request.method == "HEAD":
            if self.fail_head_times:
                self.fail_head_times -= 1
                raise httpx.ConnectError("network unreachable", request=request)
            headers = {**TUS, "Upload-Offset": str(len(upload.data)), "Upload-Length": str(upload.length)}
            if upload.image_id is not None:
                headers["Pixtract-Image-Id"] = upload.image_id
            return httpx.Response(200, headers=headers)
        if request.method == "PATCH":
            return self._patch(request, upload)
        return httpx.Response(405, headers=TUS)

    def _create(self, request: httpx.Request) -> httpx.Response:
        length = int(request.headers["Upload-Length"])
        if self.max_size is not None and length > self.max_size:
            return problem(413, "Payload Too Large", f"{length} bytes is more than {self.max_size}.")
        metadata = {}
        for pair in request.headers.get("Upload-Metadata", "").split(","):
            if pair:
                key, _, value = pair.partition(" ")
                metadata[key] = base64.b64decode(value).decode()
        upload_id = f"u{next(self._ids)}"
        self.uploads[upload_id] = TusUpload(length, metadata)
        return httpx.Response(201, headers={**TUS, "Location": f"/api/v1/uploads/{upload_id}"})

    def _patch(self, request: httpx.Request, upload: TusUpload) -> httpx.Response:
        self._patches += 1
        if request.headers.get("Content-Type") != "application/offset+octet-stream":
            return httpx.Response(415, headers=TUS)
        if int(request.headers["Upload-Offset"]) != len(upload.data):
            return httpx.Response(409, headers=TUS)
        body = request.content
        if self.checksum:
            algorithm, _, encoded = request.headers.get("Upload-Checksum", "").partition(" ")
            if base64.b64decode(encoded) != hashlib.new(algorithm, body).digest():
                return httpx.Response(460, headers=TUS)
        body = body[: upload.length - len(upload.data)]
        if self._patches in self.drop_patch:
            upload.data += body[: self.drop_patch[self._patches]]
            self.patched_bytes += self.drop_patch[self._patches]
            raise httpx.WriteError("connection reset by peer", request=request)
        upload.data += body
        self.patched_bytes += len(body)
        headers = {**TUS, "Upload-Offset": str(len(upload.data))}
        if len(upload.data) == upload.length and self.finish is not None:
            upload.image_id, duplicate = self.finish(upload)
            headers["Pixtract-Image-Id"] = upload.image_id
            if duplicate:
                headers["Pixtract-Duplicate"] = "true"
        if self._patches in self.lose_answer_of_patch:
            raise httpx.ReadError("connection closed before the answer", request=request)
        return httpx.Response(204, headers=headers)


def multipart_file(request: httpx.Request) -> tuple[str, bytes]:
    """The one part named `files` of a multipart request: (filename, bytes)."""
    boundary = request.headers["content-type"].split("boundary=")[1].encode()
    for part in request.content.split(b"--" + boundary):
        head, _, body = part.partition(b"\r\n\r\n")
        if b'name="files"' in head:
            filename = head.split(b'filename="')[1].split(b'"')[0].decode()
            return filename, body.removesuffix(b"\r\n")
    raise AssertionError("no part named files")


@dataclass
class StoredImage:
    id: str
    owner: str
    filename: str
    data: bytes
    sha256: str = ""

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    def summary(self, duplicate: bool = False) -> dict[str, Any]:
        return {
            "id": self.id,
            "filename": self.filename,
            "content_type": "image/png",
            "size": len(self.data),
            "sha256": self.sha256,
            "state": "processing",
            "duplicate": duplicate,
            "uploaded_at": "2026-01-02T03:04:05Z",
        }


class FakePixtract:
    """The public API the CLI uses; tokens are `access-<n>` / `refresh-<n>` for user "alice"."""

    def __init__(self, tus: FakeTusServer | None = None) -> None:
        self.tus = tus
        self.images: dict[str, StoredImage] = {}
        self.requests: list[tuple[str, str]] = []
        self.generation = 1
        self.refreshes = 0
        self.password = "a long passphrase 42"
        self.api_key = "pxk_test"
        self.known_hashes_batches: list[int] = []
        self.fail_upload_of: dict[str, Exception] = {}
        self.redirect_downloads = False
        self._expired: str | None = None
        self._by_sha256: dict[str, str] = {}
        self._ids = itertools.count(1)

    @property
    def access_token(self) -> str:
        return f"access-{self.generation}"

    @property
    def refresh_token(self) -> str:
        return f"refresh-{self.generation}"

    def expire_access_token(self) -> None:
        """As if 15 minutes passed: the current access token no longer works (its refresh token still does)."""
        self._expired = self.access_token

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def _authorized(self, request: httpx.Request) -> bool:
        bearer = str(request.headers.get("authorization", "")).removeprefix("Bearer ")
        return bearer == self.api_key or (bearer == self.access_token and bearer != self._expired)

    def _tokens(self) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "token_type": "bearer",
                "expires_in": 900,
            },
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append((request.method, path))
        if self.tus is not None and self.tus.handles(request):
            return self.tus(request)
        if path == "/api/v1/auth/login":
            body = json.loads(request.content)
            if body["password"] != self.password:
                return problem(401, "Unauthorized", "Wrong email or password.")
            return self._tokens()
        if path == "/api/v1/auth/refresh":
            if json.loads(request.content)["refresh_token"] != self.refresh_token:
                return problem(401, "Unauthorized", "The refresh token is not valid.")
            self.refreshes += 1
            self.generation += 1
            return self._tokens()
        if path == "/api/v1/auth/logout":
            return httpx.Response(204)
        if path.startswith("/files/"):  # the signed storage URL downloads redirect to
            return httpx.Response(200, content=self.images[path.removeprefix("/files/")].data)
        if not self._authorized(request):
            return problem(401, "Unauthorized", "The credential was refused: token expired.")
        if path == "/api/v1/auth/me":
            return httpx.Response(200, json={"id": "alice", "email": "alice@example.org", "name": None})
        if path == "/api/v1/images/known-hashes" and request.method == "POST":
            asked = json.loads(request.content)["sha256"]
            self.known_hashes_batches.append(len(asked))
            known = [{"sha256": h, "id": self._by_sha256[h]} for h in asked if h in self._by_sha256]
            return httpx.Response(200, json={"known": known})
        if path == "/api/v1/images" and request.method == "POST":
            return self._upload(request)
        if path == "/api/v1/search":
            return self._search(request)
        if path.startswith("/api/v1/images/"):
            return self._image(request, path.removeprefix("/api/v1/images/"))
        return problem(404, "Not Found", "No route.")

    def _upload(self, request: httpx.Request) -> httpx.Response:
        filename, data = multipart_file(request)
        if filename in self.fail_upload_of:
            raise self.fail_upload_of[filename]
        if not data.startswith((PNG_MAGIC, JPEG_MAGIC)):
            return problem(
                415, "Unsupported Media Type", f"{filename} is not a supported image: detected text; supported: ..."
            )
        return httpx.Response(201, json={"images": [self.store(filename, data)]})

    def store(self, filename: str, data: bytes) -> dict[str, Any]:
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in self._by_sha256:
            return self.images[self._by_sha256[sha256]].summary(duplicate=True)
        image = StoredImage(f"img-{next(self._ids)}", "alice", filename, data)
        self.images[image.id] = image
        self._by_sha256[sha256] = image.id
        return image.summary()

    def _search(self, request: httpx.Request) -> httpx.Response:
        q = request.url.params["q"]
        if q == "bad[":
            return problem(400, "Bad Request", "The query is malformed: unbalanced [.")
        hits = [
            {
                "image_id": image.id,
                "score": 1.5,
                "filename": image.filename,
                "labels": ["lighthouse", "sea"],
                "categories": ["Travel"],
                "taken_at": "2025-07-14T10:30:00+02:00",
                "highlights": {"text": [f"the <em>{q}</em> keeper"], "labels": []},
            }
            for image in self.images.values()
            if q in image.filename
        ]
        return httpx.Response(200, json={"total": len(hits), "items": hits, "facets": {}, "next_cursor": None})

    def _image(self, request: httpx.Request, rest: str) -> httpx.Response:
        image_id, _, sub = rest.partition("/")
        image = self.images.get(image_id)
        if image is None:
            return problem(404, "Not Found", "No image with this id.")
        if sub == "content":
            if self.redirect_downloads:
                return httpx.Response(307, headers={"Location": f"http://storage.test/files/{image.id}"})
            return httpx.Response(200, content=image.data, headers={"content-type": "image/png"})
        return httpx.Response(
            200,
            json={
                **image.summary(),
                "state": "ready",
                "width": 4,
                "height": 3,
                "taken_at": None,
                "stages": {"tagging": "done", "ocr": "done", "search": "done"},
                "labels": [{"name": "lighthouse", "confidence": 0.91, "parents": ["building"]}],
                "categories": ["Travel"],
                "faces": 0,
                "colors": [{"name": "navy", "hex": "#1f2a5a", "fraction": 0.6}],
                "location": None,
                "camera": {"make": "Pixtract Labs", "model": "E2E [Camera]"},
                "text": {"content": "Lighthouse keeper notes", "document_type": "note", "fields": {}, "lines": []},
                "failure": None,
            },
        )
