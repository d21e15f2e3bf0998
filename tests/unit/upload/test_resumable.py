"""tus resumable uploads in process: header parsing, segments, leases, checksums, finishing, the HTTP layer."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from bson.tz_util import utc as bson_utc
from PIL import Image

from pixtract.common.auth import Principal, current_principal
from pixtract.common.storage import ObjectDownload
from pixtract.upload.adapters.uploads import SegmentDocument, UploadDocument, UploadState
from pixtract.upload.app import create_app
from pixtract.upload.config import Settings
from pixtract.upload.domain.inspection import UnsupportedImage
from pixtract.upload.domain.resumable import (
    MalformedHeader,
    SegmentCutter,
    UnsupportedChecksum,
    encode_upload_metadata,
    http_date,
    parse_non_negative,
    parse_upload_checksum,
    parse_upload_metadata,
)
from pixtract.upload.ingest import FileRefused, ImageIngest
from pixtract.upload.resumable import (
    ChecksumMismatch,
    ExceedsLength,
    OffsetMismatch,
    ResumableLimits,
    ResumableUploads,
    UploadExpired,
    UploadLocked,
    UploadNotFound,
)
from tests.unit.upload.test_ingest import FakeObjects, FakeRecords

SEGMENT = 1000
MERGE_BELOW = 300


# ----- pure protocol logic ---------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_upload_metadata_is_decoded_and_encoded_back() -> None:
    raw = f"filename {_b64('holiday ünïcode.heic')},filetype {_b64('image/heic')},is_confidential"
    pairs = parse_upload_metadata(raw)
    assert pairs == {"filename": "holiday ünïcode.heic", "filetype": "image/heic", "is_confidential": None}
    assert parse_upload_metadata(encode_upload_metadata(pairs)) == pairs
    assert parse_upload_metadata(None) == {}


@pytest.mark.parametrize(
    "raw",
    ["filename not*base64", "file name abc", "a YQ==,a YQ==", f"bad,key {_b64('x')} extra", "k " + _b64("x") * 2000],
)
def test_malformed_upload_metadata_is_refused(raw: str) -> None:
    with pytest.raises(MalformedHeader):
        parse_upload_metadata(raw)


def test_offsets_and_lengths_are_plain_non_negative_integers() -> None:
    assert parse_non_negative("Upload-Offset", " 42 ") == 42
    for raw in (None, "-1", "1e3", "", "0x10", "4 2"):
        with pytest.raises(MalformedHeader):
            parse_non_negative("Upload-Offset", raw)


def test_checksums_name_an_offered_algorithm_and_a_digest_of_its_size() -> None:
    digest = hashlib.sha1(b"abc").digest()
    spec = parse_upload_checksum("sha1 " + base64.b64encode(digest).decode())
    assert spec is not None
    assert (spec.algorithm, spec.digest) == ("sha1", digest)
    assert parse_upload_checksum(None) is None
    with pytest.raises(UnsupportedChecksum, match="md5"):
        parse_upload_checksum("md5 " + base64.b64encode(hashlib.md5(b"abc").digest()).decode())
    with pytest.raises(MalformedHeader, match="wrong length"):
        parse_upload_checksum("sha256 " + base64.b64encode(digest).decode())


def test_segments_are_cut_to_size_whatever_the_chunking() -> None:
    cutter = SegmentCutter(4, carried=b"ab")
    assert cutter.feed(b"c") == []
    assert cutter.feed(b"defghij") == [b"abcd", b"efgh"]
    assert cutter.rest() == b"ij"
    assert cutter.pending == 2


# ----- the service with fakes --------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class FakeUploads:
    """The Mongo repository's conditions, in memory."""

    def __init__(self) -> None:
        self.docs: dict[str, Any] = {}

    @staticmethod
    def _free(doc: Any, now: datetime) -> bool:
        lease = doc.get("lease")
        return lease is None or lease["until"] < now

    async def insert(self, document: UploadDocument) -> None:
        self.docs[document["_id"]] = dict(document)

    async def get(self, owner_id: str, upload_id: str) -> UploadDocument | None:
        doc = self.docs.get(upload_id)
        return cast(UploadDocument, dict(doc)) if doc is not None and doc["owner_id"] == owner_id else None

    async def acquire(
        self, owner_id: str, upload_id: str, *, offset: int, token: str, until: datetime, now: datetime
    ) -> UploadDocument | None:
        doc = self.docs.get(upload_id)
        if (
            doc is None
            or doc["owner_id"] != owner_id
            or doc["offset"] != offset
            or doc["state"] == UploadState.COMPLETED.value
            or doc["expires_at"] <= now
            or not self._free(doc, now)
        ):
            return None
        doc["lease"] = {"token": token, "until": until}
        return cast(UploadDocument, dict(doc))

    async def acquire_received(self, upload_id: str, *, token: str, until: datetime, now: datetime) -> bool:
        doc = self.docs.get(upload_id)
        if doc is None or doc["state"] != UploadState.RECEIVED.value or not self._free(doc, now):
            return False
        doc["lease"] = {"token": token, "until": until}
        return True

    def _leased(self, upload_id: str, token: str) -> Any:
        doc = self.docs.get(upload_id)
        lease = doc.get("lease") if doc is not None else None
        return doc if lease is not None and lease["token"] == token else None

    async def commit(
        self,
        upload_id: str,
        token: str,
        *,
        from_offset: int,
        segments: list[SegmentDocument],
        state: UploadState,
        lease_until: datetime,
        expires_at: datetime,
    ) -> bool:
        doc = self._leased(upload_id, token)
        if doc is None or doc["offset"] != from_offset:
            return False
        doc.update(
            segments=list(segments),
            offset=sum(s["size"] for s in segments),
            state=state.value,
            expires_at=expires_at,
        )
        return True

    async def extend_lease(self, upload_id: str, token: str, until: datetime) -> bool:
        return self._leased(upload_id, token) is not None

    async def release(self, upload_id: str, token: str) -> None:
        doc = self._leased(upload_id, token)
        if doc is not None:
            doc["lease"] = None

    async def complete(
        self, upload_id: str, token: str, *, image_id: str, duplicate: bool, expires_at: datetime
    ) -> None:
        doc = self._leased(upload_id, token)
        assert doc is not None
        doc.update(
            state=UploadState.COMPLETED.value,
            image_id=image_id,
            duplicate=duplicate,
            segments=[],
            lease=None,
            expires_at=expires_at,
        )

    async def delete(self, owner_id: str, upload_id: str) -> UploadDocument | None:
        doc = self.docs.get(upload_id)
        if doc is None or doc["owner_id"] != owner_id:
            return None
        return cast(UploadDocument, self.docs.pop(upload_id))

    async def delete_expired(self, upload_id: str, now: datetime) -> bool:
        doc = self.docs.get(upload_id)
        if doc is None or doc["expires_at"] >= now or not self._free(doc, now):
            return False
        del self.docs[upload_id]
        return True

    async def expired(self, now: datetime, limit: int) -> list[UploadDocument]:
        return [
            cast(UploadDocument, dict(d)) for d in self.docs.values() if d["expires_at"] < now and self._free(d, now)
        ][:limit]

    async def received_unleased(self, now: datetime, limit: int) -> list[UploadDocument]:
        return [
            cast(UploadDocument, dict(d))
            for d in self.docs.values()
            if d["state"] == UploadState.RECEIVED.value and d["expires_at"] > now and self._free(d, now)
        ][:limit]


class SegmentStore(FakeObjects):
    """Objects for both the ingest (originals, thumbnails) and the staging segments."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read(self, key: str) -> bytes | None:
        self.reads += 1
        found = self.objects.get(key)
        return found[0] if found is not None else None

    async def open_download(self, key: str) -> ObjectDownload | None:
        found = self.objects.get(key)
        if found is None:
            return None

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(found[0]), 64):
                yield found[0][start : start + 64]

        return ObjectDownload(found[1], len(found[0]), chunks())

    async def delete_prefix_quietly(self, prefix: str) -> None:
        for key in [k for k in self.objects if k.startswith(prefix)]:
            del self.objects[key]

    def staged(self, owner_id: str = "alice") -> dict[str, bytes]:
        return {k: v[0] for k, v in self.objects.items() if k.startswith(f"uploads/{owner_id}/")}


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _png(size: tuple[int, int] = (120, 80), color: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40).convert("RGB").save(out, format="PNG")
    return out.getvalue()


class Parts:
    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self.clock = Clock()
        self.uploads = FakeUploads()
        self.objects = SegmentStore()
        self.records = FakeRecords()
        ingest = ImageIngest(self.records, self.objects, executor, max_pixels=10_000_000)
        self.limits = ResumableLimits(
            max_length=10_000_000,
            segment_bytes=SEGMENT,
            merge_below_bytes=MERGE_BELOW,
            expire_after=timedelta(hours=1),
            lease=timedelta(seconds=30),
            spool_memory_bytes=1024,
        )
        self.resumable = ResumableUploads(self.uploads, self.objects, ingest, self.limits, clock=self.clock)

    async def create(self, length: int, owner_id: str = "alice", filename: str = "scan.png") -> str:
        document = await self.resumable.create(owner_id, length, {"filename": filename})
        return document["_id"]

    async def patch(
        self, upload_id: str, offset: int, *parts: bytes, checksum: Any = None, owner: str = "alice"
    ) -> Any:
        return await self.resumable.append(
            owner, upload_id, offset=offset, body=_chunks(*parts), content_length=None, checksum=checksum
        )


@pytest.fixture
def parts() -> Iterator[Parts]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield Parts(executor)


async def test_an_upload_in_three_patches_becomes_an_image_through_the_normal_pipeline(parts: Parts) -> None:
    data = _png((200, 150))
    upload_id = await parts.create(len(data))
    third = len(data) // 3
    first = await parts.patch(upload_id, 0, data[:third])
    assert (first.offset, first.image) == (third, None)
    second = await parts.patch(upload_id, third, data[third : 2 * third])
    assert second.offset == 2 * third
    # Every segment but the last is exactly the segment size: few objects, bounded memory.
    doc = parts.uploads.docs[upload_id]
    assert all(s["size"] == SEGMENT for s in doc["segments"][:-1])
    assert b"".join(parts.objects.staged().values()) != b""
    last = await parts.patch(upload_id, 2 * third, data[2 * third :])
    assert last.offset == len(data)
    assert last.image is not None
    assert last.image.duplicate is False
    image = last.image.document
    assert (image["filename"], image["content_type"], image["size"]) == ("scan.png", "image/png", len(data))
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    assert parts.objects.objects[f"originals/alice/{image['_id']}"][0] == data
    # The staging segments are gone; the upload remembers its image.
    assert parts.objects.staged() == {}
    assert parts.uploads.docs[upload_id]["state"] == UploadState.COMPLETED.value
    assert parts.uploads.docs[upload_id]["image_id"] == image["_id"]


async def test_a_repeated_final_patch_answers_the_same_image(parts: Parts) -> None:
    data = _png()
    upload_id = await parts.create(len(data))
    done = await parts.patch(upload_id, 0, data)
    again = await parts.patch(upload_id, len(data))
    assert again.image is not None
    assert done.image is not None
    assert again.image.document["_id"] == done.image.document["_id"]
    with pytest.raises(OffsetMismatch):
        await parts.patch(upload_id, 0, data)


async def test_bytes_the_owner_already_has_finish_as_a_duplicate(parts: Parts) -> None:
    data = _png()
    first = await parts.patch(await parts.create(len(data)), 0, data)
    second = await parts.patch(await parts.create(len(data)), 0, data)
    assert first.image is not None
    assert second.image is not None
    assert second.image.duplicate is True
    assert second.image.document["_id"] == first.image.document["_id"]
    assert len(parts.records.live) == 1


async def test_small_patches_are_merged_into_few_segments(parts: Parts) -> None:
    upload_id = await parts.create(5000)
    offset = 0
    for _ in range(20):
        result = await parts.patch(upload_id, offset, b"x" * 100)
        offset = result.offset
    segments = parts.uploads.docs[upload_id]["segments"]
    assert offset == 2000
    # 100-byte PATCHes: a small last segment is rewritten with the next bytes until it is
    # big enough to keep, so segments stay few without rewriting much.
    sizes = [s["size"] for s in segments]
    assert sum(sizes) == 2000
    assert all(size >= MERGE_BELOW for size in sizes[:-1])
    assert len(sizes) <= 2000 // MERGE_BELOW + 1
    assert len(parts.objects.staged()) == len(sizes)


async def test_offset_mismatch_and_overlong_bodies_are_refused(parts: Parts) -> None:
    upload_id = await parts.create(100)
    await parts.patch(upload_id, 0, b"a" * 40)
    with pytest.raises(OffsetMismatch) as mismatch:
        await parts.patch(upload_id, 10, b"b")
    assert mismatch.value.current == 40
    with pytest.raises(ExceedsLength):
        await parts.patch(upload_id, 40, b"c" * 61)
    assert parts.uploads.docs[upload_id]["offset"] == 40


async def test_a_checksum_mismatch_keeps_nothing_of_the_patch(parts: Parts) -> None:
    upload_id = await parts.create(3000)
    await parts.patch(upload_id, 0, b"a" * 500)
    before = dict(parts.objects.staged())
    wrong = parse_upload_checksum("sha1 " + base64.b64encode(hashlib.sha1(b"other").digest()).decode())
    with pytest.raises(ChecksumMismatch):
        await parts.patch(upload_id, 500, b"b" * 1200, checksum=wrong)
    assert parts.uploads.docs[upload_id]["offset"] == 500
    assert parts.objects.staged() == before
    right = parse_upload_checksum("sha256 " + base64.b64encode(hashlib.sha256(b"b" * 1200).digest()).decode())
    assert (await parts.patch(upload_id, 500, b"b" * 1200, checksum=right)).offset == 1700


async def test_a_second_writer_is_locked_out_while_the_first_holds_the_lease(parts: Parts) -> None:
    upload_id = await parts.create(100)
    parts.uploads.docs[upload_id]["lease"] = {"token": "other", "until": parts.clock.now + timedelta(seconds=5)}
    with pytest.raises(UploadLocked):
        await parts.patch(upload_id, 0, b"a")
    # A lease left by a crashed replica runs out.
    parts.clock.now += timedelta(seconds=6)
    assert (await parts.patch(upload_id, 0, b"a")).offset == 1


async def test_another_users_upload_is_not_found(parts: Parts) -> None:
    upload_id = await parts.create(100)
    with pytest.raises(UploadNotFound):
        await parts.patch(upload_id, 0, b"a", owner="mallory")
    with pytest.raises(UploadNotFound):
        await parts.resumable.status("mallory", upload_id)
    with pytest.raises(UploadNotFound):
        await parts.resumable.terminate("mallory", upload_id)


async def test_a_file_refused_at_the_end_leaves_nothing_behind(parts: Parts) -> None:
    data = b"%PDF-1.7\n" + b"x" * 2500
    upload_id = await parts.create(len(data), filename="invoice.jpg")
    await parts.patch(upload_id, 0, data[:1500])
    with pytest.raises(FileRefused) as refused:
        await parts.patch(upload_id, 1500, data[1500:])
    assert isinstance(refused.value.reason, UnsupportedImage)
    assert refused.value.filename == "invoice.jpg"
    assert upload_id not in parts.uploads.docs
    assert parts.objects.objects == {}
    assert parts.records.live == {}


async def test_termination_removes_the_upload_and_its_bytes(parts: Parts) -> None:
    upload_id = await parts.create(5000)
    await parts.patch(upload_id, 0, b"z" * 2500)
    await parts.resumable.terminate("alice", upload_id)
    assert parts.uploads.docs == {}
    assert parts.objects.staged() == {}
    with pytest.raises(UploadNotFound):
        await parts.resumable.status("alice", upload_id)


async def test_expired_uploads_are_refused_then_swept_with_their_bytes(parts: Parts) -> None:
    stale = await parts.create(5000)
    await parts.patch(stale, 0, b"s" * 1500)
    parts.clock.now += timedelta(minutes=30)
    fresh = await parts.create(5000)
    await parts.patch(fresh, 0, b"f" * 10)
    # Each PATCH pushes the expiry on; the stale one was last touched 30 minutes earlier.
    parts.clock.now += timedelta(minutes=31)
    with pytest.raises(UploadExpired):
        await parts.patch(stale, 1500, b"s")
    assert await parts.resumable.sweep() == 1
    assert set(parts.uploads.docs) == {fresh}
    assert all(f"/{stale}/" not in key for key in parts.objects.staged())
    assert parts.objects.staged() != {}


async def test_the_sweeper_finishes_an_upload_whose_last_patch_could_not(parts: Parts) -> None:
    data = _png()
    upload_id = await parts.create(len(data))
    records_insert = parts.records.insert

    async def down(document: Any) -> None:
        raise ConnectionError("mongo is down")

    parts.records.insert = down  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await parts.patch(upload_id, 0, data)
    assert parts.uploads.docs[upload_id]["state"] == UploadState.RECEIVED.value
    assert parts.uploads.docs[upload_id]["lease"] is None
    parts.records.insert = records_insert  # type: ignore[method-assign]
    assert await parts.resumable.sweep() == 1
    assert parts.uploads.docs[upload_id]["state"] == UploadState.COMPLETED.value
    assert len(parts.records.live) == 1


# ----- the HTTP layer ------------------------------------------------------------------------


@pytest.fixture
async def http(parts: Parts) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    app.state.resumable = parts.resumable
    app.dependency_overrides[current_principal] = lambda: Principal(
        user_id="alice", scopes=frozenset({"images:read", "images:write"})
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://upload") as client:
        yield client


TUS = {"Tus-Resumable": "1.0.0"}
PATCH_HEADERS = {**TUS, "Content-Type": "application/offset+octet-stream"}


async def test_discovery_names_what_is_implemented(http: httpx.AsyncClient) -> None:
    response = await http.options("/api/v1/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert response.headers["Tus-Extension"] == "creation,termination,checksum,expiration"
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1,sha256"
    assert response.headers["Tus-Max-Size"] == "10000000"


async def test_the_protocol_over_http(http: httpx.AsyncClient) -> None:
    data = _png((160, 90))
    created = await http.post(
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {_b64('a.png')}"},
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith("/api/v1/uploads/")
    assert created.headers["Tus-Resumable"] == "1.0.0"
    assert "GMT" in created.headers["Upload-Expires"]

    half = len(data) // 2
    first = await http.patch(location, content=data[:half], headers={**PATCH_HEADERS, "Upload-Offset": "0"})
    assert first.status_code == 204
    assert first.headers["Upload-Offset"] == str(half)
    head = await http.head(location, headers=TUS)
    assert (head.status_code, head.headers["Upload-Offset"], head.headers["Upload-Length"]) == (
        200,
        str(half),
        str(len(data)),
    )
    assert head.headers["Cache-Control"] == "no-store"
    assert parse_upload_metadata(head.headers["Upload-Metadata"]) == {"filename": "a.png"}

    wrong_type = await http.patch(
        location, content=b"x", headers={**TUS, "Content-Type": "image/png", "Upload-Offset": str(half)}
    )
    assert wrong_type.status_code == 415
    assert wrong_type.headers["Tus-Resumable"] == "1.0.0"
    conflict = await http.patch(location, content=b"x", headers={**PATCH_HEADERS, "Upload-Offset": "1"})
    assert conflict.status_code == 409
    assert conflict.headers["Upload-Offset"] == str(half)
    mismatch = await http.patch(
        location,
        content=data[half:],
        headers={
            **PATCH_HEADERS,
            "Upload-Offset": str(half),
            "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(b"nope").digest()).decode(),
        },
    )
    assert mismatch.status_code == 460
    assert mismatch.json()["type"].endswith("/checksum-mismatch")

    last = await http.patch(
        location,
        content=data[half:],
        headers={
            **PATCH_HEADERS,
            "Upload-Offset": str(half),
            "Upload-Checksum": "sha1 " + base64.b64encode(hashlib.sha1(data[half:]).digest()).decode(),
        },
    )
    assert last.status_code == 204, last.text
    assert last.headers["Upload-Offset"] == str(len(data))
    assert len(last.headers["Pixtract-Image-Id"]) == 32
    assert "Pixtract-Duplicate" not in last.headers


async def test_version_mismatch_is_412_and_unknown_uploads_404(http: httpx.AsyncClient) -> None:
    old = await http.head("/api/v1/uploads/abc", headers={"Tus-Resumable": "0.2.2"})
    assert old.status_code == 412
    assert old.headers["Tus-Version"] == "1.0.0"
    unknown = "/api/v1/uploads/" + "0" * 32
    missing = await http.patch(unknown, content=b"x", headers={**PATCH_HEADERS, "Upload-Offset": "0"})
    assert missing.status_code == 404
    assert missing.headers["Tus-Resumable"] == "1.0.0"
    gone = await http.delete(unknown, headers=TUS)
    assert gone.status_code == 404


async def test_creation_limits(http: httpx.AsyncClient) -> None:
    too_big = await http.post("/api/v1/uploads", headers={**TUS, "Upload-Length": str(10_000_001)})
    assert too_big.status_code == 413
    assert too_big.headers["Tus-Max-Size"] == "10000000"
    empty = await http.post("/api/v1/uploads", headers={**TUS, "Upload-Length": "0"})
    assert empty.status_code == 415
    assert "empty file" in empty.json()["detail"]
    deferred = await http.post("/api/v1/uploads", headers={**TUS, "Upload-Defer-Length": "1"})
    assert deferred.status_code == 400
    bad_metadata = await http.post(
        "/api/v1/uploads", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "filename ***"}
    )
    assert bad_metadata.status_code == 400


async def test_a_refused_file_answers_the_final_patch_with_the_upload_problem(http: httpx.AsyncClient) -> None:
    data = b"PK\x03\x04" + b"\x00" * 200
    created = await http.post(
        "/api/v1/uploads",
        headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {_b64('photos.jpg')}"},
    )
    location = created.headers["Location"]
    refused = await http.patch(location, content=data, headers={**PATCH_HEADERS, "Upload-Offset": "0"})
    assert refused.status_code == 415
    assert refused.headers["content-type"] == "application/problem+json"
    assert "photos.jpg is not a supported image: detected ZIP archive" in refused.json()["detail"]
    assert (await http.head(location, headers=TUS)).status_code == 404


def test_upload_expires_is_an_http_date_for_any_aware_datetime() -> None:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=bson_utc)
    assert http_date(moment) == "Sun, 01 Mar 2026 12:30:00 GMT"
