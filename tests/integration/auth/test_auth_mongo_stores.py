"""The Mongo stores keep the semantics the domain relies on (the same ones the unit tests' fakes have)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from pixtract.auth.adapters.login_attempts import MongoAttemptCounter
from pixtract.auth.adapters.refresh_families import USED_HASHES_KEPT, MongoRefreshFamilyStore
from pixtract.auth.adapters.users import MongoUserStore
from pixtract.auth.domain.sessions import RefreshRefused, RefreshSessions, RefreshTokenReused
from pixtract.auth.domain.tokens import secret_hash
from pixtract.auth.domain.users import EmailTaken, PendingDeletion, User
from pixtract.common.clients import MongoDocument
from pixtract.localstack import InfraEndpoints

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(lite_servers: InfraEndpoints) -> AsyncIterator[AsyncDatabase[MongoDocument]]:
    client: AsyncMongoClient[MongoDocument] = AsyncMongoClient(lite_servers.mongo_url, tz_aware=True)
    name = f"auth_stores_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.fixture
async def sessions(db: AsyncDatabase[MongoDocument]) -> RefreshSessions:
    store = MongoRefreshFamilyStore(db)
    await store.create_indexes()
    return RefreshSessions(store, ttl=timedelta(days=30))


async def test_rotation_reuse_and_expiry_on_mongo(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    rotated = await sessions.rotate(started.token, T0 + timedelta(minutes=15))
    with pytest.raises(RefreshTokenReused):
        await sessions.rotate(started.token, T0 + timedelta(minutes=16))
    with pytest.raises(RefreshRefused):
        await sessions.rotate(rotated.token, T0 + timedelta(minutes=17))
    other = await sessions.start("user-1", T0)
    with pytest.raises(RefreshRefused) as expired:
        await sessions.rotate(other.token, T0 + timedelta(days=30, seconds=1))
    assert not isinstance(expired.value, RefreshTokenReused)


async def test_concurrent_rotations_of_one_token_leave_no_live_session(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    outcomes = await asyncio.gather(*(sessions.rotate(started.token, T0) for _ in range(4)), return_exceptions=True)
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(o, RefreshTokenReused) for o in outcomes if isinstance(o, BaseException))
    with pytest.raises(RefreshRefused):
        await sessions.rotate(winners[0].token, T0)


async def test_only_the_latest_replaced_hashes_are_kept(db: AsyncDatabase[MongoDocument]) -> None:
    store = MongoRefreshFamilyStore(db)
    sessions = RefreshSessions(store, ttl=timedelta(days=30))
    issued = await sessions.start("user-1", T0)
    tokens = [issued.token]
    for _ in range(USED_HASHES_KEPT + 5):
        issued = await sessions.rotate(issued.token, T0)
        tokens.append(issued.token)
    doc = await db["refresh_families"].find_one({"_id": issued.family_id})
    assert doc is not None
    assert len(doc["used_hashes"]) == USED_HASHES_KEPT
    assert doc["used_hashes"][-1] == secret_hash(tokens[-2])
    assert await store.find_by_used_hash(secret_hash(tokens[0])) is None


async def test_users_email_is_unique_ignoring_case_and_freed_by_deletion(db: AsyncDatabase[MongoDocument]) -> None:
    users = MongoUserStore(db)
    await users.create_indexes()
    await users.create_indexes()  # idempotent, as every start runs it
    ada = User("u1", "Ada@example.org", "ada@example.org", "Ada", "$argon2id$x", T0)
    await users.insert(ada)
    with pytest.raises(EmailTaken):
        await users.insert(User("u2", "ADA@example.org", "ada@example.org", None, "$argon2id$y", T0))
    assert await users.find_by_email("ada@example.org") == ada
    assert await users.mark_deleted(PendingDeletion("u1", "e1", T0))
    assert await users.mark_deleted(PendingDeletion("u1", "e2", T0))
    assert not await users.mark_deleted(PendingDeletion("nobody", "e3", T0))
    (pending,) = await users.pending_deletions(10)
    assert pending.event_id == "e1"
    retired = await db["users"].find_one({"_id": "u1"})
    assert retired is not None
    assert set(retired) == {"_id", "created_at", "deletion"}
    # Two retired accounts at once: the partial unique index ignores documents without an email.
    await users.insert(User("u3", "bob@example.org", "bob@example.org", None, "$argon2id$z", T0))
    assert await users.mark_deleted(PendingDeletion("u3", "e4", T0))
    await users.insert(User("u4", "ada@example.org", "ada@example.org", None, "$argon2id$w", T0))
    await users.remove("u1")
    assert [p.user_id for p in await users.pending_deletions(10)] == ["u3"]


async def test_attempt_windows_count_and_reopen_after_they_end(db: AsyncDatabase[MongoDocument]) -> None:
    counter = MongoAttemptCounter(db)
    await counter.create_indexes()
    window = timedelta(minutes=15)
    for _ in range(3):
        await counter.add_failure("account:ada", T0, window)
    current = await counter.window("account:ada", T0 + timedelta(minutes=1))
    assert current is not None
    assert (current.failures, current.ends_at) == (3, T0 + window)
    assert await counter.window("account:ada", T0 + window) is None
    await counter.add_failure("account:ada", T0 + window, window)
    reopened = await counter.window("account:ada", T0 + window)
    assert reopened is not None
    assert (reopened.failures, reopened.ends_at) == (1, T0 + 2 * window)
    await counter.clear("account:ada")
    assert await counter.window("account:ada", T0 + window) is None
