"""Streaming multipart reception: parts spooled and hashed as they arrive, limits enforced on the way."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest

from pixtract.common.errors import Problem
from pixtract.upload.api.multipart import UploadLimits, part_filename, receive_files
from pixtract.upload.domain.formats import HEAD_BYTES
from pixtract.upload.ingest import ReceivedFile

BOUNDARY = "----pixtract-test-boundary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = UploadLimits(max_file_bytes=1000, max_files=3, spool_memory_bytes=64)


def _part(name: str, data: bytes, filename: str | bytes | None = None, content_type: str = "image/jpeg") -> bytes:
    disposition = f'form-data; name="{name}"'.encode()
    if filename is not None:
        raw = filename.encode() if isinstance(filename, str) else filename
        disposition += b'; filename="' + raw + b'"'
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b"Content-Disposition: "
        + disposition
        + f"\r\nContent-Type: {content_type}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )


def _body(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def _chunks(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def _receive(
    body: bytes, *, chunk: int = 17, limits: UploadLimits = LIMITS, content_type: str = CONTENT_TYPE
) -> list[ReceivedFile]:
    return await receive_files(content_type, _chunks(body, chunk), limits)


@pytest.fixture
def spools(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every spool the receiver opens, to check none is left open after a refusal."""
    opened: list[Any] = []
    real = tempfile.SpooledTemporaryFile

    def tracking(*args: Any, **kwargs: Any) -> Any:
        spool = real(*args, **kwargs)
        opened.append(spool)
        return spool

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", tracking)
    return opened


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
async def test_file_parts_are_spooled_and_hashed_whatever_the_chunking(chunk: int) -> None:
    first, second = bytes(range(256)) * 3, b"\x89PNG\r\n\x1a\n" + b"x" * 50
    body = _body(_part("files", first, "a.jpg"), _part("note", b"ignored field"), _part("files", second, "b.png"))
    received = await _receive(body, chunk=chunk)
    assert [(r.filename, r.size, r.sha256) for r in received] == [
        ("a.jpg", len(first), hashlib.sha256(first).hexdigest()),
        ("b.png", len(second), hashlib.sha256(second).hexdigest()),
    ]
    assert received[1].head == second[:HEAD_BYTES]
    received[0].spool.seek(0)
    assert received[0].spool.read() == first
    for r in received:
        r.close()


async def test_a_file_over_the_limit_is_refused_while_streaming_and_spools_are_closed(spools: list[Any]) -> None:
    body = _body(_part("files", b"ok", "small.jpg"), _part("files", b"x" * 1001, "big.jpg"))
    with pytest.raises(Problem) as refused:
        await _receive(body)
    assert refused.value.status == 413
    assert "big.jpg" in refused.value.detail
    assert len(spools) == 2
    assert all(spool.closed for spool in spools)


async def test_exactly_the_limit_is_fine() -> None:
    [received] = await _receive(_body(_part("files", b"x" * 1000, "edge.jpg")))
    assert received.size == 1000


async def test_too_many_files_are_refused(spools: list[Any]) -> None:
    body = _body(*[_part("files", b"data", f"{n}.jpg") for n in range(4)])
    with pytest.raises(Problem) as refused:
        await _receive(body)
    assert refused.value.status == 413
    assert all(spool.closed for spool in spools)


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("application/json", b"{}", 415),
        (None, b"", 415),
        ("multipart/form-data", b"", 400),
        (CONTENT_TYPE, _body(_part("files", b"data", "a.jpg"))[:-30], 400),
        (CONTENT_TYPE, b"this is not multipart at all", 400),
        (CONTENT_TYPE, _body(_part("other", b"data")), 422),
        (CONTENT_TYPE, _body(), 422),
    ],
)
async def test_bad_requests_get_a_precise_4xx(content_type: str | None, body: bytes, status: int) -> None:
    with pytest.raises(Problem) as refused:
        await receive_files(content_type, _chunks(body, 10), LIMITS)
    assert refused.value.status == status


async def test_file_names_arrive_as_the_user_wrote_them() -> None:
    body = _body(
        _part("files", b"1", "Ünïcode 写真.jpg"), _part("files", b"2", "say %22cheese%22.png"), _part("files", b"3")
    )
    received = await _receive(body)
    assert [r.filename for r in received] == ["Ünïcode 写真.jpg", 'say "cheese".png', None]


def test_non_utf8_file_names_fall_back_to_latin1() -> None:
    assert part_filename("café.jpg".encode("latin-1")) == "café.jpg"
