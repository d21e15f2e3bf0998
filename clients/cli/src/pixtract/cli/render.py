"""What the commands print, with rich: upload outcomes and summary, search hits, one image.

Everything the server sent is shown as plain text (rich `Text`), never parsed as console
markup, so a file name or OCR line with `[brackets]` prints as it is.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from pixtract.cli.uploader import FileResult, Outcome

OUTCOME_STYLES = {
    Outcome.UPLOADED: "green",
    Outcome.DUPLICATE: "cyan",
    Outcome.KNOWN: "blue",
    Outcome.SKIPPED: "yellow",
    Outcome.REJECTED: "red",
    Outcome.FAILED: "bold red",
}
STATE_STYLES = {"ready": "green", "processing": "yellow", "failed": "red"}
TEXT_PREVIEW_CHARS = 400
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)
_EM = re.compile(r"</?em>")


def format_bytes(count: float) -> str:
    value, unit = float(count), 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{int(value)} B" if unit == 0 else f"{value:.1f} {_UNITS[unit]}"


def parse_size(text: str) -> int:
    """`33554432`, `32M`, `32MiB` (1024-based) or `32MB` (1000-based) as bytes."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a size (examples: 32MiB, 500M, 1GB, 1048576)")
    number, prefix, suffix = float(match[1]), match[2].lower(), match[3].lower()
    if not prefix:
        return int(number)
    base = 1000 if suffix == "b" else 1024
    return int(number * base ** ("kmgt".index(prefix) + 1))


# ----- upload -----------------------------------------------------------------------------


def outcome_line(result: FileResult) -> Text:
    style = OUTCOME_STYLES[result.outcome]
    line = Text()
    line.append(f"{result.outcome.value:<14}", style=style)
    line.append(result.file.display)
    if result.image_id:
        line.append(f"  → {result.image_id}", style="dim")
    if result.resumable:
        line.append("  (resumable)", style="dim")
    if result.message and result.outcome is not Outcome.SKIPPED:
        line.append(f"\n{'':14}{result.message}", style=style if result.outcome.is_error else "dim")
    return line


def summary_table(results: Sequence[FileResult]) -> Table:
    table = Table(title="Upload summary", title_justify="left")
    table.add_column("Outcome")
    table.add_column("Files", justify="right")
    table.add_column("Size", justify="right")
    counts = Counter(result.outcome for result in results)
    for outcome in Outcome:
        if counts[outcome]:
            size = sum(result.file.size for result in results if result.outcome is outcome)
            table.add_row(Text(outcome.value, style=OUTCOME_STYLES[outcome]), str(counts[outcome]), format_bytes(size))
    table.add_section()
    table.add_row("total", str(len(results)), format_bytes(sum(result.file.size for result in results)))
    return table


class RichReporter:
    """Progress bars (files and bytes) on stderr, one line per finished file on stdout."""

    def __init__(self, out: Console, err: Console, *, show_skipped: bool = True) -> None:
        self._out = out
        self._show_skipped = show_skipped
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.fields[done]}/{task.fields[files]} files"),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err,
            # Only where someone watches: a log file or a pipe gets the result lines alone.
            disable=not err.is_terminal,
        )
        self._task: TaskID | None = None
        self._done_files = 0

    def __enter__(self) -> RichReporter:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def phase(self, name: str, files: int, total_bytes: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, visible=False)
        self._done_files = 0
        self._task = self._progress.add_task(name, total=total_bytes, files=files, done=0)

    def advance(self, nbytes: int) -> None:
        if self._task is not None:
            self._progress.advance(self._task, nbytes)

    def finished(self, result: FileResult) -> None:
        if self._task is not None and result.outcome not in (Outcome.SKIPPED, Outcome.KNOWN):
            self._done_files += 1
            self._progress.update(self._task, done=self._done_files)
        if result.outcome is Outcome.SKIPPED and not self._show_skipped:
            return
        # Printed through the progress' console so the bars stay below the lines.
        self._out.print(outcome_line(result), soft_wrap=True, highlight=False)


# ----- search -----------------------------------------------------------------------------


def highlighted(snippet: str) -> Text:
    """A search highlight with its `<em>` marks shown in bold."""
    text, bold = Text(), False
    position = 0
    for mark in _EM.finditer(snippet):
        text.append(snippet[position : mark.start()], style="bold yellow" if bold else "")
        bold = mark.group() == "<em>"
        position = mark.end()
    text.append(snippet[position:], style="bold yellow" if bold else "")
    return text


def _snippet(hit: dict[str, Any]) -> Text:
    highlights = hit.get("highlights") or {}
    for key in ("text", "labels"):
        snippets = highlights.get(key) or []
        if snippets:
            return highlighted(" … ".join(str(s) for s in snippets[:2]))
    return Text("")


def search_table(body: dict[str, Any]) -> Table:
    items = body.get("items", [])
    table = Table(title=f"{len(items)} of {body.get('total', len(items))} results", title_justify="left")
    table.add_column("Score", justify="right")
    table.add_column("Filename", overflow="fold")
    table.add_column("Labels")
    table.add_column("Taken")
    table.add_column("Highlight", ratio=2)
    table.add_column("ID", style="dim", overflow="fold")
    for hit in items:
        score = hit.get("score")
        table.add_row(
            f"{score:.2f}" if isinstance(score, int | float) else "",
            Text(str(hit.get("filename") or "")),
            Text(", ".join(str(label) for label in hit.get("labels", [])[:6])),
            Text(str(hit.get("taken_at") or "")[:19].replace("T", " ")),
            _snippet(hit),
            Text(str(hit.get("image_id", ""))),
        )
    return table


# ----- one image --------------------------------------------------------------------------


def _labels(labels: Iterable[dict[str, Any]]) -> Text:
    return Text(", ".join(f"{label['name']} {label.get('confidence', 0):.0%}" for label in labels))


def _colors(colors: Iterable[dict[str, Any]]) -> Text:
    text = Text()
    for color in colors:
        text.append("██ ", style=str(color.get("hex", "")))
        text.append(f"{color.get('name', '')} {color.get('fraction', 0):.0%}  ")
    return text


def image_panel(image: dict[str, Any]) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column(overflow="fold")

    def row(name: str, value: Text | str | None) -> None:
        if value:
            grid.add_row(name, value if isinstance(value, Text) else Text(value))

    state = str(image.get("state", ""))
    row("ID", str(image.get("id", "")))
    row("Filename", str(image.get("filename", "")))
    row("Type", f"{image.get('content_type', '')}, {format_bytes(int(image.get('size', 0)))}")
    if image.get("width"):
        row("Pixels", f"{image['width']} x {image['height']}")
    row("State", Text(state, style=STATE_STYLES.get(state, "")))
    stages = image.get("stages") or {}
    row("Stages", ", ".join(f"{stage} {status}" for stage, status in stages.items()))
    if failure := image.get("failure"):
        row("Failure", Text(f"{failure.get('stage')}: {failure.get('reason')}", style="red"))
    row("Uploaded", str(image.get("uploaded_at", "")))
    row("Taken", str(image.get("taken_at") or ""))
    if camera := image.get("camera"):
        row("Camera", f"{camera.get('make', '')} {camera.get('model', '')}".strip())
    if location := image.get("location"):
        place = ", ".join(str(part) for part in (location.get("place"), location.get("country")) if part)
        row("Location", f"{place} ({location['lat']:.5f}, {location['lon']:.5f})".strip())
    row("Labels", _labels(image.get("labels") or []))
    row("Categories", ", ".join(image.get("categories") or []))
    if image.get("faces"):
        row("Faces", str(image["faces"]))
    row("Colors", _colors(image.get("colors") or []))
    row("SHA-256", str(image.get("sha256", "")))
    text = image.get("text") or {}
    content = str(text.get("content") or "")
    parts: list[Table | Text] = [grid]
    if content:
        document_type = text.get("document_type", "other")
        fields = ", ".join(f"{key}: {value}" for key, value in (text.get("fields") or {}).items())
        row("Document", f"{document_type}{f' ({fields})' if fields else ''}")
        preview = content if len(content) <= TEXT_PREVIEW_CHARS else content[: TEXT_PREVIEW_CHARS - 1] + "…"
        parts.append(Text("\nText\n", style="bold") + Text(preview))
    return Group(*parts)
