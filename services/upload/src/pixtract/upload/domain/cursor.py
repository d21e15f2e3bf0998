"""Opaque page cursors for listings sorted newest first: the sort key of the last item shown.

Keyset pagination (uploaded_at desc, then id desc) stays exact while images are added or
deleted between pages, unlike skip/offset.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_CURSOR_CHARS = 200
_IMAGE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Up to the year 9999: anything later cannot be a datetime and is not ours.
_MAX_MILLIS = 253_402_300_799_999


class MalformedCursor(ValueError):
    """The cursor was not produced by this service (or was altered)."""


@dataclass(frozen=True)
class PageCursor:
    uploaded_at: datetime
    image_id: str


def encode_cursor(cursor: PageCursor) -> str:
    millis = (cursor.uploaded_at - _EPOCH) // timedelta(milliseconds=1)
    raw = json.dumps([millis, cursor.image_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> PageCursor:
    if not text or len(text) > MAX_CURSOR_CHARS:
        raise MalformedCursor("cursor is empty or too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCursor("cursor is not valid") from exc
    match value:
        case [int(millis), str(image_id)] if (
            not isinstance(millis, bool) and 0 <= millis <= _MAX_MILLIS and _IMAGE_ID.match(image_id)
        ):
            return PageCursor(_EPOCH + timedelta(milliseconds=millis), image_id)
    raise MalformedCursor("cursor is not valid")
