from __future__ import annotations

import base64

import pytest

from pixtract.search.domain.cursor import InvalidCursor, decode_cursor, encode_cursor
from pixtract.search.domain.query_string import QueryError


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


def test_a_cursor_round_trips_its_sort_values() -> None:
    values: list[str | int | float] = [0.8765, -9223372036854775808, "img-é/1"]
    cursor = encode_cursor(values, sort="relevance")
    assert "=" not in cursor
    assert "/" not in cursor
    assert "+" not in cursor
    assert decode_cursor(cursor, sort="relevance", expected_length=3) == values


@pytest.mark.parametrize("other", ["newest", "oldest"])
def test_a_cursor_is_only_good_for_the_sort_it_was_made_for(other: str) -> None:
    cursor = encode_cursor([1700000000000, "img-9"], sort="oldest")
    assert decode_cursor(cursor, sort="oldest", expected_length=2) == [1700000000000, "img-9"]
    if other != "oldest":
        with pytest.raises(InvalidCursor):
            decode_cursor(cursor, sort=other, expected_length=2)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        _b64("not json"),
        _b64('{"after": [1]}'),
        _b64('["newest", 1]'),  # wrong length for this search
        _b64('[1, "a"]'),  # no sort named
        _b64('["newest", null, 1]'),
        _b64('["newest", true, "a"]'),
        _b64('["newest", {"a": 1}, "a"]'),
        _b64('["newest", NaN, "a"]'),
        _b64('["newest", Infinity, "a"]'),
        "A" * 5000,
    ],
)
def test_a_malformed_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor, match="cursor"):
        decode_cursor(cursor, sort="newest", expected_length=2)


def test_an_invalid_cursor_is_a_query_error() -> None:
    assert issubclass(InvalidCursor, QueryError)
