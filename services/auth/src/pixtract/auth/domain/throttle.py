"""Login brute-force limiting: failed attempts counted per account and per client address."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol


class TooManyAttempts(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class LoginThrottle(Protocol):
    async def check(self, account: str, client_ip: str | None, now: datetime) -> None:
        """Raise TooManyAttempts when this account or address is locked out."""
        ...

    async def failed(self, account: str, client_ip: str | None, now: datetime) -> None: ...

    async def succeeded(self, account: str, client_ip: str | None, now: datetime) -> None: ...


class NoLoginThrottle:
    """Throttling switched off (tests, or an ingress that limits logins itself)."""

    async def check(self, account: str, client_ip: str | None, now: datetime) -> None:
        return None

    async def failed(self, account: str, client_ip: str | None, now: datetime) -> None:
        return None

    async def succeeded(self, account: str, client_ip: str | None, now: datetime) -> None:
        return None


@dataclass(frozen=True)
class FailureWindow:
    failures: int
    ends_at: datetime


class AttemptCounter(Protocol):
    async def window(self, key: str, now: datetime) -> FailureWindow | None:
        """The open window of this key, None when it has none (or it ended)."""
        ...

    async def add_failure(self, key: str, now: datetime, window: timedelta) -> None:
        """Count one failure in the open window, opening one of length `window` if none is open."""
        ...

    async def clear(self, key: str) -> None: ...


@dataclass(frozen=True)
class CountingLoginThrottle:
    counter: AttemptCounter
    window: timedelta
    max_failures_per_account: int
    max_failures_per_ip: int

    def _limits(self, account: str, client_ip: str | None) -> list[tuple[str, int]]:
        limits = [(f"account:{account}", self.max_failures_per_account)]
        if client_ip:
            limits.append((f"ip:{client_ip}", self.max_failures_per_ip))
        return limits

    async def check(self, account: str, client_ip: str | None, now: datetime) -> None:
        retry_after = 0
        for key, limit in self._limits(account, client_ip):
            window = await self.counter.window(key, now)
            if window is not None and window.failures >= limit:
                retry_after = max(retry_after, math.ceil((window.ends_at - now).total_seconds()))
        if retry_after > 0:
            raise TooManyAttempts(retry_after)

    async def failed(self, account: str, client_ip: str | None, now: datetime) -> None:
        for key, _ in self._limits(account, client_ip):
            await self.counter.add_failure(key, now, self.window)

    async def succeeded(self, account: str, client_ip: str | None, now: datetime) -> None:
        # Only the account's count: one good password must not reset the limit of a whole address.
        await self.counter.clear(f"account:{account}")
