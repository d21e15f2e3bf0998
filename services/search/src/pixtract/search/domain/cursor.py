"""Page cursors: the `search_after` sort values of a page's last hit, opaque to clients.

A cursor names the sort it was made for, so one from a `newest` page is refused by an
`oldest` search instead of silently skipping to the wrong place.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

from pixtract.search.domain.query_string import QueryError

SortValue = str | int | float
MAX_CURSOR_CHARS = 2048


class InvalidCursor(QueryError):
    """The cursor was not made by us for this kind of search (or was mangled on the way)."""


def encode_cursor(sort_values: list[SortValue], *, sort: str) -> str:
    raw = json.dumps([sort, *sort_values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, sort: str, expected_length: int) -> list[SortValue]:
    """The sort values; InvalidCursor unless the cursor was made for this sort and has its shape."""
    invalid = InvalidCursor("The cursor is not valid: pass the next_cursor of a previous page of this search.")
    if not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(values, list) or len(values) != expected_length + 1 or values[0] != sort:
        raise invalid
    values = values[1:]
    for value in values:
        # bool is an int in Python; null and objects would make OpenSearch fail, not answer 400.
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise invalid
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid
    return values
