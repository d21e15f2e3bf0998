"""Registering, authenticating and deleting accounts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pixtract.auth.domain.emails import InvalidEmail, normalise_email
from pixtract.auth.domain.passwords import PasswordHashing, check_password_policy
from pixtract.auth.domain.throttle import LoginThrottle
from pixtract.auth.domain.users import PendingDeletion, User, UserStore

T = TypeVar("T")


class InvalidCredentials(Exception):
    """Wrong password or unknown email: deliberately one error, so callers cannot tell them apart."""


@dataclass(frozen=True)
class Accounts:
    users: UserStore
    passwords: PasswordHashing
    throttle: LoginThrottle
    # argon2id takes tens of milliseconds and 64 MiB per hash: a small pool of its own keeps the
    # event loop free and bounds the memory a burst of logins can take.
    hashing_executor: Executor

    async def _hashing(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.hashing_executor, work)

    async def register(self, email: str, password: str, name: str | None, now: datetime) -> User:
        """Raises InvalidEmail, WeakPassword or EmailTaken."""
        normalised = normalise_email(email)
        check_password_policy(password, normalised)
        password_hash = await self._hashing(lambda: self.passwords.hash(password))
        user = User(
            id=str(uuid.uuid4()),
            email=normalised.address,
            email_key=normalised.key,
            name=name,
            password_hash=password_hash,
            created_at=now,
        )
        await self.users.insert(user)
        return user

    async def authenticate(self, email: str, password: str, client_ip: str | None, now: datetime) -> User:
        """Raises InvalidCredentials, or TooManyAttempts before any password is checked."""
        try:
            account = normalise_email(email).key
        except InvalidEmail:
            account = email.strip().lower()
        await self.throttle.check(account, client_ip, now)
        user = await self.users.find_by_email(account)
        stored_hash = user.password_hash if user is not None else None
        # Verified even for an unknown email (against a dummy hash): both answers take as long.
        matches = await self._hashing(lambda: self.passwords.verify(stored_hash, password))
        if user is None or not matches:
            await self.throttle.failed(account, client_ip, now)
            raise InvalidCredentials("wrong email or password")
        await self.throttle.succeeded(account, client_ip, now)
        if self.passwords.needs_rehash(user.password_hash):
            new_hash = await self._hashing(lambda: self.passwords.hash(password))
            await self.users.set_password_hash(user.id, new_hash)
        return user

    async def delete(self, user_id: str, now: datetime) -> bool:
        """Retire the account with its users.deleted event pending (the relay publishes it). False if unknown."""
        return await self.users.mark_deleted(
            PendingDeletion(user_id=user_id, event_id=uuid.uuid4().hex, deleted_at=now)
        )
