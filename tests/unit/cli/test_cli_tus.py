"""The tus client against an in-process tus server: chunks, lost connections, resumption."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pixtract.cli.problems import ApiError
from pixtract.cli.session import ApiSession
from pixtract.cli.tus import ResumeStore, StoredSlot, TusClient, TusError, encode_metadata
from tests.unit.cli.fakes import FakeTusServer

CHUNK = 64 * 1024
BASE = "http://pixtract.test"


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def server() -> FakeTusServer:
    return FakeTusServer()


@pytest.fixture
async def api(server: FakeTusServer) -> AsyncIterator[ApiSession]:
    async with ApiSession(BASE, None, transport=httpx.MockTransport(server)) as session:
        yield session


@pytest.fixture
def client(api: ApiSession) -> TusClient:
    return TusClient(api, chunk_bytes=CHUNK, sleep=_no_sleep)


@pytest.fixture
def big_file(tmp_path: Path) -> tuple[Path, bytes]:
    data = os.urandom(CHUNK * 5 + 1000)
    path = tmp_path / "panorama ü.tif"
    path.write_bytes(data)
    return path, data


@pytest.fixture
def slot(tmp_path: Path) -> StoredSlot:
    return StoredSlot(ResumeStore(tmp_path / "resumable-uploads.json"), "key-1", "panorama ü.tif")


async def test_discovery(client: TusClient, server: FakeTusServer) -> None:
    server.checksum = True
    server.max_size = 10**9
    offered = await client.discover()
    assert offered is not None
    assert offered.checksum_algorithm == "sha1"
    assert offered.max_size == 10**9
    assert "creation" in offered.extensions


async def test_a_server_without_tus_is_recognised() -> None:
    not_tus = httpx.MockTransport(lambda request: httpx.Response(404, json={"title": "Not Found"}))
    async with ApiSession(BASE, None, transport=not_tus) as api:
        assert await TusClient(api).discover() is None

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with ApiSession(BASE, None, transport=httpx.MockTransport(refused)) as api:
        assert await TusClient(api).discover() is None


async def test_a_file_goes_in_chunks_with_its_name(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    offsets: list[int] = []
    result = await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=offsets.append)
    [upload] = server.uploads.values()
    assert bytes(upload.data) == data
    assert upload.metadata == {"filename": "panorama ü.tif"}
    assert offsets == [0, CHUNK, 2 * CHUNK, 3 * CHUNK, 4 * CHUNK, 5 * CHUNK, len(data)]
    assert result.final is not None
    assert result.final.status_code == 204
    assert result.image_id is None
    assert result.resumed_from == 0
    assert result.url == f"{BASE}/api/v1/uploads/u1"
    assert slot.get() is None, "a finished upload leaves nothing to resume"


async def test_a_dropped_connection_resumes_from_the_servers_offset(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.drop_patch = {3: 1234}  # the third chunk breaks off after 1234 bytes arrived
    server.fail_head_times = 2  # and the network stays down for two more tries
    offsets: list[int] = []
    await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=offsets.append)
    [upload] = server.uploads.values()
    assert bytes(upload.data) == data
    assert 2 * CHUNK + 1234 in offsets
    # Nothing was sent twice: the resumed chunk started where the server's copy ended.
    assert server.patched_bytes == len(data)
    assert [method for method, _ in server.requests].count("HEAD") == 3


async def test_the_last_patch_names_the_image(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.finish = lambda upload: ("img-7", True)
    result = await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert (result.image_id, result.duplicate) == ("img-7", True)


async def test_a_lost_final_answer_is_found_complete_by_head(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.finish = lambda upload: ("img-1", False)
    server.lose_answer_of_patch = {6}
    result = await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert result.final is not None
    assert result.final.request.method == "HEAD"
    assert result.image_id == "img-1"
    assert bytes(next(iter(server.uploads.values())).data) == data


async def test_a_rerun_resumes_the_upload_in_the_state_file(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.drop_patch = {2: 10}
    failing = TusClient(client._api, chunk_bytes=CHUNK, max_retries=0, sleep=_no_sleep)
    with pytest.raises(TusError, match="gave up"):
        await failing.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    url = slot.get()
    assert url == f"{BASE}/api/v1/uploads/u1", "the URL is kept for the next run"
    server.patched_bytes = 0

    result = await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert result.url == url
    assert result.resumed_from == CHUNK + 10
    assert server.patched_bytes == len(data) - (CHUNK + 10)
    assert len(server.uploads) == 1
    assert bytes(server.uploads["u1"].data) == data
    assert slot.get() is None


async def test_an_upload_the_server_forgot_starts_over(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    slot.put(f"{BASE}/api/v1/uploads/expired")
    result = await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert result.url == f"{BASE}/api/v1/uploads/u1"
    assert bytes(server.uploads["u1"].data) == data


async def test_checksums_are_sent_when_offered_and_a_mismatch_is_retried(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.checksum = True
    await client.discover()
    original = server._patch
    corrupted = {"done": False}

    def corrupt_once(request: httpx.Request, upload: object) -> httpx.Response:
        if not corrupted["done"]:
            corrupted["done"] = True
            request._content = b"x" + request.content[1:]  # damaged on the way
        return original(request, upload)  # type: ignore[arg-type]

    server._patch = corrupt_once  # type: ignore[method-assign]
    await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert bytes(server.uploads["u1"].data) == data


async def test_a_refusal_is_the_servers_problem(
    client: TusClient, server: FakeTusServer, big_file: tuple[Path, bytes], slot: StoredSlot
) -> None:
    path, data = big_file
    server.max_size = 1000
    with pytest.raises(ApiError) as refused:
        await client.upload(path, len(data), filename=path.name, slot=slot, on_offset=lambda _: None)
    assert refused.value.status == 413
    assert slot.get() is None


def test_metadata_is_base64_pairs() -> None:
    encoded = encode_metadata({"filename": "ü.jpg", "filetype": "image/jpeg"})
    name, value = encoded.split(",")[0].split(" ")
    assert name == "filename"
    assert base64.b64decode(value).decode() == "ü.jpg"
