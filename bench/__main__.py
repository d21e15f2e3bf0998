"""`make bench`: run every benchmark, print its figures and write them into a markdown report.

    python -m bench                                   # all five, report in bench/results/latest.md
    python -m bench --only ingest,tagging --report /tmp/figures.md

Each benchmark's output goes to the terminal as it is printed and into the report as one
section, under a header naming the date, the machine (CPU, cores, RAM), Python and the
commit. A benchmark that fails is reported with its error and the others still run; the
exit status is then 1. Writing the default report also refreshes README's line that links
it with its date and machine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bench import ingest, ocr, search, tagging, upload

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REPORT = ROOT / "bench" / "results" / "latest.md"
README = ROOT / "README.md"
README_LINE = re.compile(r"^Latest benchmark figures: .*$", re.MULTILINE)

# In the order `make bench` runs them; each takes its argv (all defaults here).
BENCHMARKS: dict[str, Callable[[list[str]], None]] = {
    "upload": upload.main,
    "tagging": tagging.main,
    "ocr": ocr.main,
    "search": search.main,
    "ingest": ingest.main,
}


class Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, terminal: TextIO) -> None:
        self.terminal = terminal
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.terminal.write(text)
        self.terminal.flush()
        return self.copy.write(text)

    def flush(self) -> None:
        self.terminal.flush()


@dataclass(frozen=True)
class Section:
    name: str
    output: str
    seconds: float
    error: str | None


def run_benchmark(name: str, main: Callable[[list[str]], None]) -> Section:
    print(f"===== {name} =====", flush=True)
    tee = Tee(sys.stdout)
    started = time.perf_counter()
    error = None
    with contextlib.redirect_stdout(tee):
        try:
            main([])
        except (Exception, SystemExit) as exc:  # one broken benchmark must not lose the others' figures
            error = "".join(traceback.format_exception(exc)).rstrip()
    if error:
        print(error, file=sys.stderr)
    return Section(name, tee.copy.getvalue(), time.perf_counter() - started, error)


def _command(argv: Sequence[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine() -> str:
    """One line naming the machine: CPU, cores, RAM."""
    return f"{cpu_model()}, {len(os.sched_getaffinity(0))} cores, {ram_gib():.0f} GiB RAM"


def commit() -> str:
    head = _command(["git", "rev-parse", "--short=12", "HEAD"]) or "unknown"
    return f"{head} (with uncommitted changes)" if _command(["git", "status", "--porcelain"]) else head


def report(sections: list[Section], started: datetime, load_before: str) -> str:
    lines = [
        "# Benchmark figures",
        "",
        f"Written by `make bench` (`python -m bench`), {started:%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Date: {started:%Y-%m-%d}",
        f"- Machine: {machine()}",
        f"- OS: {platform.platform()}",
        f"- Python: {platform.python_version()} ({sys.executable})",
        f"- Commit: {commit()}",
        f"- Load average before / after: {load_before} / {', '.join(f'{v:.1f}' for v in os.getloadavg())}",
        "",
        "Each section is the benchmark's own output; what its figures mean is in its module's",
        "docstring (`bench/<name>.py`).",
        "",
    ]
    for section in sections:
        status = "failed" if section.error else "ok"
        lines += [
            f"## {section.name}",
            "",
            f"`python -m bench.{section.name}`: {section.seconds:.0f} s, {status}.",
            "",
            "```text",
            section.output.rstrip(),
            "```",
            "",
        ]
        if section.error:
            lines += ["Error:", "", "```text", section.error, "```", ""]
    return "\n".join(lines)


def update_readme(started: datetime) -> None:
    text = README.read_text()
    line = (
        f"Latest benchmark figures: [bench/results/latest.md](bench/results/latest.md) "
        f"({started:%Y-%m-%d}, {machine()}; `make bench` rewrites both)."
    )
    if README_LINE.search(text):
        README.write_text(README_LINE.sub(line, text, count=1))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    parser.add_argument(
        "--report",
        type=Path,
        help=f"where to write the markdown report (default {DEFAULT_REPORT.relative_to(ROOT)} when all run, else none)",
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmarks {unknown}; known: {', '.join(BENCHMARKS)}")
    path = args.report or (DEFAULT_REPORT if not args.only else None)
    started, load_before = datetime.now(UTC), ", ".join(f"{v:.1f}" for v in os.getloadavg())
    sections = [run_benchmark(name, BENCHMARKS[name]) for name in names]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report(sections, started, load_before))
        print(f"report: {path}")
        if path.resolve() == DEFAULT_REPORT:
            update_readme(started)
    failed = [s.name for s in sections if s.error]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
