"""Registering and authenticating accounts (in-memory users, real argon2id at low cost)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from pixtract.auth.domain.accounts import Accounts, InvalidCredentials
from pixtract.auth.domain.emails import InvalidEmail
from pixtract.auth.domain.passwords import PasswordHashing, WeakPassword
from pixtract.auth.domain.throttle import (
    AttemptCounter,
    CountingLoginThrottle,
    LoginThrottle,
    NoLoginThrottle,
    TooManyAttempts,
)
from pixtract.auth.domain.users import EmailTaken, UserStore

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
PASSWORD = "correct-stapler-orbit-42"


class CountingPasswordHashing(PasswordHashing):
    """Counts verifications, to show an unknown email costs a hash like a known one."""

    verifications = 0

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.verifications += 1
        return super().verify(stored_hash, password)


@pytest.fixture
def accounts(users: UserStore, passwords: PasswordHashing, hashing_executor: ThreadPoolExecutor) -> Accounts:
    return Accounts(users, passwords, NoLoginThrottle(), hashing_executor)


async def test_register_normalises_the_email_and_stores_only_a_hash(accounts: Accounts, users: UserStore) -> None:
    user = await accounts.register("  Ada@EXAMPLE.org ", PASSWORD, "Ada", T0)
    assert (user.email, user.email_key, user.name, user.created_at) == ("Ada@example.org", "ada@example.org", "Ada", T0)
    stored = await users.get(user.id)
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


async def test_register_refuses_a_taken_email_whatever_its_case(accounts: Accounts) -> None:
    await accounts.register("ada@example.org", PASSWORD, None, T0)
    with pytest.raises(EmailTaken):
        await accounts.register("ADA@example.ORG", "another-long-password-7", None, T0)


async def test_register_refuses_bad_emails_and_weak_passwords(accounts: Accounts, users: UserStore) -> None:
    with pytest.raises(InvalidEmail):
        await accounts.register("not-an-email", PASSWORD, None, T0)
    with pytest.raises(WeakPassword):
        await accounts.register("ada@example.org", "password123", None, T0)
    assert await users.find_by_email("ada@example.org") is None


async def test_authenticate_accepts_the_password_with_any_email_case(accounts: Accounts) -> None:
    user = await accounts.register("ada@example.org", PASSWORD, None, T0)
    assert (await accounts.authenticate(" ADA@example.org", PASSWORD, "10.0.0.1", T0)).id == user.id


async def test_wrong_password_and_unknown_email_fail_alike_and_both_cost_a_hash(
    users: UserStore, hashing_executor: ThreadPoolExecutor
) -> None:
    passwords = CountingPasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1)
    accounts = Accounts(users, passwords, NoLoginThrottle(), hashing_executor)
    await accounts.register("ada@example.org", PASSWORD, None, T0)
    errors = []
    for email, password in [("ada@example.org", "wrong-password-123"), ("nobody@example.org", PASSWORD), ("junk", "x")]:
        with pytest.raises(InvalidCredentials) as failed:
            await accounts.authenticate(email, password, None, T0)
        errors.append(str(failed.value))
    assert len(set(errors)) == 1
    assert passwords.verifications == 3


async def test_login_rehashes_a_password_hashed_with_older_parameters(
    users: UserStore, passwords: PasswordHashing, hashing_executor: ThreadPoolExecutor
) -> None:
    old = Accounts(users, passwords, NoLoginThrottle(), hashing_executor)
    user = await old.register("ada@example.org", PASSWORD, None, T0)
    stronger = PasswordHashing(time_cost=2, memory_cost_kib=16, parallelism=1)
    await Accounts(users, stronger, NoLoginThrottle(), hashing_executor).authenticate(
        "ada@example.org", PASSWORD, None, T0
    )
    stored = await users.get(user.id)
    assert stored is not None
    assert "$m=16,t=2,p=1$" in stored.password_hash
    assert stronger.verify(stored.password_hash, PASSWORD)


async def test_a_wrong_password_does_not_rehash(
    users: UserStore, passwords: PasswordHashing, hashing_executor: ThreadPoolExecutor
) -> None:
    user = await Accounts(users, passwords, NoLoginThrottle(), hashing_executor).register(
        "ada@example.org", PASSWORD, None, T0
    )
    before = await users.get(user.id)
    stronger = PasswordHashing(time_cost=2, memory_cost_kib=16, parallelism=1)
    with pytest.raises(InvalidCredentials):
        await Accounts(users, stronger, NoLoginThrottle(), hashing_executor).authenticate(
            "ada@example.org", "wrong-password-123", None, T0
        )
    assert await users.get(user.id) == before


async def test_a_throttled_login_is_refused_before_the_password_is_checked(
    users: UserStore, attempts: AttemptCounter, hashing_executor: ThreadPoolExecutor
) -> None:
    passwords = CountingPasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1)
    throttle: LoginThrottle = CountingLoginThrottle(attempts, timedelta(minutes=15), 3, 100)
    accounts = Accounts(users, passwords, throttle, hashing_executor)
    await accounts.register("ada@example.org", PASSWORD, None, T0)
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await accounts.authenticate("ada@example.org", "wrong-password-123", "10.0.0.1", T0)
    with pytest.raises(TooManyAttempts):
        await accounts.authenticate("ADA@example.org", PASSWORD, "10.0.0.2", T0 + timedelta(minutes=1))
    assert passwords.verifications == 3
    assert (await accounts.authenticate("ada@example.org", PASSWORD, "10.0.0.2", T0 + timedelta(minutes=15))).email


async def test_delete_retires_the_account_once_with_a_pending_event(accounts: Accounts, users: UserStore) -> None:
    user = await accounts.register("ada@example.org", PASSWORD, None, T0)
    assert await accounts.delete(user.id, T0)
    assert await accounts.delete(user.id, T0 + timedelta(seconds=1))
    assert not await accounts.delete("no-such-user", T0)
    assert await users.get(user.id) is None
    (pending,) = await users.pending_deletions(10)
    assert (pending.user_id, pending.deleted_at) == (user.id, T0)
    with pytest.raises(InvalidCredentials):
        await accounts.authenticate("ada@example.org", PASSWORD, None, T0)
