"""In-memory stores with the Mongo stores' semantics, cheap password hashing and signing keys."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from pixtract.auth.domain.api_keys import ApiKey
from pixtract.auth.domain.passwords import PasswordHashing
from pixtract.auth.domain.sessions import RefreshFamily
from pixtract.auth.domain.signing_keys import SigningKey, generate_private_key_pem
from pixtract.auth.domain.throttle import FailureWindow
from pixtract.auth.domain.users import EmailTaken, PendingDeletion, User


class InMemoryUserStore:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.pending: dict[str, PendingDeletion] = {}

    async def insert(self, user: User) -> None:
        if any(u.email_key == user.email_key for u in self.users.values()):
            raise EmailTaken(user.email)
        self.users[user.id] = user

    async def get(self, user_id: str) -> User | None:
        return self.users.get(user_id)

    async def find_by_email(self, email_key: str) -> User | None:
        return next((u for u in self.users.values() if u.email_key == email_key), None)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.users[user_id] = replace(self.users[user_id], password_hash=password_hash)

    async def mark_deleted(self, deletion: PendingDeletion) -> bool:
        if deletion.user_id in self.pending:
            return True
        if self.users.pop(deletion.user_id, None) is None:
            return False
        self.pending[deletion.user_id] = deletion
        return True

    async def pending_deletions(self, limit: int) -> list[PendingDeletion]:
        return sorted(self.pending.values(), key=lambda d: d.deleted_at)[:limit]

    async def remove(self, user_id: str) -> None:
        self.pending.pop(user_id, None)


class InMemoryRefreshFamilyStore:
    def __init__(self) -> None:
        self.families: dict[str, RefreshFamily] = {}
        self.used: dict[str, list[str]] = {}

    async def insert(self, family: RefreshFamily) -> None:
        self.families[family.id] = family
        self.used[family.id] = []

    async def swap(self, old_hash: str, new_hash: str, *, now: datetime, expires_at: datetime) -> RefreshFamily | None:
        for family in self.families.values():
            if family.current_hash == old_hash and family.revoked_at is None and family.expires_at > now:
                swapped = replace(family, current_hash=new_hash, expires_at=expires_at)
                self.families[family.id] = swapped
                self.used[family.id].append(old_hash)
                return swapped
        return None

    async def find_by_used_hash(self, token_hash: str) -> RefreshFamily | None:
        return next((self.families[fid] for fid, used in self.used.items() if token_hash in used), None)

    async def revoke(self, family_id: str, now: datetime) -> None:
        family = self.families[family_id]
        if family.revoked_at is None:
            self.families[family_id] = replace(family, revoked_at=now)

    async def revoke_by_hash(self, token_hash: str, now: datetime) -> None:
        for family in list(self.families.values()):
            if family.current_hash == token_hash or token_hash in self.used[family.id]:
                await self.revoke(family.id, now)

    async def delete_for_user(self, user_id: str) -> None:
        for family in [f for f in self.families.values() if f.user_id == user_id]:
            del self.families[family.id]
            del self.used[family.id]


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[ApiKey, str]] = {}
        self.touches = 0

    async def insert(self, key: ApiKey, key_hash: str) -> None:
        self.keys[key.id] = (key, key_hash)

    async def list_for_user(self, user_id: str) -> list[ApiKey]:
        return [k for k, _ in self.keys.values() if k.user_id == user_id]

    async def delete(self, user_id: str, key_id: str) -> bool:
        stored = self.keys.get(key_id)
        if stored is None or stored[0].user_id != user_id:
            return False
        del self.keys[key_id]
        return True

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        return next((k for k, h in self.keys.values() if h == key_hash), None)

    async def touch(self, key_id: str, now: datetime) -> None:
        key, key_hash = self.keys[key_id]
        self.keys[key_id] = (replace(key, last_used_at=now), key_hash)
        self.touches += 1

    async def delete_for_user(self, user_id: str) -> None:
        self.keys = {kid: stored for kid, stored in self.keys.items() if stored[0].user_id != user_id}


class InMemoryAttemptCounter:
    def __init__(self) -> None:
        self.windows: dict[str, FailureWindow] = {}

    async def window(self, key: str, now: datetime) -> FailureWindow | None:
        window = self.windows.get(key)
        return window if window is not None and window.ends_at > now else None

    async def add_failure(self, key: str, now: datetime, window: timedelta) -> None:
        current = await self.window(key, now)
        if current is None:
            self.windows[key] = FailureWindow(failures=1, ends_at=now + window)
        else:
            self.windows[key] = replace(current, failures=current.failures + 1)

    async def clear(self, key: str) -> None:
        self.windows.pop(key, None)


def cheap_password_hashing() -> PasswordHashing:
    # Real argon2id, at the lowest cost the library accepts: tests check behaviour, not strength.
    return PasswordHashing(time_cost=1, memory_cost_kib=8, parallelism=1)


@pytest.fixture(scope="session")
def passwords() -> PasswordHashing:
    return cheap_password_hashing()


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    return SigningKey.from_pem(generate_private_key_pem())


@pytest.fixture(scope="session")
def other_key() -> SigningKey:
    return SigningKey.from_pem(generate_private_key_pem())


@pytest.fixture
def hashing_executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=1) as executor:
        yield executor


@pytest.fixture
def users() -> InMemoryUserStore:
    return InMemoryUserStore()


@pytest.fixture
def families() -> InMemoryRefreshFamilyStore:
    return InMemoryRefreshFamilyStore()


@pytest.fixture
def api_key_store() -> InMemoryApiKeyStore:
    return InMemoryApiKeyStore()


@pytest.fixture
def attempts() -> InMemoryAttemptCounter:
    return InMemoryAttemptCounter()
