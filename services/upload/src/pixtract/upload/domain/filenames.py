"""File names from clients, made safe to store and to send back in a header."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_FILENAME_CHARS = 255


def clean_filename(raw: str | None, *, extension: str) -> str:
    """The last path segment, without control characters, at most 255 characters; never empty."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if not unicodedata.category(ch).startswith("C")).strip()
    if name in ("", ".", ".."):
        return f"image.{extension}"
    if len(name) <= MAX_FILENAME_CHARS:
        return name
    stem, dot, suffix = name.rpartition(".")
    if dot and 0 < len(suffix) <= 16:
        return stem[: MAX_FILENAME_CHARS - len(suffix) - 1] + "." + suffix
    return name[:MAX_FILENAME_CHARS]


def attachment_disposition(filename: str) -> str:
    """Content-Disposition for a download: an ASCII fallback plus the exact UTF-8 name (RFC 6266)."""
    fallback = filename.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
