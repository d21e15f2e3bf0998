"""Which local files `pixtract upload` sends: files and directories (recursively), images by extension.

A directory gives its own files in name order, then its subdirectories' (symlinked
directories are not followed: no loops). Hidden entries (`.git`, `.DS_Store`, macOS
`._IMG_0001.JPG` resource forks) are never photos and are skipped; a file named on the
command line is always considered, hidden or not. Each file is listed once, however many
arguments reach it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# What the upload service accepts (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF), by file name.
IMAGE_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".gif",
        ".tif",
        ".tiff",
        ".bmp",
        ".dib",
        ".heic",
        ".heif",
        ".hif",
    }
)


@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int

    @property
    def display(self) -> str:
        return str(self.path)


@dataclass
class Discovery:
    files: list[LocalFile] = field(default_factory=list)
    # Not an image by its extension: listed, not sent (unless --all).
    not_images: list[LocalFile] = field(default_factory=list)
    # Arguments that name nothing readable, with the reason.
    missing: list[tuple[str, str]] = field(default_factory=list)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _walk(directory: Path) -> Iterator[Path]:
    for root, dirnames, filenames in os.walk(directory, followlinks=False):
        dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield Path(root) / name


def discover(arguments: Sequence[Path], *, include_all: bool = False) -> Discovery:
    found = Discovery()
    seen: set[str] = set()

    def consider(path: Path) -> None:
        try:
            stat = path.stat()
        except OSError as exc:
            found.missing.append((str(path), exc.strerror or str(exc)))
            return
        if not path.is_file():
            return  # sockets, FIFOs, devices
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        local = LocalFile(path, stat.st_size)
        if include_all or is_image_name(path):
            found.files.append(local)
        else:
            found.not_images.append(local)

    for argument in arguments:
        if argument.is_dir():
            for path in _walk(argument):
                consider(path)
        elif argument.exists():
            consider(argument)
        else:
            found.missing.append((str(argument), "no such file or directory"))
    return found
