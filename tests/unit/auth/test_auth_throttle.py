"""Failed logins counted per account and per address."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pixtract.auth.domain.throttle import AttemptCounter, CountingLoginThrottle, TooManyAttempts

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


@pytest.fixture
def throttle(attempts: AttemptCounter) -> CountingLoginThrottle:
    return CountingLoginThrottle(attempts, WINDOW, max_failures_per_account=3, max_failures_per_ip=5)


async def test_an_account_locks_after_its_limit_and_says_when_to_retry(throttle: CountingLoginThrottle) -> None:
    for minute in range(3):
        await throttle.check("ada", "10.0.0.1", T0 + timedelta(minutes=minute))
        await throttle.failed("ada", "10.0.0.1", T0 + timedelta(minutes=minute))
    with pytest.raises(TooManyAttempts) as locked:
        await throttle.check("ada", "10.0.0.9", T0 + timedelta(minutes=5))
    # The window opened at the first failure and lasts 15 minutes: 10 minutes are left.
    assert locked.value.retry_after_seconds == 600
    await throttle.check("ada", "10.0.0.9", T0 + WINDOW)


async def test_one_address_trying_many_accounts_is_limited(throttle: CountingLoginThrottle) -> None:
    for n in range(5):
        await throttle.failed(f"user-{n}", "10.0.0.1", T0)
    with pytest.raises(TooManyAttempts):
        await throttle.check("someone-new", "10.0.0.1", T0)
    await throttle.check("someone-new", "10.0.0.2", T0)


async def test_a_success_clears_the_account_but_not_the_address(throttle: CountingLoginThrottle) -> None:
    for _ in range(2):
        await throttle.failed("ada", "10.0.0.1", T0)
    await throttle.succeeded("ada", "10.0.0.1", T0)
    await throttle.failed("ada", "10.0.0.1", T0)
    await throttle.failed("ada", "10.0.0.1", T0)
    await throttle.check("ada", "10.0.0.1", T0)
    await throttle.failed("bob", "10.0.0.1", T0)
    with pytest.raises(TooManyAttempts):
        await throttle.check("carol", "10.0.0.1", T0)


async def test_without_a_client_address_only_the_account_counts(throttle: CountingLoginThrottle) -> None:
    for _ in range(3):
        await throttle.failed("ada", None, T0)
    with pytest.raises(TooManyAttempts):
        await throttle.check("ada", None, T0)
