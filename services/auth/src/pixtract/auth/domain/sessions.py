"""Refresh-token sessions: one family per login, rotated on every use; replaying a used token kills the family.

A family is one record holding the hash of its current token and of the tokens it
replaced. Rotation is a compare-and-set on the current hash, so two requests racing with
the same token cannot both win: the loser sees a used token and revokes the family,
which also revokes the token the winner just received.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from pixtract.auth.domain.tokens import new_opaque_token, secret_hash
from pixtract.common.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class RefreshFamily:
    id: str
    user_id: str
    current_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class RefreshFamilyStore(Protocol):
    async def insert(self, family: RefreshFamily) -> None: ...

    async def swap(self, old_hash: str, new_hash: str, *, now: datetime, expires_at: datetime) -> RefreshFamily | None:
        """Atomically: if a live family (not revoked, not expired at `now`) has `old_hash` as its current
        hash, make `new_hash` current, remember `old_hash` as used and return the family; else None."""
        ...

    async def find_by_used_hash(self, token_hash: str) -> RefreshFamily | None: ...

    async def revoke(self, family_id: str, now: datetime) -> None: ...

    async def revoke_by_hash(self, token_hash: str, now: datetime) -> None:
        """Revoke the family whose current or used hash this is; nothing if none."""
        ...

    async def delete_for_user(self, user_id: str) -> None: ...


class RefreshRefused(Exception):
    """Unknown, expired, revoked or already used: the client must log in again."""


class RefreshTokenReused(RefreshRefused):
    """A rotated token came back: it was stolen or the client is broken; the family is revoked."""


@dataclass(frozen=True)
class IssuedRefreshToken:
    user_id: str
    family_id: str
    token: str


@dataclass(frozen=True)
class RefreshSessions:
    store: RefreshFamilyStore
    ttl: timedelta

    async def start(self, user_id: str, now: datetime) -> IssuedRefreshToken:
        token = new_opaque_token()
        family = RefreshFamily(
            id=uuid.uuid4().hex,
            user_id=user_id,
            current_hash=secret_hash(token),
            created_at=now,
            expires_at=now + self.ttl,
        )
        await self.store.insert(family)
        return IssuedRefreshToken(user_id, family.id, token)

    async def rotate(self, presented: str, now: datetime) -> IssuedRefreshToken:
        presented_hash = secret_hash(presented)
        token = new_opaque_token()
        family = await self.store.swap(presented_hash, secret_hash(token), now=now, expires_at=now + self.ttl)
        if family is not None:
            return IssuedRefreshToken(family.user_id, family.id, token)
        reused = await self.store.find_by_used_hash(presented_hash)
        if reused is None:
            raise RefreshRefused("unknown, expired or revoked refresh token")
        await self.store.revoke(reused.id, now)
        log.warning(
            "security: refresh token reused; session family revoked",
            security_event="refresh_token_reuse",
            user_id=reused.user_id,
            family_id=reused.id,
            already_revoked=reused.revoked_at is not None,
        )
        raise RefreshTokenReused("refresh token already used")

    async def end(self, presented: str, now: datetime) -> None:
        await self.store.revoke_by_hash(secret_hash(presented), now)
