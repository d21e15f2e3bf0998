"""One running stack per data directory: a lock file naming the live process that holds it."""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pixtract.localstack.config import StackError
from pixtract.localstack.process import pid_alive, process_start_ticks


class StackAlreadyRunning(StackError):
    def __init__(self, holder: LockHolder, lock_file: Path) -> None:
        self.holder = holder
        self.lock_file = lock_file
        super().__init__(
            f"a Pixtract local stack already runs on {lock_file.parent} "
            f"(pid {holder.pid}, started {holder.started_at}); "
            "stop it with `python -m pixtract.localstack down` or use another PIXTRACT_DATA_DIR"
        )


@dataclass(frozen=True)
class LockHolder:
    pid: int
    # Start time of `pid` in clock ticks since boot: a recycled pid has another one.
    start_ticks: int | None
    started_at: str

    def alive(self) -> bool:
        if self.pid <= 0 or not pid_alive(self.pid):
            return False
        return self.start_ticks is None or process_start_ticks(self.pid) == self.start_ticks


class RunLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.held = False

    def holder(self) -> LockHolder | None:
        """The live process holding the lock, or None (no lock file, or a stale one)."""
        holder = self._read()
        return holder if holder is not None and holder.alive() else None

    def acquire(self, started_at: str) -> None:
        if self.held:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        pid = os.getpid()
        me = LockHolder(pid=pid, start_ticks=process_start_ticks(pid), started_at=started_at)
        body = json.dumps({"pid": me.pid, "start_ticks": me.start_ticks, "started_at": me.started_at})
        tmp = self.path.with_name(f".{self.path.name}.{pid}")
        tmp.write_text(body)
        try:
            for _ in range(3):
                try:
                    # link() fails if the lock exists: creation and content are one atomic step.
                    os.link(tmp, self.path)
                except FileExistsError:
                    holder = self._read()
                    if holder is not None and holder.alive():
                        raise StackAlreadyRunning(holder, self.path) from None
                    # Left by a crashed run.
                    with contextlib.suppress(FileNotFoundError):
                        self.path.unlink()
                    continue
                self.held = True
                return
        finally:
            tmp.unlink(missing_ok=True)
        raise StackError(f"could not take the lock {self.path}")

    def release(self) -> None:
        if not self.held:
            return
        holder = self._read()
        if holder is not None and holder.pid == os.getpid():
            self.path.unlink(missing_ok=True)
        self.held = False

    def _read(self) -> LockHolder | None:
        try:
            data = json.loads(self.path.read_text())
            return LockHolder(
                pid=int(data["pid"]),
                start_ticks=None if data.get("start_ticks") is None else int(data["start_ticks"]),
                started_at=str(data.get("started_at", "?")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            # Missing, or garbage that no run of ours wrote: nobody holds it.
            return None
