"""A background loop of the lifespan: runs its work every interval, or sooner when woken."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from pixtract.common.logging import get_logger

log = get_logger(__name__)


class PeriodicTask:
    def __init__(self, name: str, work: Callable[[], Awaitable[object]], interval_s: float) -> None:
        self.name = name
        self._work = work
        self._interval_s = interval_s
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run the work now instead of at the next tick (cheap; safe to call often)."""
        self._wakeup.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Let the current run finish, then end the loop."""
        self._stopping.set()
        self._wakeup.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def check_running(self) -> None:
        """Readiness: the loop is alive."""
        if self._task is None or self._task.done():
            raise RuntimeError(f"{self.name} is not running")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wakeup.clear()
            try:
                await self._work()
            except Exception:
                # A dependency blip must not end the loop: the next tick tries again.
                log.warning("background work failed; retrying at the next tick", task=self.name, exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._interval_s)
