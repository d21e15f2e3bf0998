"""Which files `pixtract upload` picks up, and how they are hashed and batched."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pixtract.cli.discovery import LocalFile, discover
from pixtract.cli.hashing import HASH_CHUNK_BYTES, batched, sha256_file


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for relative in (
        "b.jpg",
        "a.PNG",
        "notes.txt",
        "2024/summer/beach.jpeg",
        "2024/scan.tiff",
        "2024/.hidden.jpg",
        ".thumbnails/t.jpg",
        "raw/IMG_0001.heic",
        "raw/._IMG_0001.heic",
    ):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(relative.encode())
    # A symlinked directory pointing back up must not loop.
    (root / "2024" / "loop").symlink_to(root)
    return root


def _names(files: list[LocalFile], root: Path) -> list[str]:
    return [str(f.path.relative_to(root)) for f in files]


def test_directories_are_walked_in_order_skipping_hidden_entries(tree: Path) -> None:
    found = discover([tree])
    # A directory's own files first, then its subdirectories, each in name order.
    assert _names(found.files, tree) == [
        "a.PNG",
        "b.jpg",
        "2024/scan.tiff",
        "2024/summer/beach.jpeg",
        "raw/IMG_0001.heic",
    ]
    assert _names(found.not_images, tree) == ["notes.txt"]
    assert found.missing == []
    assert found.files[1].size == len(b"b.jpg")


def test_all_sends_every_file(tree: Path) -> None:
    found = discover([tree], include_all=True)
    assert "notes.txt" in _names(found.files, tree)
    assert found.not_images == []


def test_named_files_count_once_and_hidden_ones_are_taken_when_named(tree: Path) -> None:
    found = discover([tree / "b.jpg", tree, tree / "2024" / ".hidden.jpg", tree / "missing.jpg"])
    names = _names(found.files, tree)
    assert names.count("b.jpg") == 1
    assert names[:2] == ["b.jpg", "a.PNG"]
    assert "2024/.hidden.jpg" in names
    assert found.missing == [(str(tree / "missing.jpg"), "no such file or directory")]


def test_unreadable_entries_are_reported(tree: Path) -> None:
    broken = tree / "dangling.jpg"
    broken.symlink_to(tree / "nowhere.jpg")
    found = discover([broken])
    assert found.files == []
    assert found.missing[0][0] == str(broken)


def test_hashing_streams_and_reports_progress(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    data = os.urandom(HASH_CHUNK_BYTES * 2 + 123)
    path.write_bytes(data)
    seen: list[int] = []
    assert sha256_file(path, seen.append) == hashlib.sha256(data).hexdigest()
    assert seen == [HASH_CHUNK_BYTES, HASH_CHUNK_BYTES, 123]
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert sha256_file(empty) == hashlib.sha256(b"").hexdigest()


def test_batches() -> None:
    assert [len(batch) for batch in batched(list(range(2500)), 1000)] == [1000, 1000, 500]
    assert list(batched([], 1000)) == []
    assert list(batched([1, 2, 3], 2)) == [[1, 2], [3]]
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))
