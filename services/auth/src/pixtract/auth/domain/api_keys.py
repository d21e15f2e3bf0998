"""API keys for REST clients: random, shown once, stored as a hash, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pixtract.auth.domain.tokens import new_opaque_token, secret_hash
from pixtract.common.auth import API_KEY_PREFIX

# last_used_at is for people reading a list, so a write per minute at most, not per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None = None


class ApiKeyStore(Protocol):
    async def insert(self, key: ApiKey, key_hash: str) -> None: ...

    async def list_for_user(self, user_id: str) -> list[ApiKey]: ...

    async def delete(self, user_id: str, key_id: str) -> bool:
        """False when the user has no key with this id."""
        ...

    async def find_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def touch(self, key_id: str, now: datetime) -> None: ...

    async def delete_for_user(self, user_id: str) -> None: ...


def new_api_key() -> str:
    return API_KEY_PREFIX + new_opaque_token()


async def introspect_api_key(store: ApiKeyStore, presented: str, now: datetime) -> ApiKey | None:
    """The key's record when it is live, noting its use; None for anything else."""
    if not presented.startswith(API_KEY_PREFIX):
        return None
    key = await store.find_by_hash(secret_hash(presented))
    if key is None:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        await store.touch(key.id, now)
    return key
