"""Storing a request's files with fakes for Mongo and S3: all or nothing, duplicates, clean-up."""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import IO

import pytest
from PIL import Image

from pixtract.events.v1 import images_pb2
from pixtract.upload.adapters.mongo import DuplicateImage
from pixtract.upload.domain.formats import HEAD_BYTES
from pixtract.upload.domain.inspection import CorruptImage, UnsupportedImage
from pixtract.upload.domain.records import ImageDocument
from pixtract.upload.ingest import FileRefused, ImageIngest, ReceivedFile


class FakeRecords:
    def __init__(self) -> None:
        self.live: dict[tuple[str, str], ImageDocument] = {}
        self.fail_insert: Exception | None = None
        # Simulates a concurrent request storing the same bytes between our check and our insert.
        self.hidden_until_insert: ImageDocument | None = None
        # Placeholders: image id -> the keys claimed before the objects were written.
        self.claimed: dict[str, list[str]] = {}

    async def find_live_by_sha256(self, owner_id: str, sha256: str) -> ImageDocument | None:
        return self.live.get((owner_id, sha256))

    async def insert(self, document: ImageDocument) -> None:
        if self.fail_insert is not None:
            raise self.fail_insert
        if self.hidden_until_insert is not None:
            twin, self.hidden_until_insert = self.hidden_until_insert, None
            self.live[(twin["owner_id"], twin["sha256"])] = twin
        key = (document["owner_id"], document["sha256"])
        if key in self.live:
            raise DuplicateImage(document["sha256"])
        assert self.claimed.pop(document["_id"]), "the keys were claimed before the objects were written"
        self.live[key] = document

    async def claim_keys(self, owner_id: str, image_id: str, keys: list[str], *, grace: timedelta) -> None:
        assert grace.total_seconds() > 0
        self.claimed[image_id] = keys

    async def release_keys(self, image_id: str) -> None:
        self.claimed.pop(image_id)


class FakeObjects:
    bucket = "media"

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        # S3 going away after this many puts: later puts and every delete fail.
        self.down_after_puts: int | None = None
        # A thumbnail put failing on its own (S3 still answers deletes).
        self.refuse_thumbnails = False

    def _check_up(self) -> None:
        if self.down_after_puts is not None and len(self.objects) >= self.down_after_puts:
            raise ConnectionError("S3 went away")

    async def put_file(self, key: str, source: IO[bytes], *, size: int, content_type: str) -> None:
        self._check_up()
        source.seek(0)
        data = source.read()
        assert len(data) == size
        self.objects[key] = (data, content_type)

    async def put_bytes(self, key: str, data: bytes, *, content_type: str) -> None:
        self._check_up()
        if self.refuse_thumbnails:
            raise ConnectionError("S3 dropped the connection")
        self.objects[key] = (data, content_type)

    async def delete_keys_quietly(self, keys: Iterable[str]) -> bool:
        if self.down_after_puts is not None:
            return False
        for key in keys:
            self.objects.pop(key, None)
        return True


def _received(data: bytes, filename: str) -> ReceivedFile:
    # Closed with the ReceivedFile, as the upload route does.
    received = ReceivedFile(filename=filename, spool=tempfile.SpooledTemporaryFile())  # noqa: SIM115
    received.write(data)
    return received


def _png(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


@pytest.fixture
def parts() -> tuple[FakeRecords, FakeObjects, list[int]]:
    return FakeRecords(), FakeObjects(), []


def _ingest(records: FakeRecords, objects: FakeObjects, executor: ThreadPoolExecutor, woken: list[int]) -> ImageIngest:
    return ImageIngest(records, objects, executor, max_pixels=10_000_000, on_stored=lambda: woken.append(1))


async def test_a_png_named_jpg_is_stored_as_png_with_thumbnails_and_its_event(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    data = _png()
    [stored] = await _ingest(records, objects, executor, woken).ingest("u1", [_received(data, "holiday.jpg")])
    document = stored.document
    assert stored.duplicate is False
    assert (document["filename"], document["content_type"], document["size"]) == ("holiday.jpg", "image/png", len(data))
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    image_id = document["_id"]
    assert len(image_id) == 32
    assert int(image_id, 16) >= 0
    assert objects.objects[f"originals/u1/{image_id}"] == (data, "image/png")
    assert {key for key in objects.objects if key.startswith("thumbs/")} == {
        f"thumbs/u1/{image_id}/small.webp",
        f"thumbs/u1/{image_id}/large.webp",
    }
    [entry] = document["outbox"]
    assert (entry["topic"], entry["key"]) == ("images.uploaded", image_id)
    event = images_pb2.ImageUploaded.FromString(entry["payload"])
    assert (event.image_id, event.owner_id, event.original.key, event.attempt) == (
        image_id,
        "u1",
        f"originals/u1/{image_id}",
        1,
    )
    assert woken == [1]


async def test_one_refused_file_refuses_the_whole_request_and_stores_nothing(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    files = [_received(_png(), "good.png"), _received(b"%PDF-1.4 not an image", "doc.jpg")]
    with pytest.raises(FileRefused) as refused:
        await _ingest(records, objects, executor, woken).ingest("u1", files)
    assert (refused.value.position, refused.value.filename) == (2, "doc.jpg")
    assert isinstance(refused.value.reason, UnsupportedImage)
    assert objects.objects == {}
    assert records.live == {}
    assert woken == []


async def test_a_truncated_file_is_refused_as_corrupt(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    with pytest.raises(FileRefused) as refused:
        await _ingest(records, objects, executor, woken).ingest("u1", [_received(_png()[:150], "cut.png")])
    assert isinstance(refused.value.reason, CorruptImage)
    assert objects.objects == {}


async def test_a_record_write_that_may_have_happened_keeps_objects_and_claim(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    # Mongo may have applied the write before the connection broke: removing the objects
    # could leave a live image without them. The purge removes them if the claim is still there.
    records.fail_insert = ConnectionError("mongo went away")
    with pytest.raises(ConnectionError):
        await _ingest(records, objects, executor, woken).ingest("u1", [_received(_png(), "a.png")])
    [(image_id, keys)] = records.claimed.items()
    assert set(objects.objects) == set(keys)
    assert keys[0] == f"originals/u1/{image_id}"


async def test_objects_that_cannot_be_removed_stay_claimed_for_the_purge(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    objects.down_after_puts = 2  # the original and one thumbnail are stored, then S3 is gone
    with pytest.raises(ConnectionError):
        await _ingest(records, objects, executor, woken).ingest("u1", [_received(_png(), "a.png")])
    [(image_id, keys)] = records.claimed.items()
    assert keys[0] == f"originals/u1/{image_id}"
    assert len(keys) == 3
    assert set(objects.objects) < set(keys)  # what was written is among what was claimed
    assert records.live == {}


async def test_a_failed_store_that_could_clean_up_leaves_no_claim(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    objects.refuse_thumbnails = True
    with pytest.raises(ConnectionError):
        await _ingest(records, objects, executor, woken).ingest("u1", [_received(_png(), "a.png")])
    assert (objects.objects, records.claimed, records.live) == ({}, {}, {})


async def test_known_bytes_come_back_as_the_existing_image_without_decoding(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    garbage = b"not even an image"
    existing: ImageDocument = {"_id": "old", "owner_id": "u1", "sha256": hashlib.sha256(garbage).hexdigest()}
    records.live[("u1", existing["sha256"])] = existing
    [result] = await _ingest(records, objects, executor, woken).ingest("u1", [_received(garbage, "again.png")])
    assert result.duplicate is True
    assert result.document is existing
    assert objects.objects == {}


async def test_losing_a_race_to_the_same_bytes_returns_the_winner_and_cleans_up(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    data = _png("green")
    winner: ImageDocument = {"_id": "winner", "owner_id": "u1", "sha256": hashlib.sha256(data).hexdigest()}
    records.hidden_until_insert = winner
    [result] = await _ingest(records, objects, executor, woken).ingest("u1", [_received(data, "race.png")])
    assert result.duplicate is True
    assert result.document is winner
    assert objects.objects == {}
    assert woken == []


async def test_the_same_file_twice_in_a_request_is_stored_once(
    parts: tuple[FakeRecords, FakeObjects, list[int]], executor: ThreadPoolExecutor
) -> None:
    records, objects, woken = parts
    data = _png("blue")
    results = await _ingest(records, objects, executor, woken).ingest(
        "u1", [_received(data, "1.png"), _received(data, "2.png")]
    )
    assert [r.duplicate for r in results] == [False, True]
    assert results[0].document["_id"] == results[1].document["_id"]
    assert len([key for key in objects.objects if key.startswith("originals/")]) == 1


def test_the_received_head_is_what_detection_needs() -> None:
    received = _received(b"a" * 10 + b"b" * 100, "x")
    assert received.head == (b"a" * 10 + b"b" * 100)[:HEAD_BYTES]
