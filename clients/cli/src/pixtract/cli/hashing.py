"""SHA-256 of local files, streamed, to ask the server which ones it already has."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

HASH_CHUNK_BYTES = 1024 * 1024
# The most hashes one known-hashes request may carry.
KNOWN_HASHES_BATCH = 1000

T = TypeVar("T")


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """The hex SHA-256 of a file, read in chunks (never whole into memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


def batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items (itertools.batched arrives in Python 3.12)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
