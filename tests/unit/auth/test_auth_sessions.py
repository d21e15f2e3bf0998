"""Refresh-token rotation and reuse detection, on an in-memory family store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from pixtract.auth.domain.sessions import RefreshFamilyStore, RefreshRefused, RefreshSessions, RefreshTokenReused
from pixtract.auth.domain.tokens import secret_hash

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def sessions(families: RefreshFamilyStore) -> RefreshSessions:
    return RefreshSessions(families, ttl=timedelta(days=30))


async def test_rotation_gives_a_new_token_and_the_old_one_stops_working(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    rotated = await sessions.rotate(started.token, T0 + timedelta(minutes=15))
    assert rotated.token != started.token
    assert (rotated.user_id, rotated.family_id) == ("user-1", started.family_id)
    again = await sessions.rotate(rotated.token, T0 + timedelta(minutes=30))
    assert again.family_id == started.family_id
    with pytest.raises(RefreshRefused):
        await sessions.rotate(started.token, T0 + timedelta(minutes=31))


async def test_only_the_hash_is_stored(sessions: RefreshSessions, families: RefreshFamilyStore) -> None:
    started = await sessions.start("user-1", T0)
    rotated = await sessions.rotate(started.token, T0)
    family = await families.find_by_used_hash(secret_hash(started.token))
    assert family is not None
    assert family.current_hash == secret_hash(rotated.token)
    assert rotated.token not in {family.current_hash, family.id}


async def test_reusing_a_rotated_token_revokes_the_whole_family_and_logs_a_security_event(
    sessions: RefreshSessions, families: RefreshFamilyStore
) -> None:
    started = await sessions.start("user-1", T0)
    thief = await sessions.rotate(started.token, T0 + timedelta(minutes=1))
    with capture_logs() as logs, pytest.raises(RefreshTokenReused):
        await sessions.rotate(started.token, T0 + timedelta(minutes=2))
    # The token handed out before the replay is dead too: the family is over.
    with pytest.raises(RefreshRefused):
        await sessions.rotate(thief.token, T0 + timedelta(minutes=3))
    family = await families.find_by_used_hash(secret_hash(started.token))
    assert family is not None
    assert family.revoked_at == T0 + timedelta(minutes=2)
    (event,) = [e for e in logs if e.get("security_event") == "refresh_token_reuse"]
    assert event["log_level"] == "warning"
    assert (event["user_id"], event["family_id"]) == ("user-1", started.family_id)


async def test_reuse_in_one_family_leaves_other_sessions_of_the_user_alone(sessions: RefreshSessions) -> None:
    laptop = await sessions.start("user-1", T0)
    phone = await sessions.start("user-1", T0)
    await sessions.rotate(laptop.token, T0)
    with pytest.raises(RefreshTokenReused):
        await sessions.rotate(laptop.token, T0)
    assert (await sessions.rotate(phone.token, T0)).user_id == "user-1"


async def test_two_concurrent_refreshes_with_one_token_cannot_both_keep_a_session(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    outcomes = await asyncio.gather(
        sessions.rotate(started.token, T0), sessions.rotate(started.token, T0), return_exceptions=True
    )
    winners = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(winners) == 1
    assert sum(isinstance(o, RefreshTokenReused) for o in outcomes) == 1
    with pytest.raises(RefreshRefused):
        await sessions.rotate(winners[0].token, T0)


async def test_an_expired_token_is_refused_but_rotation_slides_the_expiry(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    rotated = await sessions.rotate(started.token, T0 + timedelta(days=29))
    # 29 days after the rotation: still inside the 30 days the new token got.
    again = await sessions.rotate(rotated.token, T0 + timedelta(days=58))
    with pytest.raises(RefreshRefused) as refused:
        await sessions.rotate(again.token, T0 + timedelta(days=88, seconds=1))
    assert not isinstance(refused.value, RefreshTokenReused)


async def test_an_unknown_token_is_refused_without_revoking_anything(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    with pytest.raises(RefreshRefused) as refused:
        await sessions.rotate("made-up-token", T0)
    assert not isinstance(refused.value, RefreshTokenReused)
    assert (await sessions.rotate(started.token, T0)).user_id == "user-1"


async def test_logout_ends_the_session_and_unknown_tokens_are_ignored(sessions: RefreshSessions) -> None:
    started = await sessions.start("user-1", T0)
    await sessions.end("made-up-token", T0)
    await sessions.end(started.token, T0)
    with pytest.raises(RefreshRefused):
        await sessions.rotate(started.token, T0)
