"""Conditional GETs: answering `If-None-Match` with 304 for unchanged thumbnails."""

from __future__ import annotations


def if_none_match_hits(header: str | None, etag: str) -> bool:
    """Whether an If-None-Match value matches `etag` (weak comparison, as RFC 9110 asks for GET)."""
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False
