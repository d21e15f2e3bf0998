from __future__ import annotations

import base64

import pytest

from pixtract.search.domain.cursor import InvalidCursor, decode_cursor, encode_cursor
from pixtract.search.domain.query_string import QueryError


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


def test_a_cursor_round_trips_its_sort_values() -> None:
    values: list[str | int | float] = [0.8765, -9223372036854775808, "img-é/1"]
    cursor = encode_cursor(values)
    assert "=" not in cursor
    assert "/" not in cursor
    assert "+" not in cursor
    assert decode_cursor(cursor, expected_length=3) == values


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        _b64("not json"),
        _b64('{"after": [1]}'),
        _b64("[1]"),  # wrong length for this search
        _b64("[null, 1]"),
        _b64('[true, "a"]'),
        _b64('[{"a": 1}, "a"]'),
        _b64('[NaN, "a"]'),
        _b64('[Infinity, "a"]'),
        "A" * 5000,
    ],
)
def test_a_malformed_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="cursor"):
        decode_cursor(cursor, expected_length=2)


def test_an_invalid_cursor_is_a_query_error() -> None:
    assert issubclass(InvalidCursor, QueryError)
