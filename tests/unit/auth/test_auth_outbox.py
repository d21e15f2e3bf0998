"""The users.deleted outbox relay: credentials first, publish, then drop the record; retry on failure."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from pixtract.auth.domain.api_keys import ApiKey, ApiKeyStore
from pixtract.auth.domain.sessions import RefreshFamilyStore, RefreshRefused, RefreshSessions
from pixtract.auth.domain.users import PendingDeletion, User, UserStore
from pixtract.auth.outbox import UserDeletionRelay
from pixtract.events.topics import USERS_DELETED, Topic
from pixtract.events.v1 import users_pb2

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass
class RecordingPublisher:
    fail: bool = False
    published: list[tuple[str, users_pb2.UserDeleted, str, str | None]] = field(default_factory=list)

    async def publish(
        self,
        topic: Topic[users_pb2.UserDeleted],
        message: users_pb2.UserDeleted,
        *,
        key: str,
        event_id: str | None = None,
    ) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.published.append((topic.name, message, key, event_id))


async def _deleted_user_with_credentials(
    users: UserStore, families: RefreshFamilyStore, api_keys: ApiKeyStore
) -> tuple[str, str]:
    await users.insert(User("user-1", "ada@example.org", "ada@example.org", None, "$argon2id$...", T0))
    refresh = await RefreshSessions(families, timedelta(days=30)).start("user-1", T0)
    await api_keys.insert(ApiKey("key-1", "user-1", "laptop", ("images:read",), T0), "hash-of-key")
    assert await users.mark_deleted(PendingDeletion("user-1", "event-1", T0 + timedelta(minutes=5)))
    return "user-1", refresh.token


async def test_a_pending_deletion_is_published_once_with_its_event_id_then_dropped(
    users: UserStore, families: RefreshFamilyStore, api_key_store: ApiKeyStore
) -> None:
    user_id, refresh_token = await _deleted_user_with_credentials(users, families, api_key_store)
    publisher = RecordingPublisher()
    relay = UserDeletionRelay(users, families, api_key_store, publisher, interval_s=1.0)
    assert await relay.relay_pending() == 1
    ((topic, message, key, event_id),) = publisher.published
    assert (topic, key, event_id) == (USERS_DELETED.name, user_id, "event-1")
    assert message.user_id == user_id
    assert message.deleted_at.ToDatetime(tzinfo=UTC) == T0 + timedelta(minutes=5)
    assert await users.pending_deletions(10) == []
    assert await api_key_store.list_for_user(user_id) == []
    with pytest.raises(RefreshRefused):
        await RefreshSessions(families, timedelta(days=30)).rotate(refresh_token, T0)
    assert await relay.relay_pending() == 0


async def test_when_publishing_fails_credentials_are_gone_and_the_event_waits_for_the_next_pass(
    users: UserStore, families: RefreshFamilyStore, api_key_store: ApiKeyStore
) -> None:
    user_id, _ = await _deleted_user_with_credentials(users, families, api_key_store)
    publisher = RecordingPublisher(fail=True)
    relay = UserDeletionRelay(users, families, api_key_store, publisher, interval_s=1.0)
    with pytest.raises(ConnectionError):
        await relay.relay_pending()
    assert await api_key_store.list_for_user(user_id) == []
    assert [d.event_id for d in await users.pending_deletions(10)] == ["event-1"]
    publisher.fail = False
    assert await relay.relay_pending() == 1
    assert [p[3] for p in publisher.published] == ["event-1"]
    assert await users.pending_deletions(10) == []


async def test_the_background_loop_publishes_when_woken(
    users: UserStore, families: RefreshFamilyStore, api_key_store: ApiKeyStore
) -> None:
    publisher = RecordingPublisher()
    relay = UserDeletionRelay(users, families, api_key_store, publisher, interval_s=60.0)
    relay.start()
    try:
        await asyncio.sleep(0)
        await _deleted_user_with_credentials(users, families, api_key_store)
        relay.wake()
        for _ in range(100):
            if publisher.published:
                break
            await asyncio.sleep(0.01)
    finally:
        await relay.stop()
    assert [p[2] for p in publisher.published] == ["user-1"]
