"""API keys: the pxk_ form, hash lookup and last-used bookkeeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pixtract.auth.domain.api_keys import ApiKey, ApiKeyStore, introspect_api_key, new_api_key
from pixtract.auth.domain.tokens import secret_hash
from pixtract.common.auth import API_KEY_PREFIX

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def _stored_key(store: ApiKeyStore) -> str:
    secret = new_api_key()
    await store.insert(ApiKey("key-1", "user-1", "laptop", ("images:read",), T0), secret_hash(secret))
    return secret


def test_keys_carry_the_prefix_the_verifier_recognises_and_are_random() -> None:
    key = new_api_key()
    assert key.startswith(API_KEY_PREFIX)
    assert len(key) - len(API_KEY_PREFIX) >= 43
    assert key != new_api_key()


async def test_a_live_key_introspects_to_its_owner_and_scopes(api_key_store: ApiKeyStore) -> None:
    secret = await _stored_key(api_key_store)
    key = await introspect_api_key(api_key_store, secret, T0)
    assert key is not None
    assert (key.id, key.user_id, key.scopes) == ("key-1", "user-1", ("images:read",))


async def test_unknown_and_unprefixed_keys_are_inactive(api_key_store: ApiKeyStore) -> None:
    secret = await _stored_key(api_key_store)
    assert await introspect_api_key(api_key_store, new_api_key(), T0) is None
    assert await introspect_api_key(api_key_store, secret.removeprefix(API_KEY_PREFIX), T0) is None
    assert await introspect_api_key(api_key_store, "", T0) is None


async def test_last_used_is_written_at_most_once_a_minute(api_key_store: ApiKeyStore) -> None:
    secret = await _stored_key(api_key_store)
    for seconds in (0, 10, 59):
        await introspect_api_key(api_key_store, secret, T0 + timedelta(seconds=seconds))
    (listed,) = await api_key_store.list_for_user("user-1")
    assert listed.last_used_at == T0
    await introspect_api_key(api_key_store, secret, T0 + timedelta(seconds=61))
    (listed,) = await api_key_store.list_for_user("user-1")
    assert listed.last_used_at == T0 + timedelta(seconds=61)


async def test_a_deleted_key_is_inactive_and_only_its_owner_can_delete_it(api_key_store: ApiKeyStore) -> None:
    secret = await _stored_key(api_key_store)
    assert not await api_key_store.delete("user-2", "key-1")
    assert await api_key_store.delete("user-1", "key-1")
    assert await introspect_api_key(api_key_store, secret, T0) is None
