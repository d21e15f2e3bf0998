"""Page cursors: they round-trip exactly, and anything else is refused as malformed."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from pixtract.upload.domain.cursor import MalformedCursor, PageCursor, decode_cursor, encode_cursor


def _b64(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_at_millisecond_precision() -> None:
    cursor = PageCursor(datetime(2026, 11, 28, 9, 15, 30, 123000, tzinfo=UTC), "0f" * 16)
    encoded = encode_cursor(cursor)
    assert decode_cursor(encoded) == cursor
    assert encoded.isascii()
    assert "=" not in encoded
    assert "/" not in encoded
    assert "+" not in encoded


def test_the_epoch_and_far_future_round_trip() -> None:
    for moment in (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)):
        assert decode_cursor(encode_cursor(PageCursor(moment, "abc"))).uploaded_at == moment


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a cursor!",
        "%%%",
        "a",
        "x" * 201,
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
        _b64({"t": 1, "id": "abc"}),
        _b64([1, 2]),
        _b64(["1", "abc"]),
        _b64([1, "abc", 3]),
        _b64([True, "abc"]),
        _b64([-1, "abc"]),
        _b64([10**20, "abc"]),
        _b64([1, ""]),
        _b64([1, "../etc"]),
        _b64([1, {"$gt": ""}]),
        _b64(None),
    ],
)
def test_malformed_cursors_are_refused(text: str) -> None:
    with pytest.raises(MalformedCursor):
        decode_cursor(text)
