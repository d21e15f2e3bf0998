"""One child process of the local stack: started in its own process group, logged to a file."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child when the launcher dies.

    A launcher killed with SIGKILL (or a crashed pytest) cannot run its cleanup; without
    this its servers would keep their ports and fail the next start. Linux ties the signal
    to the spawning thread, so start servers from a thread that outlives them (the main one).
    """
    if not sys.platform.startswith("linux"):
        return None
    # Resolved in the parent: loading a library between fork and exec is not safe.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return hook


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started (clock ticks since boot), to tell a live process from a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 2 (comm) may contain spaces and parentheses; the fields after it do not.
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0) but will never run again.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state != "Z"


def rss_kib(pid: int) -> int | None:
    """Resident set size of `pid` in KiB (VmRSS), or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class ManagedProcess:
    """A server the stack started. Stopping signals its whole process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._popen: subprocess.Popen[bytes] | None = None
        self._reaped = False

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} already runs (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # Append: a service restarted by a test keeps the log of its previous life.
        with self.log_path.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            log.write(f"--- {stamp} starting: {' '.join(self.argv)}\n".encode())
            log.flush()
            # argv is built by the stack from its own config, never from outside input.
            self._popen = subprocess.Popen(  # noqa: S603
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        self._reaped = False

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name} was never started")
        return self._popen.pid

    @property
    def started(self) -> bool:
        return self._popen is not None

    @property
    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal the process group, wait up to `timeout` s, then SIGKILL it. Returns the exit code."""
        self.signal_stop(sig)
        return self.wait_stopped(timeout)

    def signal_stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._signal_group(sig)

    def wait_stopped(self, timeout: float) -> int | None:
        popen = self._popen
        if popen is None:
            return None
        if self._reaped:
            return popen.returncode
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            popen.wait()
        # Helpers the server forked may outlive it; they share its process group. Only
        # once: later the group id may belong to someone else.
        self._signal_group(signal.SIGKILL)
        self._reaped = True
        return popen.returncode

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._popen is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, sig)

    def rss_kib(self) -> int | None:
        return rss_kib(self.pid) if self.running else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(0, os.SEEK_END)
                size = log.tell()
                log.seek(max(0, size - 64 * 1024))
                text = log.read().decode(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
