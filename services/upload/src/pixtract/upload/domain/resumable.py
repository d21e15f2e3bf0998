"""The tus 1.0 resumable-upload protocol, as far as it is pure logic: no network, no storage.

Headers are parsed here (`Upload-Metadata`, `Upload-Checksum`, `Upload-Offset`), and the
bytes of a PATCH are cut into staging segments here (`SegmentCutter`). How segments are
stored and how a finished upload becomes an image is `pixtract.upload.resumable`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

TUS_VERSION = "1.0.0"
# Only what is implemented (creation-with-upload and concatenation are not).
TUS_EXTENSIONS = ("creation", "termination", "checksum", "expiration")
OFFSET_OCTET_STREAM = "application/offset+octet-stream"
# tus's own status code for a checksum that does not match the PATCH body.
CHECKSUM_MISMATCH_STATUS = 460

CHECKSUM_ALGORITHMS: dict[str, Callable[[], Any]] = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}

# Keys are ASCII without spaces or commas (tus 1.0, Upload-Metadata).
_METADATA_KEY = re.compile(r"^[!-+\--~]+$")
_DECIMAL = re.compile(r"^[0-9]{1,19}$")
MAX_METADATA_CHARS = 4096


class MalformedHeader(ValueError):
    """A tus header that does not follow the protocol (answered with 400)."""


class UnsupportedChecksum(MalformedHeader):
    """An `Upload-Checksum` algorithm this server does not offer."""


def parse_non_negative(name: str, raw: str | None) -> int:
    """`Upload-Length` / `Upload-Offset`: a non-negative decimal integer."""
    if raw is None:
        raise MalformedHeader(f"the {name} header is required")
    value = raw.strip()
    if not _DECIMAL.match(value):
        raise MalformedHeader(f"{name} must be a non-negative integer, not {raw!r}")
    return int(value)


def parse_upload_metadata(raw: str | None) -> dict[str, str | None]:
    """`key base64value, key2, ...` as a dict; values are UTF-8 text, or None when absent."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_METADATA_CHARS:
        raise MalformedHeader(f"Upload-Metadata is longer than {MAX_METADATA_CHARS} characters")
    pairs: dict[str, str | None] = {}
    for item in raw.split(","):
        parts = item.strip().split(" ")
        key = parts[0]
        if not _METADATA_KEY.match(key) or len(parts) > 2:
            raise MalformedHeader(f"Upload-Metadata has a malformed pair {item.strip()!r}")
        if key in pairs:
            raise MalformedHeader(f"Upload-Metadata repeats the key {key!r}")
        if len(parts) == 1:
            pairs[key] = None
            continue
        try:
            pairs[key] = base64.b64decode(parts[1], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise MalformedHeader(f"Upload-Metadata value of {key!r} is not base64-encoded UTF-8") from exc
    return pairs


def encode_upload_metadata(pairs: dict[str, str | None]) -> str:
    """The `Upload-Metadata` header for `pairs` (what HEAD answers)."""
    return ",".join(
        key if value is None else f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in pairs.items()
    )


def metadata_filename(pairs: dict[str, str | None]) -> str | None:
    """The file's name as the client gave it: `filename` (tus), else `name` (Uppy)."""
    return pairs.get("filename") or pairs.get("name") or None


@dataclass(frozen=True)
class ChecksumSpec:
    algorithm: str
    digest: bytes

    def new_hasher(self) -> Any:
        return CHECKSUM_ALGORITHMS[self.algorithm]()


def parse_upload_checksum(raw: str | None) -> ChecksumSpec | None:
    """`Upload-Checksum: <algorithm> <base64 digest>`; None when absent."""
    if raw is None:
        return None
    algorithm, _, encoded = raw.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        offered = ",".join(CHECKSUM_ALGORITHMS)
        raise UnsupportedChecksum(f"checksum algorithm {algorithm!r} is not supported; use one of {offered}")
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error as exc:
        raise MalformedHeader("the Upload-Checksum digest is not base64") from exc
    if len(digest) != CHECKSUM_ALGORITHMS[algorithm]().digest_size:
        raise MalformedHeader(f"the Upload-Checksum digest has the wrong length for {algorithm}")
    return ChecksumSpec(algorithm, digest)


def http_date(moment: datetime) -> str:
    """An HTTP-date (RFC 9110), as `Upload-Expires` wants it (any aware datetime)."""
    # format_datetime insists on datetime.UTC itself; Mongo's aware datetimes carry bson's utc.
    return format_datetime(moment.astimezone(UTC), usegmt=True)


class SegmentCutter:
    """Collects the bytes of a PATCH and hands out full segments of exactly `segment_bytes`.

    Starts with the bytes of the previous last segment when that one is small, so an upload
    made of many small PATCHes still ends up as few segments.
    """

    def __init__(self, segment_bytes: int, carried: bytes = b"") -> None:
        self._segment_bytes = segment_bytes
        self._buffer = bytearray(carried)

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the segments that are now full, in order."""
        self._buffer += data
        full: list[bytes] = []
        while len(self._buffer) >= self._segment_bytes:
            full.append(bytes(self._buffer[: self._segment_bytes]))
            del self._buffer[: self._segment_bytes]
        return full

    def rest(self) -> bytes:
        """What is left: the last, partial segment (possibly empty)."""
        return bytes(self._buffer)

    @property
    def pending(self) -> int:
        return len(self._buffer)
