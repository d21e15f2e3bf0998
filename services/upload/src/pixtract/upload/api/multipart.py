"""Receiving `multipart/form-data` uploads as a stream.

The body is fed chunk by chunk to python-multipart's streaming parser; each file part is
spooled (memory up to a threshold, then a temporary file) and hashed while it arrives, so
a file is never held whole in memory, and a part over the size limit is refused as soon as
it crosses the limit instead of after it was received.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from pixtract.common.errors import Problem
from pixtract.upload.ingest import ReceivedFile

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILES_FIELD = "files"


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int
    max_files: int
    spool_memory_bytes: int
    spool_dir: str | None = None


def part_filename(raw: bytes) -> str:
    """A part's filename parameter as the user named the file.

    Browsers send it as raw UTF-8, not latin-1 as HTTP headers once were, with `"`, CR and
    LF escaped as %22, %0D and %0A (WHATWG multipart/form-data encoding).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _too_large(detail: str) -> Problem:
    return Problem(413, detail, slug="payload-too-large")


class _FilePartCollector:
    """python-multipart callbacks that turn the parts named `files` into ReceivedFiles."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.files: list[ReceivedFile] = []
        self.ended = False
        self._current: ReceivedFile | None = None
        self._in_part = False
        self._headers: dict[bytes, bytes] = {}
        self._header_field = bytearray()
        self._header_value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._on_part_begin,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_end": self._on_end,
        }

    def close(self) -> None:
        for received in self.files:
            received.close()
        if self._current is not None:
            self._current.close()

    def _on_part_begin(self) -> None:
        self._in_part = True
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[bytes(self._header_field).strip().lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") != FILES_FIELD.encode():
            return  # other form fields are read past, never stored
        if len(self.files) >= self.limits.max_files:
            raise _too_large(f"At most {self.limits.max_files} files can be uploaded in one request.")
        raw_name = params.get(b"filename")
        # Owned by the ReceivedFile from here on: closed by close() or by the request's clean-up.
        spool = tempfile.SpooledTemporaryFile(max_size=self.limits.spool_memory_bytes, dir=self.limits.spool_dir)  # noqa: SIM115
        self._current = ReceivedFile(filename=part_filename(raw_name) if raw_name is not None else None, spool=spool)

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        current = self._current
        if current is None:
            return
        if current.size + (end - start) > self.limits.max_file_bytes:
            name = current.filename or f"file {len(self.files) + 1}"
            raise _too_large(f"{name} is larger than the {self.limits.max_file_bytes:,}-byte limit per file.")
        current.write(data[start:end])

    def _on_part_end(self) -> None:
        self._in_part = False
        if self._current is not None:
            self.files.append(self._current)
            self._current = None

    def _on_end(self) -> None:
        self.ended = not self._in_part


async def receive_files(
    content_type: str | None, body: AsyncIterator[bytes], limits: UploadLimits
) -> list[ReceivedFile]:
    """Every part named `files`, spooled and hashed; the caller closes them. Raises Problem (4xx)."""
    media_type, params = parse_options_header(content_type)
    if media_type != b"multipart/form-data":
        raise Problem(
            415, "Upload files as multipart/form-data, in parts named `files`.", slug="unsupported-media-type"
        )
    boundary = params.get(b"boundary")
    if not boundary:
        raise Problem(400, "The multipart Content-Type has no boundary.", slug="malformed-multipart")
    collector = _FilePartCollector(limits)
    try:
        parser = MultipartParser(boundary, collector.callbacks())
        # Spool writes are small, buffered, page-cache writes: fine on the event loop.
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        if not collector.ended:
            raise Problem(400, "The multipart body ends before its closing boundary.", slug="malformed-multipart")
    except FormParserError as exc:
        collector.close()
        raise Problem(400, f"The multipart body is malformed: {exc}", slug="malformed-multipart") from exc
    except BaseException:
        collector.close()
        raise
    if not collector.files:
        raise Problem(422, "The request has no part named `files`.", slug="no-files")
    return collector.files
